"""Live progress: rendered to a captured terminal of fixed width (never the real one), counted from the client's
own counters, and published as the flow runs' progress artifacts."""

from __future__ import annotations

import io
import re

from rich.console import Console

from pipelines.progress import ExtractProgress, TerminalView, terminal_wanted
from pipelines.reconcile import run_reconcile
from pipelines.reconcile_flow import reconcile
from simulator.faults import Faults
from tests.reconcile.helpers import make_client


def _terminal() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=160, force_terminal=True), out


def _plain(out: io.StringIO) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())


def test_reconcile_progress_counts_requests_rows_retries_and_throttling(igi_engine, make_simulator, sim_org):
    server = make_simulator(sim_org, faults=Faults(burst_every=15, burst_length=1, burst_status=503))
    client = make_client(server, page_size=30)
    console, out = _terminal()
    progress = ExtractProgress([TerminalView(console)])
    try:
        summary = run_reconcile(igi_engine, client, progress=progress)
    finally:
        progress.close()
        client.close()

    assert summary.status == "succeeded"
    lines = progress.lines
    assert list(lines) == list(summary.stats)
    users = len(sim_org.users())
    # pages of 30 overlapping by one record: 1 + ceil((users - 30) / 29), all foreseen from the first page's total
    assert lines["users"].expected == lines["users"].done == 1 + -(-(users - 30) // 29)
    assert lines["group_members"].done >= len(sim_org.groups())
    for name, line in lines.items():
        assert line.finished and line.done == line.expected and line.rows == summary.stats[name].scanned, name
    assert sum(line.retries for line in lines.values()) == client.stats.retries > 0
    assert sum(line.throttled for line in lines.values()) == client.stats.throttled > 0
    text = _plain(out)
    expected = lines["users"].expected
    assert re.search(rf"users\s.*{expected}/{expected}\s+requests {users} rows, \d+ retries, \d+ throttled", text)
    assert "secret_permissions" in text


def test_progress_shows_only_on_a_terminal_and_never_with_quiet():
    assert terminal_wanted(False, Console(file=io.StringIO(), width=120, force_terminal=True))
    assert not terminal_wanted(True, Console(file=io.StringIO(), width=120, force_terminal=True))
    assert not terminal_wanted(False, Console(file=io.StringIO(), width=120))


def test_the_reconcile_flow_publishes_a_progress_artifact(prefect_harness, ops_env, sim_org):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    state = reconcile(entities=["users", "groups"], return_state=True)
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=["reconcile-progress"]),
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])))
    assert artifact.type == "progress" and float(artifact.data) == 100.0  # type: ignore[arg-type]
    assert f"users 1/1 requests, {len(sim_org.users())} rows" in str(artifact.description)
    assert f"groups 1/1 requests, {len(sim_org.groups())} rows" in str(artifact.description)
