"""The paging algorithm on its own, against an in-memory search endpoint that changes between pages.

These tests run thousands of random histories in milliseconds; the HTTP tests in
`test_client_simulator.py` prove the same properties end to end against the simulator.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from connectors.secret_server.errors import PagingError
from connectors.secret_server.paging import iter_search
from connectors.secret_server.stats import ClientStats


class FakeSearch:
    """Offset paging over a mutable id -> record map, sorted by id when asked; may cap `take`."""

    def __init__(self, ids: list[int], *, cap: int | None = None, honour_sort: bool = True) -> None:
        self.rows: dict[int, dict[str, Any]] = {i: {"id": i, "v": 0} for i in ids}
        self.cap = cap
        self.honour_sort = honour_sort
        self.calls: list[dict[str, Any]] = []
        self.before_call: Callable[[FakeSearch, int], None] | None = None

    def __call__(self, path: str, params: list[tuple[str, Any]]) -> dict[str, Any]:
        if self.before_call is not None:
            self.before_call(self, len(self.calls))
        q = dict(params)
        self.calls.append(q)
        skip, take = int(q["skip"]), int(q["take"])
        if self.cap:
            take = min(take, self.cap)
        rows = sorted(self.rows.values(), key=lambda r: r["id"]) if self.honour_sort else list(self.rows.values())
        page = rows[skip : skip + take]
        return {"records": [dict(r) for r in page], "total": len(rows), "skip": skip, "take": take,
                "hasNext": skip + take < len(rows), "nextSkip": skip + take}


def collect(fake: FakeSearch, page_size: int = 10, stats: ClientStats | None = None) -> list[int]:
    return [r["id"] for r in iter_search(fake, "/users", page_size=page_size, stats=stats)]


def test_reads_every_record_once_in_id_order_when_nothing_changes():
    fake = FakeSearch(list(range(1, 96)))
    assert collect(fake) == list(range(1, 96))
    assert fake.calls[0]["sortBy[0].name"] == "id" and fake.calls[0]["sortBy[0].direction"] == "Asc"


def test_server_capping_take_is_followed_by_what_it_actually_returned():
    fake = FakeSearch(list(range(1, 96)), cap=7)
    assert collect(fake, page_size=1000) == list(range(1, 96))
    assert all(int(c["take"]) == 1000 for c in fake.calls)


def test_empty_and_single_page_results():
    assert collect(FakeSearch([])) == []
    assert collect(FakeSearch([5])) == [5]
    assert collect(FakeSearch([3, 1, 2], honour_sort=False)) == [3, 1, 2]  # one page: any order is fine


def test_deletion_before_the_cursor_does_not_lose_the_record_that_slid_back():
    fake = FakeSearch(list(range(1, 31)))

    def delete_early(f: FakeSearch, call: int) -> None:
        if call == 1:
            f.rows.pop(2)  # everything after id 2 moves one place left

    fake.before_call = delete_early
    stats = ClientStats()
    got = collect(fake, stats=stats)
    assert got == list(range(1, 31))  # id 2 was on the first page, before it went away
    assert stats.page_recoveries >= 1


def test_delete_before_and_insert_after_with_unchanged_total_is_still_detected():
    fake = FakeSearch(list(range(1, 31)))

    def churn(f: FakeSearch, call: int) -> None:
        if call == 1:
            f.rows.pop(3)
            f.rows[1000] = {"id": 1000, "v": 0}

    fake.before_call = churn
    stats = ClientStats()
    got = collect(fake, stats=stats)
    assert set(range(4, 31)) <= set(got) and 1000 in got
    assert len(got) == len(set(got)) and got == sorted(got)
    assert stats.page_recoveries >= 1


def test_insertion_before_the_cursor_repeats_nothing():
    fake = FakeSearch(list(range(10, 40)))

    def insert_early(f: FakeSearch, call: int) -> None:
        if call == 1:
            for i in (1, 2, 3):
                f.rows[i] = {"id": i, "v": 0}

    fake.before_call = insert_early
    got = collect(fake)
    assert got == list(range(10, 40))


@pytest.mark.parametrize("seed", range(300))
def test_random_churn_yields_exactly_the_records_that_lived_throughout(seed: int):
    rng = random.Random(seed)
    initial = rng.sample(range(1, 400), rng.randint(0, 120))
    fake = FakeSearch(initial, cap=rng.choice([None, 3, 5, 8]))
    next_id = [400]
    touched: set[int] = set()

    def mutate(f: FakeSearch, call: int) -> None:
        for _ in range(rng.randint(0, 4)):
            action = rng.random()
            if action < 0.4 and f.rows:
                victim = rng.choice(list(f.rows))
                f.rows.pop(victim)
                touched.add(victim)
            elif action < 0.6:
                new = rng.randint(1, 399)  # may land before the cursor
                if new not in f.rows:
                    f.rows[new] = {"id": new, "v": 0}
                    touched.add(new)
            elif action < 0.8:
                next_id[0] += 1
                f.rows[next_id[0]] = {"id": next_id[0], "v": 0}
                touched.add(next_id[0])
            elif f.rows:
                f.rows[rng.choice(list(f.rows))]["v"] += 1

    fake.before_call = mutate
    got = collect(fake, page_size=rng.choice([4, 10, 25]))
    survivors = set(fake.rows) - touched
    stable = {i for i in initial if i not in touched}
    assert stable <= set(got), "a record that existed throughout was missed"
    assert len(got) == len(set(got)), "a record was yielded twice"
    assert got == sorted(got)
    assert set(got) <= set(initial) | touched
    assert stable <= survivors  # (sanity of the test itself)


def test_server_ignoring_the_sort_over_several_pages_is_a_clear_error():
    fake = FakeSearch(list(range(30, 0, -1)), honour_sort=False)
    with pytest.raises(PagingError, match="not sorted"):
        collect(fake)


def test_answer_without_records_is_a_clear_error():
    with pytest.raises(PagingError, match="records"):
        list(iter_search(lambda p, q: {"message": "x"}, "/users"))
