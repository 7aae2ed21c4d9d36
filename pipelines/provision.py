"""Provisioning: IGI's pending requests (``igi.event_out``) executed on Secret Server, outcomes written back.

`run_provisioning` is the worker: claim a few requests, route each to the Secret Server instance its target names
(pipelines/routing.py; an unknown target fails alone, with the reason), validate it (a malformed row fails alone,
with the reason), execute it on that instance (pipelines/executors.py) while a heartbeat renews the claim
(pipelines/claims.py), write the outcome back (and that instance's staging rows, in the same transaction) only
while the claim is still held, and repeat until nothing is due and no other worker holds a request. It takes its
engine, clients and password box as arguments, so tests run several workers in threads or processes.
`provision_with_settings` wires settings into ``workers`` of them side by side, serving every configured instance
or the one named; the Prefect flow `provision` (pipelines/provision_flow.py) runs that and publishes a table
artifact. This module does not import Prefect, so the command line runs the workers without paying for it.

Failure classes: 429, 5xx and network trouble are transient (back to pending, exponential
backoff or the server's Retry-After, whichever is longer; state 3 after ``max_attempts``); 4xx answers, unknown
accounts or objects, refusals and malformed requests are permanent (state 3 with the ``errorCode``, message and
detail in the trace). A claim lost or no longer surely held is neither: the worker stops acting for the request
and it is not counted as an attempt. A refused login sets its instance aside for the rest of the run (the run
stops when no instance is left): the request goes back untouched.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.engine import Connection, Engine

from connectors.igi import provisioning_staging, queue
from connectors.igi.request_models import InvalidRequest, Operation, validate_request
from connectors.secret_server import ApiError, AuthenticationError, OutOfTime, SecretServerAccess, TransientError
from pipelines.claims import HeldClaims
from pipelines.executors import Executor
from pipelines.outcomes import LostClaim, Outcome, PermanentFailure, ProvisionSummary, RequestResult
from pipelines.passwords import PasswordBox, PasswordError
from pipelines.progress import ProvisionProgress
from pipelines.routing import Route, Routing
from pipelines.settings import Settings

log = logging.getLogger("ss_igi.provision")

MAX_TRACE = 2000


@dataclass
class ProvisionOptions:
    """How a worker claims, retries and gives up (defaults; the settings SS_IGI_PROVISION_* override them)."""

    batch_size: int = 50  # most requests claimed at once; fewer when other workers would otherwise sit idle
    lease_seconds: float = 300.0
    max_attempts: int = 5
    backoff_seconds: float = 30.0
    backoff_cap_seconds: float = 3600.0
    max_batches: int | None = None  # None: until nothing is due
    workers: int = 1  # workers sharing the queue (sizes each claim so that all of them get work)
    poll_seconds: float = 0.2  # wait between claims while other workers hold requests that may unblock more
    break_inheritance: bool = False  # grants may break inheritance even when the request does not ask


def default_worker_id() -> str:
    """A worker id unique across hosts and processes: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def classify(exc: BaseException) -> tuple[bool, str, str]:
    """(transient?, ERC status, trace) for an exception; the text of connector errors is already redacted."""
    if isinstance(exc, PermanentFailure):
        return False, exc.erc_status, exc.trace
    if isinstance(exc, PasswordError):
        return False, "PasswordError", str(exc)
    if isinstance(exc, ApiError):
        # What Secret Server said, message and detail, already redacted of passwords and tokens.
        code = exc.error_code or f"HTTP{exc.status}"
        text = f"{code}: {exc.message or exc}"
        if exc.message_detail and exc.message_detail != exc.message:
            text += f" ({exc.message_detail})"
        return (exc.status == 429 or exc.status >= 500), code, text
    if isinstance(exc, TransientError):
        return True, "Transient", str(exc)
    if isinstance(exc, ConnectionError | TimeoutError):
        return True, "NetworkError", type(exc).__name__
    # A bug or an unforeseen answer: retried (bounded by max_attempts) rather than lost. No str(exc):
    # an unknown exception's text is not known to be free of secrets.
    return True, "InternalError", f"internal error ({type(exc).__name__})"


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds before a transiently failed request is due again: exponential in ``attempts``, capped, jittered."""
    delay = min(cap, base * (2 ** max(0, attempts - 1)))
    return delay * random.uniform(0.8, 1.2)


def run_provisioning(
    engine: Engine,
    client: SecretServerAccess | Routing,
    passwords: PasswordBox,
    options: ProvisionOptions | None = None,
    *,
    worker_id: str | None = None,
    stop: threading.Event | None = None,
    progress: ProvisionProgress | None = None,
) -> ProvisionSummary:
    """One worker: claim and execute requests until none is due and no other worker holds any (or
    ``max_batches``, or ``stop`` is set, or no served instance is left). ``client``: the `Routing` of the
    instances it serves, or the client of a single default instance. Its claims are renewed by a heartbeat while
    it works; ``progress`` is told of each outcome."""
    opts = options or ProvisionOptions()
    worker = worker_id or default_worker_id()
    routing = client if isinstance(client, Routing) else Routing.single(client)
    executors = {route.name: Executor(route.client, engine, passwords, worker, instance=route.name,
                                      target=route.target, allow_break_inheritance=opts.break_inheritance)
                 for route in routing.in_use() if route.client is not None}
    summary = ProvisionSummary(progress=progress)
    started = time.monotonic()
    with HeldClaims(engine, worker, opts.lease_seconds) as claims:
        while (opts.max_batches is None or summary.batches < opts.max_batches) and not (stop and stop.is_set()):
            scope = routing.scope()
            if not scope.served:
                break  # every instance it served was set aside
            due, held_elsewhere = queue.pending_work(engine, scope)
            if due == 0 and held_elsewhere == 0:
                break
            # Small enough that every worker gets a share of what is due, so none sits idle behind another's batch.
            size = max(1, min(opts.batch_size, -(-due // max(1, opts.workers))))
            claimed_at = time.monotonic()
            batch = queue.claim_pending_requests(engine, worker, size, opts.lease_seconds, scope)
            if not batch:
                # Requests held by other workers may unblock the next ones of their accounts: keep looking.
                if held_elsewhere == 0:
                    break
                (stop or threading.Event()).wait(opts.poll_seconds)
                continue
            summary.batches += 1
            claims.hold((row["event_id"] for row in batch), claimed_at)
            for index, row in enumerate(batch):
                if stop and stop.is_set():
                    _release(engine, claims, worker, batch[index:])
                    break
                try:
                    _route(engine, routing, executors, claims, row, worker, opts, summary)
                except BaseException:
                    _release(engine, claims, worker, batch[index + 1:])  # the run stops: the rest go back now
                    raise
                finally:
                    claims.drop(row["event_id"])
    summary.seconds = time.monotonic() - started
    if routing is not client:
        routing.check()  # its single instance was set aside: the run fails as it always did
    return summary


def _release(engine: Engine, claims: HeldClaims, worker: str, rows: list[dict[str, Any]]) -> None:
    """Give back claimed requests this worker will not start."""
    with engine.begin() as conn:
        for row in rows:
            queue.release_request(conn, row["event_id"], worker)
            claims.drop(row["event_id"])


def _route(engine: Engine, routing: Routing, executors: dict[str, Executor], claims: HeldClaims,
           row: dict[str, Any], worker: str, opts: ProvisionOptions, summary: ProvisionSummary) -> None:
    """A claimed request to the executor of its instance; an unknown target fails it, with the reason."""
    event_id, target = int(row["event_id"]), row.get("target")
    route = routing.route(target)
    if route is None and routing.is_unknown(target):
        _write_back(engine, summary, event_id, str(row.get("operation")), str(row.get("code")), worker, "failed",
                    "UnknownTarget", f"UnknownTarget: {routing.unknown_target(target)}"[:MAX_TRACE])
    elif route is None or route.error is not None or route.name not in executors:
        # An instance this worker does not serve, or one set aside since the claim: never executed here.
        with engine.begin() as conn:
            queue.release_request(conn, event_id, worker)
    else:
        _process(engine, executors[route.name], routing, route, claims, row, worker, opts, summary)


def _process(engine: Engine, executor: Executor, routing: Routing, route: Route, claims: HeldClaims,
             row: dict[str, Any], worker: str, opts: ProvisionOptions, summary: ProvisionSummary) -> None:
    event_id = int(row["event_id"])
    try:
        request = validate_request(row)
    except InvalidRequest as invalid:
        # A malformed row fails alone, at once, with the reason; nothing is sent to Secret Server.
        _write_back(engine, summary, event_id, str(row.get("operation")), str(row.get("code")), worker,
                    "failed", invalid.erc_status, f"{invalid.erc_status}: {invalid.reason}"[:MAX_TRACE])
        return
    op = request.operation.name
    attempts = claims.begin(event_id)
    if attempts is None:
        _lost(summary, event_id, op, request.code)
        return
    outcome: Outcome | None = None
    transient, erc, trace, retry_after = False, "Success", "", 0.0
    if attempts > opts.max_attempts:
        # Earlier attempts started and never reported (their workers crashed): don't loop on it forever.
        erc, trace = "MaxAttempts", f"gave up after {attempts - 1} attempts that started and never reported"
    else:
        try:
            with executor.client.within(lambda: claims.seconds_left(event_id)):
                outcome = executor.execute(replace(request, attempts=attempts))
            trace = outcome.trace
        except LostClaim:
            _lost(summary, event_id, op, request.code)
            return
        except AuthenticationError as exc:
            # Secret Server refused the login (or every token): the request did not fail, and this run cannot go
            # on with this instance.
            with engine.begin() as conn:
                queue.release_request(conn, event_id, worker, started=True)
            routing.set_aside(route, exc)
            return
        except OutOfTime:
            # The claim is no longer surely held (its heartbeat could not renew it): stop, send nothing more,
            # and give the request back if it is still ours. Not a failed attempt.
            with engine.begin() as conn:
                queue.release_request(conn, event_id, worker, started=True)
            _lost(summary, event_id, op, request.code)
            return
        except Exception as exc:
            transient, erc, trace = classify(exc)
            retry_after = float(getattr(exc, "retry_after", None) or 0.0)
            if erc == "InternalError":
                log.warning("request %s (%s): %s", event_id, op, trace, exc_info=True)
    trace = trace[:MAX_TRACE]
    if outcome is None and transient and attempts >= opts.max_attempts:
        transient, trace = False, f"gave up after {attempts} attempts: {trace}"[:MAX_TRACE]
    result = "succeeded" if outcome is not None else ("retried" if transient else "failed")
    delay = max(retry_after, backoff_delay(attempts, opts.backoff_seconds, opts.backoff_cap_seconds))
    _write_back(engine, summary, event_id, op, request.code, worker, result, erc, trace,
                staging=outcome.staging if outcome is not None else None, instance=executor.instance, delay=delay)


def _write_back(engine: Engine, summary: ProvisionSummary, event_id: int, op: str, code: str, worker: str,
                result: str, erc: str, trace: str, *, staging: Callable[[Connection], None] | None = None,
                instance: str | None = None, delay: float = 0.0) -> None:
    """The outcome, conditional on the claim; staging (of ``instance``) in the same transaction."""
    with engine.begin() as conn:
        if result == "succeeded":
            held = queue.complete_request(conn, event_id, worker, trace)
            if held and staging is not None and instance is not None:
                try:
                    with conn.begin_nested():
                        provisioning_staging.hold_staging(conn, instance)
                        staging(conn)
                except Exception as exc:  # staging is a mirror: never lose the outcome over it
                    log.warning("request %s: staging not updated (%s)", event_id, type(exc).__name__,
                                exc_info=True)
        elif result == "retried":
            held = queue.retry_request(conn, event_id, worker, trace, erc, delay)
        else:
            held = queue.fail_request(conn, event_id, worker, trace, erc)
    if not held:
        _lost(summary, event_id, op, code)
        return
    summary.record(RequestResult(event_id, op, code, result, trace))
    log.info("request %s %s %s: %s (%s)", event_id, op, code, result, trace)


def _lost(summary: ProvisionSummary, event_id: int, op: str, code: str) -> None:
    summary.record(RequestResult(event_id, op, code, "lost", "claim lost"))


def run_workers(engine: Engine, clients: Callable[[], SecretServerAccess] | Routing, passwords: PasswordBox,
                options: ProvisionOptions, workers: int, progress: ProvisionProgress | None = None) -> ProvisionSummary:
    """``workers`` workers in threads, sharing one client per instance (one login, one connection pool each):
    ``clients`` is the `Routing` of the served instances, or makes the client of a single default instance.
    Summaries merged; ``progress`` is told how many requests are due, then of each outcome. The logins come
    first: an instance whose login is refused is set aside, and when none is left nothing starts (a vault locks
    accounts after a few failed logins). The clients are closed at the end."""
    total = ProvisionSummary()
    count = max(1, workers)
    shared = replace(options, workers=max(options.workers, count))
    routing = clients if isinstance(clients, Routing) else Routing.single(clients())
    try:
        routing.log_in()
        routing.check()
        if progress is not None:
            due, claimed = queue.pending_work(engine, routing.scope())
            progress.started(due + claimed)
        with ThreadPoolExecutor(count, thread_name_prefix="provision") as pool:
            for part in pool.map(lambda _: run_provisioning(engine, routing, passwords, shared, progress=progress),
                                 range(count)):
                total.merge(part)
    finally:
        routing.close()
    routing.check()
    total.unavailable = routing.unavailable()
    return total


def provision_with_settings(
    settings: Settings | None = None,
    *,
    instance: str | None = None,
    batch_size: int | None = None,
    lease_seconds: float | None = None,
    max_attempts: int | None = None,
    workers: int = 1,
    max_batches: int | None = None,
    progress: ProvisionProgress | None = None,
) -> ProvisionSummary:
    """Run ``workers`` workers in this process for every configured instance, or only for ``instance`` (then
    only its requests are claimed, besides those of unknown targets), with the settings (SS_IGI_PROVISION_*) as
    defaults; ``settings`` default to the environment's. The summary's ``unavailable`` names the instances set
    aside (login refused, ...); their requests stay pending."""
    from pipelines.database import open_database
    from pipelines.instances import configured_instances, instance_named
    from pipelines.secret_server import open_secret_server

    settings = settings or Settings()
    options = ProvisionOptions(
        batch_size=batch_size or settings.ss_igi_provision_batch_size,
        lease_seconds=lease_seconds or settings.ss_igi_provision_lease_seconds,
        max_attempts=max_attempts or settings.ss_igi_provision_max_attempts,
        backoff_seconds=settings.ss_igi_provision_backoff_seconds,
        max_batches=max_batches,
        break_inheritance=settings.ss_igi_provision_break_inheritance,
    )
    configured = {i.name: i for i in configured_instances(settings)}
    served = [instance_named(settings, instance)] if instance is not None else list(configured.values())
    # Each worker holds at most one connection at a time, and so does its claims' heartbeat.
    engine = open_database(settings, pool_size=2 * max(1, workers) + 1)
    try:
        routing = Routing.open([(i.name, i.target) for i in served], [(i.name, i.target) for i in configured.values()],
                               lambda name: open_secret_server(configured[name].settings))
        return run_workers(engine, routing, PasswordBox.from_settings(settings), options, workers, progress)
    finally:
        engine.dispose()


__all__ = [
    "Operation",
    "ProvisionOptions",
    "ProvisionSummary",
    "classify",
    "provision_with_settings",
    "run_provisioning",
    "run_workers",
]
