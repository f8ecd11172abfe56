"""The interactive prompt, driven in real `caro` processes under a pseudo-terminal (pexpect).

Each test starts the installed `caro` console script in a temporary folder with the test's own
CARO_HOME, reads what it shows, presses keys, and checks what ran there (files made or not) and
caro's exit code. Most run both ways: answered by the caro service (started by the first
request) and in caro's own process (`serve.enabled = false`). Requests come from the static
table; a revision's model answer comes from a scripted OpenAI-compatible server on 127.0.0.1
that records what it was asked, or from the tiny real model (tests/test_interactive_model.py).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pexpect  # a test dependency (pyproject's test extra)
import pytest

from pipeline.errors import ExitCode
from pipeline.paths import state_paths
from tests.conftest import caro_executable
from tests.scripted_model import ScriptedModel

TIMEOUT_S = 90  # a loaded two-core machine; never an assertion on time
MENU = r"\[q\] quit > "
PYTHON_FILES = "list all python files"  # the static table: find . -type f -name '*.py'
FIND = "find . -type f -name '*.py'"
MKDIR = "create a directory called made"  # the static table: mkdir -p made
BOTH_WAYS = pytest.mark.parametrize("serve", [True, False], ids=["service", "in-process"])
# Variables that would change what the prompt shows or copies (the terminal's own, a multiplexer).
_TERMINAL_VARIABLES = ("TMUX", "STY", "VTE_VERSION", "TERM_PROGRAM", "COLUMNS", "LINES")


def spawn(args: list[str], cwd: Path, *, serve: bool = True, env: dict[str, str] | None = None, program: str | None = None) -> pexpect.spawn:
    """`caro ARGS` on a pseudo-terminal (stdin, stdout and stderr), in `cwd`, with the test's CARO_HOME."""
    environment = {k: v for k, v in os.environ.items() if k not in _TERMINAL_VARIABLES}
    environment.update({"TERM": "xterm", "CARO_SERVE_ENABLED": "true" if serve else "false", **(env or {})})
    return pexpect.spawn(
        program or caro_executable(), args, cwd=str(cwd), env=environment, encoding="utf-8", timeout=TIMEOUT_S,
        dimensions=(50, 250),
    )


def finish(child: pexpect.spawn) -> int:
    """Wait for caro to exit; its exit code."""
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus is None, child.before
    return child.exitstatus


def choose(child: pexpect.spawn, key: str, then: str = MENU) -> str:
    """Press `key` at the menu and wait for `then`; what was shown in between."""
    child.send(key)
    child.expect(then)
    return child.before


@pytest.fixture
def work(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    for n in range(7):
        (folder / f"m{n}.py").write_text("")
    return folder


@pytest.fixture
def scripted_model() -> Iterator[Callable[[list[str]], tuple[dict[str, str], list[dict]]]]:
    """A 127.0.0.1 OpenAI-compatible server answering the given commands in turn; caro's settings for it, and what it was asked."""
    servers: list[ScriptedModel] = []

    def start(commands: list[str]) -> tuple[dict[str, str], list[dict]]:
        servers.append(ScriptedModel(commands))
        return servers[-1].settings(), servers[-1].asked

    yield start
    for server in servers:
        server.stop()


def visit_every_action(child: pexpect.spawn, edit_to: str, follow_up: str) -> None:
    """At the menu: explain, edit into `edit_to`, revise with `follow_up`, copy; back at the menu after each."""
    choose(child, "x")
    choose(child, "e", then="edit: ")
    child.send(f"\x15{edit_to}\r")
    child.expect(MENU)
    choose(child, "r", then="what should change\\? ")
    child.send(f"{follow_up}\r")
    child.expect(MENU)
    choose(child, "c")


def prompt_choices(session_rows: list[dict]) -> list[str]:
    return [str(r["choice"]) for r in session_rows if r["event_type"] == "prompt_action"]


def stored_events() -> list[dict]:
    """Every telemetry row of the test's database, in time order (read after the writer's lock is free)."""
    from pipeline.telemetry.store import TelemetryStore

    with TelemetryStore(state_paths().database) as store:
        return store.query()


# -- edit ---------------------------------------------------------------------------------------


@BOTH_WAYS
def test_edit_changes_the_command_which_is_judged_again_and_runs_here(work: Path, serve: bool) -> None:
    child = spawn([PYTHON_FILES], work, serve=serve)
    child.expect(MENU)
    assert f"$ {FIND}" in child.before
    choose(child, "e", then="edit: ")
    child.expect_exact(FIND)  # the line editor holds the command, ready to change
    child.send("\x15printf edited > edited.txt\r")  # Ctrl-U empties the line; type the new command
    shown = choose(child, "", then=MENU)
    assert "$ printf edited > edited.txt" in shown and not (work / "edited.txt").exists()
    child.send("y")
    assert finish(child) == 0
    assert (work / "edited.txt").read_text() == "edited"  # the edited command ran, in caro's folder


@BOTH_WAYS
def test_an_edit_into_a_blocked_command_never_runs(tmp_path: Path, work: Path, serve: bool) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "precious.txt").write_text("keep me")
    child = spawn([PYTHON_FILES], work, serve=serve, env={"HOME": str(home)})
    child.expect(MENU)
    choose(child, "e", then="edit: ")
    child.send("\x15rm -rf ~\r")
    child.expect(r"blocked: \[e\] edit  \[r\] revise  \[x\] explain  \[q\] quit > ")
    assert "caro: not run: rm -rf ~" in child.before and "critical" in child.before
    assert "never runs" in choose(child, "y")  # the run key does nothing for it
    assert "not copied" in choose(child, "c")
    child.send("q")
    assert finish(child) == ExitCode.BLOCKED
    assert (home / "precious.txt").read_text() == "keep me"


def test_a_blocked_request_offers_the_menu_without_run(work: Path) -> None:
    child = spawn(["--", "rm -rf /"], work)
    child.expect(r"blocked: \[e\] edit  \[r\] revise  \[x\] explain  \[q\] quit > ")
    assert "caro: not run: rm -rf /" in child.before and "blocked by the safety validator" in child.before
    child.send("\r")  # Enter quits
    assert finish(child) == ExitCode.BLOCKED


def test_with_stdout_redirected_the_prompt_and_the_editor_stay_on_the_terminal(work: Path) -> None:
    child = spawn(["-c", f"'{caro_executable()}' '{PYTHON_FILES}' > out.txt"], work, program="/bin/sh")
    child.expect(MENU)
    choose(child, "e", then="edit: ")
    child.expect_exact(FIND)
    child.send("\x15echo only-the-output\r")
    choose(child, "", then=MENU)
    child.send("y")
    assert finish(child) == 0
    assert (work / "out.txt").read_text() == "only-the-output\n"  # stdout holds the command's output alone


# -- revise -------------------------------------------------------------------------------------


@BOTH_WAYS
def test_revise_gives_the_model_the_previous_request_and_command(work: Path, serve: bool, scripted_model) -> None:
    settings, asked = scripted_model([f"{FIND} | head -n 5"])
    child = spawn([PYTHON_FILES], work, serve=serve, env=settings)
    child.expect(MENU)
    choose(child, "r", then="what should change\\? ")
    child.send("now only the top 5\r")
    shown = choose(child, "", then=MENU)
    assert f"$ {FIND} | head -n 5" in shown
    child.send("y")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    listed = [line for line in child.before.splitlines() if line.strip().endswith(".py")]
    assert len(listed) == 5  # the revised command ran: five of the seven files
    assert len(asked) == 1  # the first request came from the table; the follow-up went to the model
    messages = asked[0]["messages"]
    assert messages[0]["role"] == "system" and "POSIX shell command" in messages[0]["content"]
    # The per-request end of the prompt: the previous request, its command, then the follow-up.
    assert messages[-3] == {"role": "user", "content": PYTHON_FILES}
    assert messages[-2] == {"role": "assistant", "content": f"```sh\n{FIND}\n```"}  # in the format the model is asked to answer in
    assert messages[-1]["role"] == "user" and "now only the top 5" in messages[-1]["content"]


@BOTH_WAYS
def test_a_revised_command_is_judged_before_anything_runs(work: Path, serve: bool, scripted_model) -> None:
    settings, asked = scripted_model(["chmod -R 777 .", "rm -rf ~"])
    (work / "keep").mkdir()
    child = spawn([PYTHON_FILES], work, serve=serve, env={**settings, "HOME": str(work / "keep")})
    child.expect(MENU)
    choose(child, "r", then="what should change\\? ")
    child.send("and make them writable by everyone\r")
    child.expect(r"needs confirmation: \[y\] run")
    assert "$ chmod -R 777 ." in child.before and "risk: high, confirm" in child.before
    child.expect(MENU)
    choose(child, "r", then="what should change\\? ")
    child.send("no, delete my home instead\r")
    child.expect(r"blocked: \[e\] edit")
    assert "caro: not run: rm -rf ~" in child.before
    # The second follow-up saw the first revision as the command, and both requests.
    assert asked[1]["messages"][-3]["content"] == f"{PYTHON_FILES}\nand make them writable by everyone"
    assert asked[1]["messages"][-2]["content"] == "```sh\nchmod -R 777 .\n```"
    child.expect(MENU)
    child.send("q")
    assert finish(child) == ExitCode.BLOCKED
    assert (work / "keep").is_dir() and oct((work / "m0.py").stat().st_mode & 0o777) != oct(0o777)


def test_a_revision_without_a_model_keeps_the_command(work: Path) -> None:
    child = spawn([PYTHON_FILES], work)  # tests run with CARO_BACKEND=none
    child.expect(MENU)
    choose(child, "r", then="what should change\\? ")
    child.send("now only the top 5\r")
    shown = choose(child, "", then=MENU)
    assert "caro: no command" in shown and f"caro: still: {FIND}" in shown
    child.send("y")  # the command shown, the first one, is what runs
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0 and sum(line.strip().endswith(".py") for line in child.before.splitlines()) == 7


# -- explain, copy, quit ------------------------------------------------------------------------


@BOTH_WAYS
def test_explain_describes_each_step_its_flags_the_pipes_and_the_verdict(work: Path, serve: bool) -> None:
    child = spawn(["largest 5 files"], work, serve=serve)
    child.expect(MENU)
    explained = choose(child, "x")
    assert "1. find . -type f -exec du -h {} +" in explained and "3. head -n 5" in explained
    assert "| its output is the input of the next step" in explained
    assert "-r " in explained and "-n 5" in explained  # sort's and head's flags, each with its meaning
    assert "verdict: allowed (risk: safe)" in explained
    child.send("q")
    assert finish(child) == 0


@BOTH_WAYS
def test_copy_writes_the_osc52_sequence_to_the_terminal(work: Path, serve: bool) -> None:
    child = spawn([PYTHON_FILES], work, serve=serve)
    child.expect(MENU)
    payload = base64.b64encode(FIND.encode()).decode()
    child.send("c")
    child.expect_exact(f"\x1b]52;c;{payload}\x07")
    child.expect("copied through the terminal")
    child.expect(MENU)
    child.send("q")
    assert finish(child) == 0


def test_copy_says_when_the_terminal_cannot(work: Path) -> None:
    child = spawn([PYTHON_FILES], work, env={"TERM": "linux"})
    child.expect(MENU)
    said = choose(child, "c")
    assert "cannot take a copy" in said and "\x1b]52" not in said
    child.send("q")
    assert finish(child) == 0


@BOTH_WAYS
@pytest.mark.parametrize("key", ["q", "\r", "\x04"], ids=["q", "enter", "ctrl-d"])
def test_quit_runs_nothing(work: Path, serve: bool, key: str) -> None:
    child = spawn([MKDIR], work, serve=serve)
    child.expect(MENU)
    assert "$ mkdir -p made" in child.before
    child.send(key)
    assert finish(child) == 0  # an allowed command left unrun: 0, as a "no" at the old prompt
    assert not (work / "made").exists()


def test_an_unknown_key_asks_again(work: Path) -> None:
    child = spawn([MKDIR], work)
    child.expect(MENU)
    assert "press one of y, e, r, x, c, q" in choose(child, "z")
    assert "press one of" in choose(child, "\x1b[A")  # an arrow key is not a choice either
    child.send("y")
    assert finish(child) == 0 and (work / "made").is_dir()


# -- never a prompt without a person --------------------------------------------------------------


@BOTH_WAYS
def test_json_output_never_prompts(work: Path, serve: bool) -> None:
    child = spawn(["--output", "json", MKDIR], work, serve=serve)
    assert finish(child) == 0
    data = json.loads(child.before[child.before.index("{") :])
    assert data["command"] == "mkdir -p made" and data["executed"] is False
    assert "quit >" not in child.before and not (work / "made").exists()


@pytest.mark.parametrize("how", ["stdin from /dev/null", "request on stdin", "json into a pipe", "--dry-run"])
def test_no_person_at_the_terminal_or_dry_run_never_prompts(work: Path, how: str) -> None:
    caro = caro_executable()
    line = {
        "stdin from /dev/null": f"'{caro}' '{MKDIR}' < /dev/null",
        "request on stdin": f"printf '%s' '{MKDIR}' | '{caro}'",
        "json into a pipe": f"'{caro}' --output json '{MKDIR}' | cat",
        "--dry-run": f"'{caro}' --dry-run '{MKDIR}'",
    }[how]
    child = spawn(["-c", line], work, program="/bin/sh")
    assert finish(child) == 0
    assert "mkdir -p made" in child.before and "quit >" not in child.before
    assert not (work / "made").exists()


def test_x_and_y_keep_their_meaning_at_a_terminal(work: Path) -> None:
    child = spawn(["-y", MKDIR], work)  # -y alone: the plain yes/no question, as before
    child.expect_exact("Run it? [y/N]")
    child.send("n\r")
    assert finish(child) == 0 and not (work / "made").exists() and "quit >" not in child.before
    child = spawn(["-x", MKDIR], work)  # -x: an allowed command runs at once
    assert finish(child) == 0 and (work / "made").is_dir() and "quit >" not in child.before


# -- telemetry: the choices, as names only ----------------------------------------------------------


@BOTH_WAYS
def test_the_choices_are_recorded_as_categories_and_nothing_typed_is_stored(work: Path, serve: bool) -> None:
    child = spawn([PYTHON_FILES], work, serve=serve, env={"CARO_TELEMETRY_ENABLED": "1"})
    child.expect(MENU)
    # No model in tests: the revision gets no command, and the edit stays the command shown.
    visit_every_action(child, "printf zanzibarquokka > out.txt", "now only the wombatfeather ones")
    child.send("y")
    assert finish(child) == 0 and (work / "out.txt").read_text() == "zanzibarquokka"
    rows = stored_events()
    assert prompt_choices(rows) == ["explain", "edit", "revise", "copy", "run"]
    assert {r["session_id"] for r in rows} == {rows[0]["session_id"]}  # one invocation, one session
    generations = [r["backend"] for r in rows if r["event_type"] == "command_generation"]
    assert generations == ["static", "passthrough", "static"]  # the request, the edit judged again, the revision
    end = [r for r in rows if r["event_type"] == "session_end"]
    assert len(end) == 1 and end[0]["executed"] is True
    stored = b"".join(p.read_bytes() for p in state_paths().database.parent.glob("telemetry.db*") if p.is_file())
    for typed in (b"zanzibarquokka", b"wombatfeather", PYTHON_FILES.encode(), FIND.encode()):
        assert typed not in stored


# -- a light client ---------------------------------------------------------------------------------

_HEAVY = ("typer", "hamilton", "pandas", "pandera", "tree_sitter", "llama_cpp", "yaml", "numpy")


def test_the_prompt_through_the_service_imports_nothing_heavy_in_the_client(work: Path) -> None:
    assert finish(spawn(["check", "ls"], work)) == 0  # a warm service
    probe = (
        "import os, sys\n"
        f"heavy = {_HEAVY!r}\n"
        "real_exit = os._exit\n"
        "def report(code):\n"
        "    found = sorted({m.split('.')[0] for m in sys.modules} & set(heavy))\n"
        "    sys.stderr.write('IMPORTED<' + ','.join(found) + '>\\n'); sys.stderr.flush()\n"
        "    real_exit(code)\n"
        "os._exit = report\n"
        f"sys.argv = ['caro', {PYTHON_FILES!r}]\n"
        "from pipeline.cli.main import entry\n"
        "entry()\n"
    )
    child = spawn(["-c", probe], work, program=sys.executable)
    child.expect(MENU)
    visit_every_action(child, "ls", "now only the top 5")
    child.send("q")
    child.expect(r"IMPORTED<([^>]*)>")
    assert child.match.group(1) == ""
    assert finish(child) == 0

