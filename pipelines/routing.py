"""Which Secret Server instance executes a provisioning request: the one whose IGI target the request names.

A provisioning run serves some of the configured instances (all of them, or the one ``--instance`` names), each
through a client of its own. `Routing` holds them, and every configured instance's target: a request is executed
only by the client of the instance its target names (a NULL target: the instance named ``default``), and a
request whose target no configured instance has is failed with ``UnknownTarget`` and a trace naming the target
and the configured ones. Every run fails those, whichever instances it serves: they belong to none.

An instance that cannot be used in this run (its login refused, its certificate untrusted, its settings
incomplete, its server unreachable at the start) is set aside for the rest of the run; its requests stay pending,
untouched, and the other instances' requests proceed. The run's summary says which instances were set aside and
why, and the command ends with that line (exit 1). When no served instance is left the run stops with that
reason (a single instance: exactly the error it met, as before instances existed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from connectors.igi.targets import DEFAULT_TARGET, TargetScope
from connectors.secret_server import SecretServerAccess
from pipelines.failures import explain
from pipelines.instances import DEFAULT_INSTANCE
from pipelines.outcomes import unavailable_line

log = logging.getLogger("ss_igi.provision")


def target_scope(configured: Sequence[tuple[str, str]], served: Sequence[str]) -> TargetScope:
    """The `TargetScope` of the ``served`` targets among the ``configured`` (name, IGI target) instances."""
    null_target = next((t for name, t in configured if name == DEFAULT_INSTANCE), None)
    return TargetScope(tuple(served), tuple(t for _, t in configured), null_target)


class InstancesUnavailable(RuntimeError):
    """None of the instances a run serves could be used; the text says why for each, in one line."""


@dataclass
class Route:
    """One served instance: its name, IGI target and client (None when it could not even be opened); ``error``
    once it was set aside in this run."""

    name: str
    target: str
    client: SecretServerAccess | None
    error: BaseException | None = field(default=None, repr=False)


class Routing:
    """The instances a provisioning run serves, with their clients, and the targets of every configured one."""

    def __init__(self, routes: Sequence[Route], configured: Sequence[tuple[str, str]]) -> None:
        """``routes``: the served instances; ``configured``: (name, IGI target) of every configured instance."""
        self.routes = list(routes)
        self.configured = list(configured)
        self._lock = threading.Lock()

    @classmethod
    def single(cls, client: SecretServerAccess, target: str = DEFAULT_TARGET) -> Routing:
        """A single-instance setup: the default instance, served by ``client``."""
        return cls([Route(DEFAULT_INSTANCE, target, client)], [(DEFAULT_INSTANCE, target)])

    @classmethod
    def open(cls, served: Sequence[tuple[str, str]], configured: Sequence[tuple[str, str]],
             opener: Callable[[str], SecretServerAccess]) -> Routing:
        """Served (name, target) pairs with their clients from ``opener(name)``; an instance whose client cannot
        be opened (incomplete settings, say) is set aside with that error."""
        routes: list[Route] = []
        failed: list[tuple[Route, BaseException]] = []
        for name, target in served:
            try:
                routes.append(Route(name, target, opener(name)))
            except Exception as exc:
                routes.append(Route(name, target, None))
                failed.append((routes[-1], exc))
        routing = cls(routes, configured)
        for route, error in failed:
            routing.set_aside(route, error)
        return routing

    # ------------------------------------------------------------------ which requests
    def scope(self) -> TargetScope:
        """What a worker claims now: the requests of the instances still in use, and those of unknown targets."""
        return target_scope(self.configured, [r.target for r in self.in_use()])

    def _target(self, target: str | None) -> str | None:
        """The target a request is for: its own, or for NULL the default instance's (None if none is configured)."""
        return target if target is not None else target_scope(self.configured, []).null_target

    def route(self, target: str | None) -> Route | None:
        """The served instance a request's target names, or None when no served instance has it."""
        wanted = self._target(target)
        return next((r for r in self.routes if r.target == wanted), None) if wanted is not None else None

    def is_unknown(self, target: str | None) -> bool:
        """True when no configured instance has the target (a NULL one: when no instance is named default)."""
        wanted = self._target(target)
        return wanted is None or all(t != wanted for _, t in self.configured)

    def unknown_target(self, target: str | None) -> str:
        """Why a request of an unknown target fails: the target, and the targets of the configured instances."""
        configured = ", ".join(f"{t} (instance {name})" for name, t in self.configured)
        what = ("names no target (NULL: the instance named default), and no instance named default is configured"
                if target is None else f"is for IGI target {target!r}, which no configured instance has")
        return (f"the request {what}; configured targets: {configured}. Nothing was sent to any Secret Server. "
                "Configure the instance (SS_IGI_INSTANCES, <NAME>_IGI_TARGET) and retry the request, or cancel it")

    # ------------------------------------------------------------------ instances in use
    def set_aside(self, route: Route, error: BaseException) -> None:
        """No more requests for this instance in this run; its requests stay pending (the summary says why)."""
        with self._lock:
            if route.error is not None:
                return
            route.error = error
        log.info("instance %s set aside: %s", route.name, explain(error, route.name))

    def in_use(self) -> list[Route]:
        """The served instances not set aside."""
        with self._lock:
            return [r for r in self.routes if r.error is None]

    def log_in(self) -> None:
        """Log in to every served instance at once (in parallel: an unreachable one delays none of the others);
        an instance whose login fails is set aside."""
        def attempt(route: Route) -> tuple[Route, BaseException | None]:
            try:
                assert route.client is not None
                route.client.login()
                return route, None
            except Exception as exc:
                return route, exc

        pending = self.in_use()
        if not pending:
            return
        with ThreadPoolExecutor(len(pending), thread_name_prefix="login") as pool:
            for route, error in pool.map(attempt, pending):
                if error is not None:
                    self.set_aside(route, error)

    def check(self) -> None:
        """Raise when no served instance is in use: a single one's own error as it was, else one line for all."""
        if self.in_use():
            return
        if len(self.routes) == 1 and self.routes[0].error is not None:
            raise self.routes[0].error
        raise InstancesUnavailable(unavailable_line(self.unavailable()))

    def unavailable(self) -> dict[str, str]:
        """Instance -> why it was set aside in this run."""
        with self._lock:
            return {r.name: explain(r.error, r.name) for r in self.routes if r.error is not None}

    def close(self) -> None:
        """Close every client."""
        for route in self.routes:
            if route.client is not None:
                route.client.close()

