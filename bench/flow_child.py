"""One reconciliation in a process of its own (so its peak RSS is the flow's alone); prints one JSON line.

    python -m bench.flow_child --base-url URL --database-url URL [--workers 8] [--page-size 1000] [--profile F]

It does what the Prefect flow does minus Prefect: an engine with the migrations checked, a Secret Server client,
`run_reconcile`. The phases are timed by wrapping the reconcile module's own steps (`extract_entity`,
`extract_all`, `load_run`, and the stages of the load), not by re-implementing them.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import defaultdict
from typing import Any


def main(argv: list[str] | None = None) -> int:
    """Run one reconciliation as the options say and print its timings, counts and peak RSS as one JSON line."""
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--profile", default=None, help="write a cProfile of the run (main thread) here")
    parser.add_argument("--sql-timing", action="store_true", help="report the slowest SQL statements")
    args = parser.parse_args(argv)

    import connectors.igi.staging as staging
    import pipelines.reconcile as reconcile
    from connectors.igi import create_engine, upgrade
    from connectors.secret_server import SecretServerClient

    phases: dict[str, float] = defaultdict(float)
    per_entity: dict[str, float] = defaultdict(float)

    def timed(name: str, fn: Any, entity_arg: int | None = None) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                dt = time.perf_counter() - t0
                phases[name] += dt
                if entity_arg is not None:
                    per_entity[str(a[entity_arg])] += dt
        return wrapper

    import connectors.igi.events as events

    reconcile.extract_all = timed("extract_all", reconcile.extract_all)
    reconcile.load_run = timed("load", reconcile.load_run)
    # the load's stages (connectors/igi/staging.py): COPY, diff, merge, change log, events, ANALYZE after commit
    staging._stage_incoming = timed("load_copy", staging._stage_incoming)
    staging._diff = timed("load_diff", staging._diff)
    staging._merge = timed("load_merge", staging._merge)
    staging._log_changes = timed("load_change_log", staging._log_changes)
    events.mark_affected_users = timed("load_events", events.mark_affected_users)
    events.count_known = timed("load_events", events.count_known)
    events.snapshot_permissions = timed("load_events", events.snapshot_permissions)
    events.write_events = timed("load_events", events.write_events)
    staging._analyze_changed_tables = timed("load_analyze", staging._analyze_changed_tables)
    extract = timed("extract_calls", reconcile.extract_entity, entity_arg=1)

    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    t0 = time.perf_counter()
    engine = create_engine(args.database_url)
    statements: list[tuple[float, str]] = []
    if args.sql_timing:
        _time_statements(engine, statements)
    upgrade(engine)
    client = SecretServerClient(args.base_url, "admin", "admin", max_workers=args.workers, page_size=args.page_size)
    t_run = time.perf_counter()
    try:
        summary = reconcile.run_reconcile(engine, client, extract=extract)
    finally:
        client.close()
        engine.dispose()
    wall = time.perf_counter() - t0
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.profile)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {
        "wall_s": wall,
        "run_s": wall - (t_run - t0),
        "setup_s": t_run - t0,
        "extract_s": phases["extract_all"],
        "extract_calls_s": phases["extract_calls"],
        "extract_by_entity_s": dict(per_entity),
        "load_s": phases["load"],
        "load_copy_s": phases["load_copy"],
        "load_stages_s": {name: phases[f"load_{name}"] for name in
                          ("copy", "diff", "merge", "change_log", "events", "analyze")},
        "requests": client.stats.requests,
        "client_stats": client.stats.as_dict(),
        "run_id": summary.run_id,
        "status": summary.status,
        "ok": summary.ok,
        "reason": summary.reason(),
        "stats": {name: s.as_dict() for name, s in summary.stats.items()},
        "events": dict(summary.events),
        "peak_rss_mb": peak_kb / 1024.0,
    }
    if args.sql_timing:
        out["slowest_sql"] = [{"s": round(t, 3), "sql": " ".join(sql.split())[:300]}
                              for t, sql in sorted(statements, reverse=True)[:15]]
    sys.stdout.write(json.dumps(out) + "\n")
    return 0


def _time_statements(engine: Any, into: list[tuple[float, str]]) -> None:
    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        conn.info.setdefault("bench_t0", []).append(time.perf_counter())

    @event.listens_for(engine, "after_cursor_execute")
    def after(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        into.append((time.perf_counter() - conn.info["bench_t0"].pop(), statement))


if __name__ == "__main__":
    raise SystemExit(main())
