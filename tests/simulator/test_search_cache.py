"""The simulator's search cache keeps the long lists a client is paging through, whatever else it is asked."""

from __future__ import annotations

from simulator.paging import SearchCache


def test_per_object_lists_never_evict_a_long_list_being_paged() -> None:
    cache = SearchCache(entries=4)
    long_list = list(range(5000))
    cache.put(("secrets",), 1, long_list, take=1000)
    for secret_id in range(100):  # a fan-out interleaved with the pages: one short list per secret
        cache.put(("secret_permissions", secret_id), 1, [secret_id], take=1000)
        assert cache.get(("secret_permissions", secret_id), 1) is None  # rebuilt on demand, never kept
    assert cache.get(("secrets",), 1) is long_list


def test_a_new_version_of_the_organization_invalidates_and_long_lists_evict_the_oldest() -> None:
    cache = SearchCache(entries=2)
    cache.put(("users",), 1, list(range(30)), take=10)
    assert cache.get(("users",), 2) is None  # the data changed since
    cache.put(("a",), 2, list(range(30)), take=10)
    cache.put(("b",), 2, list(range(30)), take=10)
    cache.put(("c",), 2, list(range(30)), take=10)
    assert cache.get(("a",), 2) is None and cache.get(("c",), 2) is not None
