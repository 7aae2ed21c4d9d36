"""The floors: what this machine allows at best, measured on the same data in the same run.

- `floor_http`: the minimum request plan fetched by a bare fetcher: the same number of threads as the client,
  one keep-alive `http.client` connection per thread, one token, no work on an answer beyond ``json.loads``,
  and every id known up front (so no waiting on a list before its per-object calls).
- `floor_copy`: the staging rows, already encoded in PostgreSQL's binary COPY format, streamed into empty
  tables with no index, key or constraint, committed: the database's ingest floor. ``from_tuples_s`` separately
  times encoding the same rows from Python tuples (psycopg ``write_row``), the least a Python loader pays.
"""

from __future__ import annotations

import http.client
import io
import json
import threading
import time
from typing import Any
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from connectors.igi.entities import ENTITIES, PG_TYPES, SQL_TYPES


def _login(host: str, port: int, prefix: str) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=30)
    body = urlencode({"grant_type": "password", "username": "admin", "password": "admin"})
    conn.request("POST", prefix + "/oauth2/token", body, {"Content-Type": "application/x-www-form-urlencoded"})
    answer = conn.getresponse()
    token = json.loads(answer.read())["access_token"]
    conn.close()
    return str(token)


def floor_http(base_url: str, plan: list[tuple[str, list[tuple[str, Any]]]], threads: int) -> dict[str, Any]:
    """Fetch every request of ``plan`` on ``threads`` keep-alive connections; the login is counted and timed."""
    parts = urlsplit(base_url)
    host, port, prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path.rstrip("/")
    urls = [f"{prefix}/api/v1{path}?{urlencode(query)}" for path, query in plan]
    lock = threading.Lock()
    position = 0
    records = 0
    errors: list[str] = []

    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {_login(host, port, prefix)}", "Accept": "application/json"}

    def worker() -> None:
        nonlocal position, records
        conn = http.client.HTTPConnection(host, port, timeout=60)
        mine = 0
        try:
            while True:
                with lock:
                    if position >= len(urls):
                        break
                    url = urls[position]
                    position += 1
                conn.request("GET", url, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                if answer.status != 200:
                    with lock:
                        errors.append(f"{answer.status} {url}")
                    continue
                mine += len(json.loads(data)["records"])
        finally:
            conn.close()
            with lock:
                records += mine

    pool = [threading.Thread(target=worker, name=f"floor-http-{i}") for i in range(max(1, threads))]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"floor_http: {len(errors)} failed requests, e.g. {errors[:3]}")
    return {"wall_s": wall, "requests": len(urls) + 1, "records": records, "threads": threads,
            "rps": (len(urls) + 1) / wall}


# ---------------------------------------------------------------------------------------------- COPY
def export_rows(engine: Engine) -> dict[str, tuple[bytes, list[tuple[Any, ...]]]]:
    """Per entity, the current staging rows (contract columns): as binary COPY data and as Python tuples."""
    out: dict[str, tuple[bytes, list[tuple[Any, ...]]]] = {}
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        for entity in ENTITIES.values():
            select = f"SELECT {', '.join(entity.column_names)} FROM ss_staging.{entity.name} WHERE deleted_at IS NULL"
            buffer = io.BytesIO()
            with cur.copy(f"COPY ({select}) TO STDOUT (FORMAT BINARY)") as copy:
                for chunk in copy:
                    buffer.write(chunk)
            cur.execute(select)
            out[entity.name] = (buffer.getvalue(), cur.fetchall())
        conn.commit()
    finally:
        conn.close()
    return out


def _create_floor_tables(cur: Any, schema: str) -> None:
    cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    cur.execute(f"CREATE SCHEMA {schema}")
    for entity in ENTITIES.values():
        columns = ", ".join(f"{c.name} {SQL_TYPES[c.kind]}" for c in entity.columns)
        cur.execute(f"CREATE TABLE {schema}.{entity.name} ({columns})")


def floor_copy(engine: Engine, rows: dict[str, tuple[bytes, list[tuple[Any, ...]]]],
               schema: str = "bench_floor") -> dict[str, Any]:
    """COPY the pre-encoded rows into fresh empty unindexed tables in one transaction (timed: COPY + commit);
    then, untimed for the floor, how long encoding the same rows from tuples takes (``from_tuples_s``)."""
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        _create_floor_tables(cur, schema)
        conn.commit()
        started = time.perf_counter()
        total = 0
        for name, (data, tuples) in rows.items():
            view = memoryview(data)
            with cur.copy(f"COPY {schema}.{name} FROM STDIN (FORMAT BINARY)") as copy:
                for i in range(0, len(view), 1 << 20):
                    copy.write(view[i:i + (1 << 20)])
            total += len(tuples)
        conn.commit()
        wall = time.perf_counter() - started

        _create_floor_tables(cur, schema)
        conn.commit()
        started = time.perf_counter()
        for name, (_, tuples) in rows.items():
            entity = ENTITIES[name]
            with cur.copy(f"COPY {schema}.{name} FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types([PG_TYPES[c.kind] for c in entity.columns])
                for row in tuples:
                    copy.write_row(row)
        conn.commit()
        encoded = time.perf_counter() - started
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
        conn.commit()
    finally:
        conn.close()
    return {"wall_s": wall, "rows": total, "bytes": sum(len(d) for d, _ in rows.values()),
            "from_tuples_s": encoded}


def table_writes(engine: Engine) -> dict[str, int]:
    """Rows inserted + updated + deleted so far in ss_staging (the run record table aside) and igi.event_target."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(sa.text(
            "SELECT schemaname || '.' || relname, n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
            "WHERE (schemaname = 'ss_staging' AND relname <> 'reconciliation_runs') "
            "   OR (schemaname = 'igi' AND relname = 'event_target')")).all()
    return {name: int(n) for name, n in rows}
