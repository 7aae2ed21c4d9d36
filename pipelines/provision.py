"""Provisioning: IGI's pending requests (``igi.event_out``) executed on Secret Server, outcomes written back.

`run_provisioning` is the worker: claim a batch, execute each request (pipelines/executors.py), write the
outcome back (and staging, in the same transaction), repeat until nothing is due. It takes its engine, client
and password box as arguments, so tests run several workers in threads or processes. The Prefect flow
`provision` wires settings into it, runs ``workers`` of them side by side, and publishes a table artifact.

Failure classes: 429, 5xx, network and authentication trouble are transient (back to pending, exponential
backoff, the attempt count grows; state 3 after ``max_attempts``); 4xx answers, unknown accounts or objects
and refusals are permanent (state 3 with the ``errorCode`` and message in the trace).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import requests
from prefect import flow, get_run_logger
from sqlalchemy.engine import Engine

from connectors.igi import queue
from connectors.igi.queue import Operation, ProvisioningRequest
from connectors.secret_server import ApiError, AuthenticationError, SecretServerClient, TransientError
from pipelines.executors import Executor, LostClaim, Outcome, PermanentFailure
from pipelines.passwords import PasswordBox, PasswordError

log = logging.getLogger("ss_igi.provision")

MAX_TRACE = 2000


@dataclass
class ProvisionOptions:
    batch_size: int = 50
    lease_seconds: float = 300.0
    max_attempts: int = 5
    backoff_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    max_batches: int | None = None  # None: until nothing is due


@dataclass
class RequestResult:
    event_id: int
    operation: str
    code: str
    result: str  # succeeded, failed, retried, lost
    trace: str


@dataclass
class ProvisionSummary:
    """What one or more workers did: processed = succeeded + failed + retried (lost claims aside)."""

    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    lost: int = 0
    batches: int = 0
    seconds: float = 0.0
    by_operation: Counter[str] = field(default_factory=Counter)
    results: list[RequestResult] = field(default_factory=list)

    @property
    def processed(self) -> int:
        return self.succeeded + self.failed + self.retried

    def merge(self, other: ProvisionSummary) -> None:
        self.succeeded += other.succeeded
        self.failed += other.failed
        self.retried += other.retried
        self.lost += other.lost
        self.batches += other.batches
        self.seconds = max(self.seconds, other.seconds)
        self.by_operation.update(other.by_operation)
        self.results.extend(other.results)

    def as_dict(self) -> dict[str, Any]:
        return {"processed": self.processed, "succeeded": self.succeeded, "failed": self.failed,
                "retried": self.retried, "lost_claims": self.lost, "batches": self.batches,
                "seconds": round(self.seconds, 3)}


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def classify(exc: BaseException) -> tuple[bool, str, str]:
    """(transient?, ERC status, trace) for an exception; the text of connector errors is already redacted."""
    if isinstance(exc, PermanentFailure):
        return False, exc.erc_status, exc.trace
    if isinstance(exc, PasswordError):
        return False, "PasswordError", str(exc)
    if isinstance(exc, ApiError):
        code = exc.error_code or f"HTTP{exc.status}"
        text = f"{code}: {exc.message or exc}"
        return (exc.status == 429 or exc.status >= 500), code, text
    if isinstance(exc, TransientError):
        return True, "Transient", str(exc)
    if isinstance(exc, AuthenticationError):
        return True, "AuthenticationFailed", str(exc)
    if isinstance(exc, requests.RequestException | ConnectionError | TimeoutError):
        return True, "NetworkError", type(exc).__name__
    # A bug or an unforeseen answer: retried (bounded by max_attempts) rather than lost. No str(exc):
    # an unknown exception's text is not known to be free of secrets.
    return True, "InternalError", f"internal error ({type(exc).__name__})"


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * random.uniform(0.8, 1.2)


def run_provisioning(
    engine: Engine,
    client: SecretServerClient,
    passwords: PasswordBox,
    options: ProvisionOptions | None = None,
    *,
    worker_id: str | None = None,
    stop: threading.Event | None = None,
) -> ProvisionSummary:
    """One worker: claim and execute batches until none is due (or ``max_batches``, or ``stop`` is set)."""
    opts = options or ProvisionOptions()
    worker = worker_id or default_worker_id()
    executor = Executor(client, engine, passwords, worker)
    summary = ProvisionSummary()
    started = time.monotonic()
    while (opts.max_batches is None or summary.batches < opts.max_batches) and not (stop and stop.is_set()):
        batch = queue.claim_pending_requests(engine, worker, opts.batch_size, opts.lease_seconds)
        if not batch:
            break
        summary.batches += 1
        # Stop starting requests well before the lease ends, so a slow batch never overlaps a takeover.
        deadline = time.monotonic() + opts.lease_seconds * 0.8
        for index, request in enumerate(batch):
            if time.monotonic() > deadline or (stop and stop.is_set()):
                with engine.begin() as conn:
                    for rest in batch[index:]:
                        queue.release_request(conn, rest.event_id, worker)
                break
            _process(engine, executor, request, worker, opts, summary)
    summary.seconds = time.monotonic() - started
    return summary


def _process(engine: Engine, executor: Executor, request: ProvisioningRequest, worker: str,
             opts: ProvisionOptions, summary: ProvisionSummary) -> None:
    op = request.operation.name
    outcome: Outcome | None = None
    transient, erc, trace = False, "Success", ""
    if request.attempts > opts.max_attempts:
        # Earlier workers claimed it and never reported (crashed, killed): don't loop on it forever.
        erc, trace = "MaxAttempts", f"gave up after {request.attempts - 1} attempts without an outcome"
    else:
        try:
            outcome = executor.execute(request)
            trace = outcome.trace
        except LostClaim:
            summary.lost += 1
            summary.results.append(RequestResult(request.event_id, op, request.code, "lost", "claim lost"))
            return
        except Exception as exc:
            transient, erc, trace = classify(exc)
            if erc == "InternalError":
                log.warning("request %s (%s): %s", request.event_id, op, trace, exc_info=True)
    trace = trace[:MAX_TRACE]
    if outcome is None and transient and request.attempts >= opts.max_attempts:
        transient, trace = False, f"gave up after {request.attempts} attempts: {trace}"[:MAX_TRACE]
    result = "succeeded" if outcome is not None else ("retried" if transient else "failed")
    with engine.begin() as conn:
        if outcome is not None:
            held = queue.complete_request(conn, request.event_id, worker, trace)
            if held and outcome.staging is not None:
                try:
                    with conn.begin_nested():
                        outcome.staging(conn)
                except Exception as exc:  # staging is a mirror: never lose the outcome over it
                    log.warning("request %s: staging not updated (%s)", request.event_id, type(exc).__name__,
                                exc_info=True)
        elif transient:
            delay = backoff_delay(request.attempts, opts.backoff_seconds, opts.backoff_cap_seconds)
            held = queue.retry_request(conn, request.event_id, worker, trace, erc, delay)
        else:
            held = queue.fail_request(conn, request.event_id, worker, trace, erc)
    if not held:
        summary.lost += 1
        summary.results.append(RequestResult(request.event_id, op, request.code, "lost", "claim lost"))
        return
    setattr(summary, result, getattr(summary, result) + 1)
    summary.by_operation[f"{op}:{result}"] += 1
    summary.results.append(RequestResult(request.event_id, op, request.code, result, trace))
    log.info("request %s %s %s: %s (%s)", request.event_id, op, request.code, result, trace)


def run_workers(engine: Engine, make_client: Any, passwords: PasswordBox, options: ProvisionOptions,
                workers: int) -> ProvisionSummary:
    """``workers`` workers in threads, each with its own client (``make_client()``), summaries merged."""
    total = ProvisionSummary()

    def one(_: int) -> ProvisionSummary:
        client = make_client()
        try:
            return run_provisioning(engine, client, passwords, options)
        finally:
            client.close()

    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="provision") as pool:
        for part in pool.map(one, range(max(1, workers))):
            total.merge(part)
    return total


@flow(name="provision", log_prints=False)
def provision(
    batch_size: int | None = None,
    lease_seconds: float | None = None,
    max_attempts: int | None = None,
    workers: int = 1,
    max_batches: int | None = None,
) -> dict[str, Any]:
    """Execute IGI's pending provisioning requests on Secret Server; parameters default to the settings
    (SS_IGI_PROVISION_*). Returns the summary: processed, succeeded, failed, retried."""
    from pipelines.database import open_database
    from pipelines.secret_server import open_secret_server
    from pipelines.settings import Settings

    settings = Settings()
    options = ProvisionOptions(
        batch_size=batch_size or settings.ss_igi_provision_batch_size,
        lease_seconds=lease_seconds or settings.ss_igi_provision_lease_seconds,
        max_attempts=max_attempts or settings.ss_igi_provision_max_attempts,
        backoff_seconds=settings.ss_igi_provision_backoff_seconds,
        max_batches=max_batches,
    )
    engine = open_database(settings)
    try:
        summary = run_workers(engine, lambda: open_secret_server(settings), PasswordBox.from_settings(settings),
                              options, workers)
    finally:
        engine.dispose()
    publish_artifact(summary)
    get_run_logger().info("provision: %s", summary.as_dict())
    return summary.as_dict()


def publish_artifact(summary: ProvisionSummary) -> None:
    """A Prefect table artifact: one row per request outcome (capped), totals in the description."""
    from prefect.artifacts import create_table_artifact

    rows = [{"event_id": r.event_id, "operation": r.operation, "code": r.code, "result": r.result,
             "trace": r.trace} for r in sorted(summary.results, key=lambda r: r.event_id)[:1000]]
    totals = summary.as_dict()
    create_table_artifact(
        key="provision-summary",
        table=rows or [{"event_id": None, "operation": None, "code": None, "result": "nothing due", "trace": ""}],
        description=(f"processed {totals['processed']}: succeeded {totals['succeeded']}, failed {totals['failed']}, "
                     f"retried {totals['retried']}"),
    )


__all__ = [
    "Operation",
    "ProvisionOptions",
    "ProvisionSummary",
    "classify",
    "provision",
    "run_provisioning",
    "run_workers",
]
