"""Provisioning progress, rendered to a captured terminal of fixed width."""

from __future__ import annotations

import io
import re

from rich.console import Console

from connectors.igi.request_models import Operation
from pipelines.progress import ProvisionProgress, TerminalView


def test_provision_progress_counts_outcomes(world, enqueue, provision):
    enqueue(Operation.ACCOUNT_DISABLE, "alice")
    enqueue(Operation.ACCOUNT_DISABLE, "nobody")
    out = io.StringIO()
    console = Console(file=out, width=160, force_terminal=True)
    progress = ProvisionProgress([TerminalView(console, provisioning=True)])
    progress.started(2)
    provision(progress=progress)
    progress.finish()
    line = progress.lines["requests"]
    assert (line.done, line.rows, line.failed, line.retries) == (2, 1, 1, 0)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out.getvalue())
    assert re.search(r"requests\s.*2/2\s+1 ok, 1 failed, 0 retried", plain)
