"""The README stays true: every `ss-igi ...` command it shows parses with the CLI's own parser, and the ones that
can run against the simulator run, in the README's order, with its placeholders (alice, bob, a group, a secret
id) filled from the simulator's data; the provisioning requests they enqueue all succeed."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from pipelines.cli import build_parser, main

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = Path(sys.executable).parent
# Commands that run here; the others are covered by tests of their own (demo, db, simulator, serve, dictionary
# write files or run in the foreground).
RUNNABLE = {"check", "reconcile", "request", "provision"}
# Placeholder notations of the README, filled for the parser.
NOTATION = {"{s,m,l}": "s", "COMMAND": "check"}


@dataclass(frozen=True)
class Shown:
    """One `ss-igi` command of the README: its arguments, the line it came from, whether it was in a code block
    (a command to run as is) or inline (may name a command without its arguments), and what is piped into it."""

    args: tuple[str, ...]
    line: int
    in_block: bool
    stdin: str | None = None


def _invocations(text: str, line: int, in_block: bool) -> list[Shown]:
    found = []
    for part in text.split("&&"):
        piped, _, command = part.rpartition("|") if "| ss-igi" in part or "| .venv" in part else ("", "", part)
        words = shlex.split(command, comments=True)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):  # VAR=value before the command
            words.pop(0)
        if words and Path(words[0]).name == "ss-igi":
            args = tuple(NOTATION.get(w, w) for w in words[1:])
            found.append(Shown(args, line, in_block, stdin=piped.strip() or None))
    return found


def readme_commands() -> list[Shown]:
    """Every `ss-igi` invocation in README.md, in order: the lines of ```bash blocks, and inline code."""
    shown: list[Shown] = []
    in_block = False
    for number, text in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if text.startswith("```"):
            in_block = text.strip() == "```bash"
            continue
        if in_block:
            shown += _invocations(text, number, True)
        else:
            for span in re.findall(r"`((?:\.venv/bin/)?ss-igi(?: [^`]*)?)`", text):
                shown += _invocations(span, number, False)
    return shown


def _parse(args: tuple[str, ...]) -> tuple[int, str]:
    """(exit status, stderr) of parsing ``args``; 0 and "" when they parse."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            build_parser().parse_args(list(args))
        except SystemExit as exc:
            return int(exc.code or 0), err.getvalue()
    return 0, ""


def test_the_readme_shows_the_commands_of_the_design():
    commands = {s.args[0] for s in readme_commands() if s.args and not s.args[0].startswith("-")}
    assert {"demo", "reconcile", "provision", "request", "check", "db", "simulator", "serve"} <= commands


@pytest.mark.parametrize("shown", readme_commands(), ids=lambda s: f"line{s.line}:" + " ".join(s.args)[:50])
def test_every_readme_command_parses(shown: Shown):
    status, err = _parse(shown.args)
    if not shown.in_block and "the following arguments are required" in err:
        return  # inline text naming a command (`ss-igi request`), not a command line to run
    assert status == 0, f"README.md line {shown.line}: ss-igi {' '.join(shown.args)}\n{err}"


def _runnable(shown: Shown) -> bool:
    return (bool(shown.args) and shown.args[0] in RUNNABLE and "--help" not in shown.args
            and _parse(shown.args) == (0, ""))


def _section_lines(title: str) -> range:
    """The README's line numbers of the section headed ``title`` (to the next heading of any level)."""
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index(title)
    end = next((n for n in range(start + 1, len(lines)) if lines[n].startswith("#")), len(lines))
    return range(start + 1, end + 1)


SEVERAL_INSTANCES = _section_lines("### Several instances")


def _for_two_instances(shown: Shown) -> bool:
    """A command of the section on several instances, or one that names an instance: run with two configured."""
    return shown.line in SEVERAL_INSTANCES or "--instance" in shown.args


class Placeholders:
    """The README's example names, mapped to objects of the simulator's organization."""

    def __init__(self, org) -> None:
        users = org.users()
        bob = next(u for u in users if u["domainName"] == "corp.example.com" and u["enabled"]
                   and not u["isApplicationAccount"])
        self.values = {"alice": "readme.alice", "corp.example.com\\bob": f"corp.example.com\\{bob['userName']}"}
        for group in org.groups():
            if group["domainName"]:
                self.values[group["name"]] = f"{group['domainName']}\\{group['name']}"
        own = next(s for s in org.secrets() if not s["inheritsPermissions"])
        self.values["42"] = str(own["id"])

    def fill(self, args: tuple[str, ...]) -> list[str]:
        """The arguments with the README's example names replaced."""
        return [self.values.get(arg, arg) for arg in args]


def test_the_readme_commands_run_against_the_simulator(ops_env, monkeypatch, prefect_harness, simulator,
                                                      igi_engine, capsys):
    monkeypatch.setenv("SS_IGI_FERNET_KEY", Fernet.generate_key().decode())  # as the README's first run does
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "Readme-Passw0rd-1")  # the user at the prompt
    places = Placeholders(simulator.org)
    ran: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for shown in readme_commands():
        if not _runnable(shown) or "--instance" in shown.args or shown.args in seen:
            continue
        seen.add(shown.args)
        if shown.stdin:  # echo "$NEW_PASSWORD" | ss-igi ...
            monkeypatch.setattr("sys.stdin", io.StringIO("Readme-Passw0rd-2\n"))
        args = places.fill(shown.args)
        status = main(args)
        captured = capsys.readouterr()
        assert status == 0, f"README.md line {shown.line}: ss-igi {' '.join(args)}\n{captured.err}"
        ran.append(" ".join(args))

    assert any(r.startswith("request grant") for r in ran) and "provision --workers 4" in ran
    assert any(r.startswith("reconcile") for r in ran) and "check" in ran
    with igi_engine.connect() as conn:
        outcomes = conn.execute(sa.text("SELECT operation, code, state, trace FROM igi.event_out")).all()
    assert outcomes and all(state == 2 for _, _, state, _ in outcomes), outcomes


def test_the_readme_commands_for_several_instances_run_against_two_simulators(two_instances, igi_engine,
                                                                             capsys):
    """The commands of "Several instances", and every one that names an instance, with SS_IGI_INSTANCES=default,dr
    and the DR_ variables (the README's NAME and dr stand for dr); `runs` and `check` here, too."""
    shown_here = [s for s in readme_commands() if _for_two_instances(s) and s.args
                  and s.args[0] in RUNNABLE | {"runs"} and _parse(s.args) == (0, "")]
    places = Placeholders(two_instances.dr.org)  # the requests shown are for dr
    ran: list[str] = []
    for shown in shown_here:
        args = ["dr" if arg == "NAME" else arg for arg in places.fill(shown.args)]
        if " ".join(args) in ran:
            continue
        status = main(args)
        captured = capsys.readouterr()
        assert status == 0, f"README.md line {shown.line}: ss-igi {' '.join(args)}\n{captured.err}"
        ran.append(" ".join(args))
        if args == ["check"]:
            assert captured.out.count("OK") == 3 and "SecretServer-dr" in captured.out
    assert {"check", "reconcile", "reconcile --instance dr", "runs --instance dr", "check --instance dr",
            "provision --instance dr"} <= set(ran)
    with igi_engine.connect() as conn:
        instances = conn.execute(sa.text(
            "SELECT instance FROM ss_staging.reconciliation_runs ORDER BY run_id")).scalars().all()
        requests = conn.execute(sa.text("SELECT target, state FROM igi.event_out")).all()
    assert set(instances) == {"default", "dr"} and instances.count("dr") >= 2
    assert requests and all(tuple(r) == ("SecretServer-dr", 2) for r in requests), requests


def test_the_secret_block_snippet_feeds_ss_igi(ops_env, tmp_path):
    """The README's Secret-block snippet, run in a shell as written (the value filled with the simulator's
    password), then `ss-igi check` in the same shell finds the password in the block."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### Secrets from Prefect Secret blocks"):]
    snippet = section[section.index("```bash\n") + 8:section.index("\n```", section.index("```bash"))]
    assert "Secret(value='s3cret')" in snippet and snippet.rstrip().endswith("ss-igi check")
    script = snippet.replace("value='s3cret'", f"value='{ops_env['SECRET_SERVER_PASSWORD']}'")
    env = {k: v for k, v in os.environ.items()
           if k not in ("PREFECT_HOME", "SECRET_SERVER_PASSWORD", "PREFECT_API_URL")}
    env.update(HOME=str(tmp_path), PATH=f"{BIN}:{env['PATH']}")  # as after `source .venv/bin/activate`
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("OK") == 2
    assert (tmp_path / ".ss-igi-prefect").is_dir()
