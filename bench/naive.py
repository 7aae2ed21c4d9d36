"""A naive pipeline, for contrast only: what a first script would do. Not how ss-igi works.

One request after another on one `requests` session (keep-alive, at least), the same calls as the minimum plan
(lists, then members / permissions per object), `pandas.json_normalize` and `DataFrame.to_sql` into tables of a
scratch schema, replaced each time: no diff, no change log, no events, no validation.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import requests
from sqlalchemy.engine import Engine

SCHEMA = "bench_naive"


def _all(session: requests.Session, url: str, params: dict[str, Any], take: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    skip = 0
    while True:
        page = session.get(url, params={**params, "skip": skip, "take": take}, timeout=60).json()
        out += page["records"]
        if not page.get("hasNext"):
            return out
        skip += len(page["records"])


def naive_pipeline(base_url: str, engine: Engine, take: int = 1000) -> dict[str, Any]:
    """Fetch every entity one call after another and write it with ``to_sql``; wall, extract and load times."""
    started = time.perf_counter()
    session = requests.Session()
    token = session.post(f"{base_url}/oauth2/token",
                         data={"grant_type": "password", "username": "admin", "password": "admin"}).json()
    session.headers["Authorization"] = f"Bearer {token['access_token']}"
    api = f"{base_url}/api/v1"
    frames: dict[str, list[dict[str, Any]]] = {}
    frames["users"] = _all(session, f"{api}/users", {"filter.includeInactive": "true"}, take)
    frames["groups"] = _all(session, f"{api}/groups", {"filter.includeInactive": "true"}, take)
    frames["group_members"] = [m for g in frames["groups"] for m in _all(
        session, f"{api}/groups/{g['id']}/users", {"filter.includeInactiveUsersForGroup": "true"}, take)]
    frames["folders"] = _all(session, f"{api}/folders", {}, take)
    frames["folder_permissions"] = [p for f in frames["folders"] if not f["inheritPermissions"] for p in _all(
        session, f"{api}/folder-permissions", {"filter.folderId": f["id"]}, take)]
    frames["secrets"] = _all(session, f"{api}/secrets",
                             {"filter.includeInactive": "true", "filter.includeRestricted": "true"}, take)
    frames["secret_permissions"] = [p for s in frames["secrets"] if not s["inheritsPermissions"] for p in _all(
        session, f"{api}/secret-permissions", {"filter.secretId": s["id"]}, take)]
    session.close()
    extracted = time.perf_counter() - started
    rows = 0
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for name, records in frames.items():
        frame = pd.json_normalize(records)
        frame = frame[[c for c in frame.columns if not c.startswith("extendedFields")]]
        frame.to_sql(name, engine, schema=SCHEMA, if_exists="replace", index=False)
        rows += len(frame)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "extract_s": extracted, "load_s": wall - extracted, "rows": rows}
