"""`ss-igi simulator` / `python -m simulator`: run the simulator in the foreground."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
from typing import Any

from simulator.faults import Faults
from simulator.generator import SCALES, generate
from simulator.server import SimulatorServer

DESCRIPTION = "Run a simulated Delinea Secret Server (REST API under /SecretServer) in the foreground."


def build_parser() -> argparse.ArgumentParser:
    """The `python -m simulator` argument parser."""
    parser = argparse.ArgumentParser(prog="ss-igi simulator", description=DESCRIPTION, allow_abbrev=False)
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The simulator's options, on its own parser or on the `ss-igi simulator` subcommand."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--scale", choices=sorted(SCALES), default="s",
                        help="organization size: s ~100 users, m ~5,000, l ~50,000 (default s)")
    parser.add_argument("--seed", type=int, default=42, help="generator seed (default 42)")
    parser.add_argument("--faults", default="",
                        help='fault injection, e.g. "latency_ms=20,rate_429=0.05,burst_every=100,'
                             'burst_length=3,burst_status=503" (see simulator/faults.py)')
    parser.add_argument("--username", default="admin", help="login user name (default admin)")
    parser.add_argument("--password", default="admin", help="login password (default admin)")
    parser.add_argument("--page-cap", type=int, default=1000, help="server-side cap on take (default 1000)")
    parser.add_argument("--token-ttl", type=float, default=1200, help="token lifetime in seconds (default 1200)")
    parser.add_argument("--healthcheck-casing", choices=("pascal", "camel"), default="pascal",
                        help="health check field names: Healthy (what Delinea's SDK reads; default) "
                             "or the collection's healthy")
    parser.add_argument("--verbose", action="store_true", help="log every request")


def main(argv: list[str] | None = None) -> int:
    """Run the simulator with command-line arguments; the exit status."""
    return run(build_parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the simulator with parsed options until Ctrl-C or SIGTERM; the exit status."""
    logging.basicConfig(format="%(message)s")
    logging.getLogger().setLevel(logging.DEBUG if args.verbose else logging.INFO)
    try:
        faults = Faults.parse(args.faults)
    except (TypeError, ValueError) as exc:
        print(f"simulator: bad --faults: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    org = generate(args.scale, args.seed)
    counts = org.counts()
    server = SimulatorServer(org, host=args.host, port=args.port, username=args.username,
                             password=args.password, page_cap=args.page_cap, token_ttl_s=args.token_ttl,
                             faults=faults, healthcheck_casing=args.healthcheck_casing)
    try:
        server.start()
    except OSError as exc:
        print(f"simulator: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"Secret Server simulator (scale {args.scale}, seed {args.seed}, generated in "
          f"{time.perf_counter() - started:.1f}s): {counts['users']} users, {counts['groups']} groups, "
          f"{counts['folders']} folders, {counts['secrets']} secrets")
    print(f"  base URL:  {server.base_url}")
    print(f"  token:     POST {server.base_url}/oauth2/token")
    print(f"  login:     username={args.username} password={args.password}")
    if faults.active or faults.token_ttl_s or faults.token_expire_after_calls:
        print(f"  faults:    {faults}")
    print("Press Ctrl-C to stop.", flush=True)
    previous = _stop_on_signals()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        print("\nstopping", flush=True)
    finally:
        server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _stop_on_signals() -> dict[int, Any]:
    """Ctrl-C and SIGTERM stop the server cleanly (SIGINT is ignored in background jobs otherwise)."""
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, _raise_interrupt)
    return previous


if __name__ == "__main__":
    raise SystemExit(main())
