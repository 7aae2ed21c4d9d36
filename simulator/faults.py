"""Fault injection for the simulator: what proxies, load balancers and Secret Server itself do.

All faults are off by default and apply to `/api/v1/...` calls only (the token endpoint and the
health check stay clean, except `token_ttl_s`/`token_expire_after_calls`, which shape tokens).
Given the same `seed` and the same sequence of calls, the same calls fail.

Options (also accepted by `Faults.parse` and the CLI's `--faults`, comma-separated `name=value`):

- `latency_ms`: added to every API call.
- `slow_rate`, `slow_ms`: fraction of API calls that take `slow_ms` longer (before they are served: a
  slow server, a long garbage collection, a saturated database).
- `rate_429`, `retry_after_s`: fraction of API calls answered 429 with `Retry-After`.
- `burst_every`, `burst_length`, `burst_status`: the last `burst_length` calls of every
  `burst_every` API calls fail with `burst_status` (500 with Secret Server's error body; 502/503
  with a proxy's HTML page, 503 with `Retry-After`).
- `token_ttl_s`: tokens issued from now on expire after this many seconds (overrides the server's).
- `token_expire_after_calls`: a token stops working after this many API calls.
- `drop_connection_rate`: fraction of API calls whose connection is closed without an answer.
- `html_200_rate`: fraction of API calls answered 200 with an HTML page (a login or error page).
- `mutate_between_pages`: probability that, before answering a search page after the first
  (`skip > 0`), one record of the searched entity that lies before `skip` is deleted and a new
  one inserted, so that offset paging skips a record and sees a new one.
- `user_id_null`, `user_id_text`: the user search (`GET /users`) answers the record of the user with this
  id with `"id": null`, or with `"id": "x<id>"` (not an integer): a record a client must reject.
- `members_fail_group`: the member list of this group (`GET /groups/{id}/users`) fails every time (500).
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    """Which faults the server injects, and the deterministic draws that decide them."""

    latency_ms: float = 0.0
    slow_rate: float = 0.0
    slow_ms: float = 0.0
    rate_429: float = 0.0
    retry_after_s: int = 1
    burst_every: int = 0
    burst_length: int = 0
    burst_status: int = 503
    token_ttl_s: float | None = None
    token_expire_after_calls: int | None = None
    drop_connection_rate: float = 0.0
    html_200_rate: float = 0.0
    mutate_between_pages: float = 0.0
    user_id_null: int | None = None
    user_id_text: int | None = None
    members_fail_group: int | None = None
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _slow_rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False)
    _calls: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        if self.burst_status not in (500, 502, 503):
            raise ValueError("burst_status must be 500, 502 or 503")
        for name in ("rate_429", "drop_connection_rate", "html_200_rate", "mutate_between_pages", "slow_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        self._rng = random.Random(self.seed)
        self._slow_rng = random.Random(self.seed + 1)  # its own, so other faults fall where they always did
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, text: str | None) -> Faults:
        """`"latency_ms=5,rate_429=0.1,burst_every=50,burst_length=3,burst_status=502"` -> Faults."""
        kwargs: dict[str, object] = {}
        types = {f.name: f.type for f in dataclasses.fields(cls) if f.init}
        for part in (text or "").split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, raw = part.partition("=")
            name = name.strip()
            if not sep or name not in types:
                raise ValueError(f"unknown fault option {part!r}; known: {', '.join(types)}")
            kind = str(types[name])
            value: object
            value = int(raw) if kind.startswith("int") or "int |" in kind else float(raw)
            kwargs[name] = value
        return cls(**kwargs)  # type: ignore[arg-type]

    @property
    def active(self) -> bool:
        """Whether any per-call fault is on (token faults do not count)."""
        return any((self.latency_ms, self.slow_rate and self.slow_ms, self.rate_429,
                    self.burst_every and self.burst_length, self.drop_connection_rate, self.html_200_rate,
                    self.mutate_between_pages))

    def decide(self) -> Decision:
        """Draw the fault (if any) for the next API call, in a fixed order; a call drawn slow waits here."""
        with self._lock:
            self._calls += 1
            call = self._calls
            draws = [self._rng.random() for _ in range(4)]
            slow = self.slow_rate > 0 and self._slow_rng.random() < self.slow_rate
        if slow:
            time.sleep(self.slow_ms / 1000)
        if draws[0] < self.drop_connection_rate:
            return Decision(call, "drop")
        in_burst = self.burst_every and self.burst_length and \
            (call - 1) % self.burst_every >= self.burst_every - self.burst_length
        if in_burst:
            return Decision(call, "burst", self.burst_status)
        if draws[1] < self.rate_429:
            return Decision(call, "429", 429)
        if draws[2] < self.html_200_rate:
            return Decision(call, "html", 200)
        return Decision(call, None, mutate=draws[3] < self.mutate_between_pages)

    def fails_always(self, entity: str | None, params: Mapping[str, str]) -> bool:
        """True for a call that `members_fail_group` makes fail, every time."""
        return (self.members_fail_group is not None and entity == "group_members"
                and params.get("id") == str(self.members_fail_group))

    def spoil_ids(self, entity: str | None, payload: Any) -> Any:
        """The answer of a user search with the ids that `user_id_null` / `user_id_text` spoil."""
        if entity != "users" or (self.user_id_null is None and self.user_id_text is None) \
                or not isinstance(payload, dict):
            return payload
        spoiled = {k: v for k, v in ((self.user_id_null, None), (self.user_id_text, f"x{self.user_id_text}"))
                   if k is not None}
        records = [{**r, "id": spoiled[r["id"]]} if r.get("id") in spoiled else r for r in payload["records"]]
        return {**payload, "records": records}

    def mutation_rng(self) -> random.Random:
        """A deterministic RNG for the records that `mutate_between_pages` changes."""
        with self._lock:
            return random.Random(self._rng.getrandbits(64))


@dataclass(frozen=True)
class Decision:
    """The fault drawn for one API call."""

    call: int
    kind: str | None  # None, "drop", "burst", "429", "html"
    status: int = 200
    mutate: bool = False
