"""The paging algorithm with its following pages fetched concurrently (``prefetch``): the same guarantees as one
page after another (every record that lived throughout once, in order, none twice), the same request count when
nothing changes, and no fetch left behind when the caller stops early."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from connectors.secret_server.paging import iter_search
from connectors.secret_server.stats import ClientStats
from tests.connector.test_paging_logic import FakeSearch


class ConcurrentFake(FakeSearch):
    """`FakeSearch` safe to call from several threads, counting how many calls overlap."""

    def __init__(self, ids: list[int], **options: Any) -> None:
        super().__init__(ids, **options)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.max_in_flight = 0
        self.overlapped = threading.Event()  # set once two calls ran at the same time
        self.wait_for_overlap = False  # calls after the first wait (a little) for another one to start

    def __call__(self, path: str, params: list[tuple[str, Any]]) -> dict[str, Any]:
        with self.lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.in_flight > 1:
                self.overlapped.set()
        try:
            if self.wait_for_overlap and int(dict(params)["skip"]) > 0:
                self.overlapped.wait(timeout=5)
            with self.lock:
                return super().__call__(path, params)
        finally:
            with self.lock:
                self.in_flight -= 1


@pytest.fixture(scope="module")
def pool() -> Any:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def collect(fake: FakeSearch, pool: ThreadPoolExecutor, page_size: int = 10, window: int = 4,
            stats: ClientStats | None = None) -> list[int]:
    return [r["id"] for r in iter_search(fake, "/users", page_size=page_size, stats=stats, prefetch=pool.submit,
                                         window=window)]


def test_unchanged_data_is_read_once_with_the_sequential_request_count(pool: ThreadPoolExecutor) -> None:
    sequential = FakeSearch(list(range(1, 200)))
    expected = [r["id"] for r in iter_search(sequential, "/users", page_size=10)]
    fake = ConcurrentFake(list(range(1, 200)))
    fake.wait_for_overlap = True
    assert collect(fake, pool) == expected == list(range(1, 200))
    assert len(fake.calls) == len(sequential.calls)
    assert sorted(int(c["skip"]) for c in fake.calls) == sorted(int(c["skip"]) for c in sequential.calls)
    assert fake.max_in_flight > 1  # the following pages really were fetched side by side


def test_a_server_cap_on_take_is_followed(pool: ThreadPoolExecutor) -> None:
    fake = ConcurrentFake(list(range(1, 96)), cap=7)
    assert collect(fake, pool, page_size=1000) == list(range(1, 96))


def test_deletion_before_the_cursor_is_recovered(pool: ThreadPoolExecutor) -> None:
    fake = ConcurrentFake(list(range(1, 61)))

    def delete_early(f: FakeSearch, call: int) -> None:
        if call == 2:
            f.rows.pop(2)  # every later page slides one place left

    fake.before_call = delete_early
    stats = ClientStats()
    assert collect(fake, pool, stats=stats) == list(range(1, 61))
    assert stats.page_recoveries >= 1


def test_stopping_early_leaves_no_fetch_behind(pool: ThreadPoolExecutor) -> None:
    fake = ConcurrentFake(list(range(1, 1000)))
    walk = iter_search(fake, "/users", page_size=10, prefetch=pool.submit, window=3)
    assert [next(walk)["id"] for _ in range(15)] == list(range(1, 16))
    walk.close()
    pool.submit(lambda: None).result()  # let any fetch already running end
    assert len(fake.calls) <= 1 + 1 + 3  # the pages read, and at most one window ahead


@pytest.mark.parametrize("seed", range(200))
def test_random_churn_yields_exactly_the_records_that_lived_throughout(seed: int, pool: ThreadPoolExecutor) -> None:
    rng = random.Random(seed)
    initial = rng.sample(range(1, 400), rng.randint(0, 120))
    fake = ConcurrentFake(initial, cap=rng.choice([None, 3, 5, 8]))
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
    got = collect(fake, pool, page_size=rng.choice([4, 10, 25]), window=rng.choice([1, 2, 5]))
    stable = {i for i in initial if i not in touched}
    assert stable <= set(got), "a record that existed throughout was missed"
    assert len(got) == len(set(got)), "a record was yielded twice"
    assert got == sorted(got)
    assert set(got) <= set(initial) | touched
