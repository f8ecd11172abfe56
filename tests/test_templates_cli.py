"""Templates (`cat <file>`) never run: what `decide`, the rendered answer, the prompt and the real CLI do with one.

In shell syntax `<file>` is two redirections: `sort <file> notes.txt`, run as it stands in a
folder that holds a file named `file`, empties notes.txt and writes the sorted lines into it.
The templates here come from a user's own static table (`extra_static_tables`), so they reach
the CLI through the real pipeline without a model; one comes from a scripted model server on
127.0.0.1 through the HTTP backend. Commands run in a real shell in a temporary folder.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from pipeline.cli.common import settings_from
from pipeline.cli.perform import perform
from pipeline.cli.run import platform_for, respond_script
from pipeline.errors import ExitCode
from pipeline.execute import Plan, decide
from pipeline.service import Caro
from pipeline.settings import OutputFormat
from pipeline.values import Action, Result
from tests.conftest import caro_executable
from tests.scripted_model import ScriptedModel
from tests.test_interactive import choose, finish, spawn

# A user's own static table of templates: (id, required words, other words, command).
INTENTS = (
    ("files.sort_template", [["sort"]], ["a", "file", "into", "notes"], "sort <file> notes.txt"),
    ("files.copy_template", [["copy"], ["attributes"]], ["a", "file", "keeping", "its"], "cp -p <source> <dest>"),
    ("files.disk_template", [["disk"]], ["a", "file", "write", "onto", "the", "first"], "dd if=<file> of=/dev/sda"),
)
TABLE = "".join(
    f'[[intent]]\nid = "{id_}"\ndomain = "files"\nsummary = "A template: the request names no file"\n'
    f"require = {json.dumps(require)}\nwords = {json.dumps(words)}\ncommand = {json.dumps(command)}\n\n"
    for id_, require, words, command in INTENTS
)
SORT, SORT_TEMPLATE = "sort a file into notes", "sort <file> notes.txt"  # allowed, one slot
COPY, COPY_TEMPLATE = "copy a file keeping its attributes", "cp -p <source> <dest>"  # needs confirmation, two slots
DISK = "write a file onto the first disk"  # blocked, one slot
FLAGS = ("execute", "yes", "dry_run", "interactive")
BOTH_WAYS = pytest.mark.parametrize("serve", [True, False], ids=["service", "in-process"])
FILL_IN_MENU = r"fill in <file>: \[e\] edit  \[r\] revise  \[x\] explain  \[c\] copy  \[q\] quit > "


def _table(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "templates.toml").write_text(TABLE)
    return folder / "templates.toml"


@pytest.fixture(scope="module")
def caro(tmp_path_factory: pytest.TempPathFactory) -> Caro:
    return Caro(backend="none", extra_static_tables=[_table(tmp_path_factory.mktemp("table"))])


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The environment of a `caro` process that knows the templates' table (and has no model)."""
    return {"CARO_EXTRA_STATIC_TABLES": str(_table(tmp_path / "table")), "CARO_BACKEND": "none"}


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder where running `sort <file> notes.txt` as it stands would overwrite notes.txt."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "file").write_text("b\na\n")
    (folder / "notes.txt").write_text("keep me\n")
    return folder


def _contents(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.iterdir())}


def _run(args: list[str], cwd: Path, env: dict[str, str], *, serve: bool, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [caro_executable(), *args], capture_output=True, text=True, cwd=cwd, input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL, timeout=120,
        env={**os.environ, **env, "CARO_SERVE_ENABLED": "true" if serve else "false"},
    )


# -- decide ---------------------------------------------------------------------------------------


def test_the_table_gives_templates_with_their_slots(caro: Caro) -> None:
    sort, copy, disk = caro.handle(SORT), caro.handle(COPY), caro.handle(DISK)
    assert (sort.command, sort.slots, sort.action) == (SORT_TEMPLATE, ("file",), Action.ALLOWED)
    assert (copy.command, copy.slots, copy.action) == (COPY_TEMPLATE, ("source", "dest"), Action.CONFIRM)
    assert disk.slots == ("file",) and disk.action is Action.BLOCKED


def _named(flags: tuple[bool, ...]) -> str:
    return "-".join(name for name, on in zip(FLAGS, flags) if on) or "none"


@pytest.mark.parametrize("request_", [SORT, COPY])
@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=4)), ids=_named)
def test_a_template_is_never_run_nor_asked_about_whatever_the_flags(caro: Caro, request_: str, flags: tuple[bool, ...]) -> None:
    options = dict(zip(FLAGS, flags))
    result = caro.handle(request_)
    decision = decide(result, **options)
    assert decision.plan in (Plan.SHOW, Plan.REFUSE)
    if options["dry_run"] or not (options["execute"] or options["interactive"]):
        assert decision == (Plan.SHOW, ExitCode.SUCCESS, "")  # shown: on stdout, for the key binding's line
    else:
        assert decision.plan is Plan.REFUSE and decision.exit_code is ExitCode.FILL_IN
    # The same command without its slots (as if it were an ordinary command) would run or be asked about.
    if options["execute"] and options["yes"] and not options["dry_run"]:
        assert decide(dataclasses.replace(result, slots=()), **options).plan is Plan.RUN


def test_the_reason_names_every_slot(caro: Caro) -> None:
    decision = decide(caro.handle(COPY), execute=True, yes=True, dry_run=False, interactive=False)
    assert decision.reason == "a template: fill in <source> and <dest> first, then run it"


def test_a_blocked_template_is_blocked_first(caro: Caro) -> None:
    for flags in itertools.product([False, True], repeat=4):
        decision = decide(caro.handle(DISK), **dict(zip(FLAGS, flags)))
        assert (decision.plan, decision.exit_code) == (Plan.REFUSE, ExitCode.BLOCKED)


# -- the rendered answer (the same function renders it in the service) ---------------------------------


def _script(result: Result, output: OutputFormat = OutputFormat.PLAIN, **flags: bool) -> dict:
    settings = settings_from(None, output=output)
    options = {"execute": False, "yes": False, "dry_run": False, "verbose": False, "tty": False, "stdout_tty": False, **flags}
    return respond_script(result, settings, platform_for(settings, {}), **options)


def _said(script: dict, fd: int) -> str:
    return "".join(text for where, text in script["out"] if where == fd)


def test_shown_a_template_goes_to_stdout_as_it_is_and_its_warning_to_stderr(caro: Caro) -> None:
    for flags in ({}, {"dry_run": True}, {"dry_run": True, "execute": True, "yes": True}, {"yes": True}):
        script = _script(caro.handle(COPY), **flags)
        assert (script["plan"], script["exit_code"]) == ("show", 0)
        assert _said(script, 1) == COPY_TEMPLATE + "\n"
        assert "warning: a template: fill in <source> and <dest> before running it" in _said(script, 2)


@pytest.mark.parametrize("flags", [{"execute": True}, {"execute": True, "yes": True}, {"yes": True, "tty": True}])
def test_asked_to_run_a_template_caro_refuses_with_fill_in_and_says_what_to_fill_in(caro: Caro, flags: dict) -> None:
    script = _script(caro.handle(SORT), **flags)
    assert (script["plan"], script["exit_code"], script["command"]) == ("show", ExitCode.FILL_IN, "")
    assert _said(script, 1) == ""  # nothing the key binding would put on the line
    said = _said(script, 2)
    assert f"caro: not run: {SORT_TEMPLATE}" in said and said.endswith("caro: a template: fill in <file> first, then run it\n")


def test_at_a_terminal_the_prompt_shows_a_template_without_a_yes_or_no(caro: Caro, capsys: pytest.CaptureFixture[str]) -> None:
    script = _script(caro.handle(COPY), tty=True)
    assert (script["plan"], script["exit_code"], script["question"]) == ("menu", ExitCode.FILL_IN, "")
    assert script["slots"] == ["source", "dest"]
    assert script["action"] == "confirm" and f"$ {COPY_TEMPLATE}" in _said(script, 2)
    # A client without the prompt shows it and asks nothing: nothing runs, and it exits 14.
    assert perform(script) == (False, ExitCode.FILL_IN)
    assert "[y/N]" not in capsys.readouterr().err
    # An ordinary command at the terminal keeps its menu and its plain question.
    plain = _script(dataclasses.replace(caro.handle(COPY), slots=()), tty=True)
    assert (plain["plan"], plain["slots"], plain["exit_code"]) == ("menu", [], ExitCode.DECLINED) and plain["question"]


@pytest.mark.parametrize("output", [OutputFormat.JSON, OutputFormat.YAML])
def test_data_output_carries_the_slots_and_the_exit_code(caro: Caro, output: OutputFormat) -> None:
    import yaml

    for flags, code in (({}, 0), ({"execute": True, "yes": True}, ExitCode.FILL_IN)):
        script = _script(caro.handle(COPY), output, **flags)
        data = yaml.safe_load(_said(script, 1))  # YAML reads JSON too
        assert (script["plan"], script["exit_code"]) == ("show", code)
        assert (data["slots"], data["exit_code"], data["executed"], data["command"]) == (["source", "dest"], code, False, COPY_TEMPLATE)


def test_a_template_among_several_commands_is_shown_with_its_warning(caro: Caro) -> None:
    first = caro.handle("list all python files")
    script = _script(dataclasses.replace(first, alternatives=(caro.handle(SORT),)), count=2)
    assert _said(script, 1) == f"1. {first.command}\n2. {SORT_TEMPLATE}\n"
    assert "   warning: a template: fill in <file> before running it" in _said(script, 2)
    assert (script["plan"], script["exit_code"]) == ("show", 0)
    alone = _script(dataclasses.replace(caro.handle(SORT), alternatives=(first,)), count=2)
    assert alone["exit_code"] == 0 and _said(alone, 1).startswith(f"1. {SORT_TEMPLATE}\n")


# -- the real CLI ---------------------------------------------------------------------------------


@BOTH_WAYS
@pytest.mark.parametrize("flags", [["-x"], ["-x", "-y"]], ids=["x", "x-y"])
def test_execute_on_a_template_exits_14_and_changes_no_file(work: Path, env: dict[str, str], serve: bool, flags: list[str]) -> None:
    before = _contents(work)
    done = _run([*flags, SORT], work, env, serve=serve)
    assert done.returncode == ExitCode.FILL_IN, done.stderr
    assert done.stdout == "" and "caro: a template: fill in <file> first, then run it" in done.stderr
    assert _contents(work) == before  # notes.txt still says "keep me"; nothing created


@BOTH_WAYS
def test_json_execute_on_a_template_says_14_and_not_executed(work: Path, env: dict[str, str], serve: bool) -> None:
    done = _run(["--output", "json", "-x", "-y", COPY], work, env, serve=serve)
    data = json.loads(done.stdout)
    assert done.returncode == data["exit_code"] == ExitCode.FILL_IN
    assert data["slots"] == ["source", "dest"] and data["executed"] is False


def test_a_blocked_template_exits_blocked(work: Path, env: dict[str, str]) -> None:
    done = _run(["-x", "-y", DISK], work, env, serve=False)
    assert done.returncode == ExitCode.BLOCKED and "blocked" in done.stderr


@BOTH_WAYS
def test_the_key_binding_gets_the_template_for_the_line(work: Path, env: dict[str, str], serve: bool) -> None:
    # What the binding runs (docs/shell.md): the request on stdin, --dry-run, plain output.
    done = _run(["--dry-run", "--output", "plain", "--shell", "bash"], work, env, serve=serve, stdin=SORT)
    assert done.returncode == 0 and done.stdout == SORT_TEMPLATE + "\n"
    assert "fill in <file>" in done.stderr


@pytest.fixture
def model() -> Iterator[ScriptedModel]:
    server = ScriptedModel([SORT_TEMPLATE])
    yield server
    server.stop()


@BOTH_WAYS
def test_a_models_template_never_runs_either(work: Path, model: ScriptedModel, serve: bool) -> None:
    before = _contents(work)
    request = "put the lines of some file in order into the notes"  # not the table's: the model answers
    done = _run(["-x", "-y", request], work, model.settings(), serve=serve)
    assert done.returncode == ExitCode.FILL_IN, done.stderr
    assert "generated by a language model" in done.stderr and f"caro: not run: {SORT_TEMPLATE}" in done.stderr
    assert _contents(work) == before and model.asked


# -- the interactive prompt, in real caro processes on a terminal -----------------------------------------


@BOTH_WAYS
def test_the_prompt_offers_edit_not_run_and_runs_the_filled_in_command(work: Path, env: dict[str, str], serve: bool) -> None:
    child = spawn([SORT], work, serve=serve, env=env)
    child.expect(FILL_IN_MENU)
    assert f"$ {SORT_TEMPLATE}" in child.before and "warning: a template: fill in <file>" in child.before
    said = choose(child, "y", then=FILL_IN_MENU)
    assert "caro: a template never runs as it stands; edit it to fill in <file>" in said
    assert "copied" in choose(child, "c", then=FILL_IN_MENU)  # copy is offered: fill it in elsewhere
    assert _contents(work)["notes.txt"] == "keep me\n"
    choose(child, "e", then="edit: ")
    child.expect_exact(SORT_TEMPLATE)  # the line editor holds the template, ready to fill in
    child.send("\x15sort file -o sorted.txt\r")
    child.expect(r"\[y\] run  \[e\] edit  \[r\] revise  \[x\] explain  \[c\] copy  \[q\] quit > ")
    assert "$ sort file -o sorted.txt" in child.before and "fill in" not in child.before
    child.send("y")
    assert finish(child) == 0
    assert (work / "sorted.txt").read_text() == "a\nb\n" and (work / "notes.txt").read_text() == "keep me\n"


@BOTH_WAYS
@pytest.mark.parametrize("key", ["q", "\r"], ids=["q", "enter"])
def test_quitting_a_template_exits_14(work: Path, env: dict[str, str], serve: bool, key: str) -> None:
    before = _contents(work)
    child = spawn([SORT], work, serve=serve, env=env)
    child.expect(FILL_IN_MENU)
    child.send(key)
    assert finish(child) == ExitCode.FILL_IN
    assert _contents(work) == before


def test_a_template_that_needs_confirmation_says_what_to_fill_in(work: Path, env: dict[str, str]) -> None:
    child = spawn([COPY], work, serve=False, env=env)
    child.expect(r"fill in <source> and <dest>: \[e\] edit  \[r\] revise  \[x\] explain  \[c\] copy  \[q\] quit > ")
    assert "needs confirmation before it runs" in child.before  # the judgement still says so above
    assert "edit it to fill in <source> and <dest>" in choose(child, "y", then=r"\[q\] quit > ")
    child.send("q")
    assert finish(child) == ExitCode.FILL_IN


def test_y_alone_at_a_terminal_asks_nothing_about_a_template(work: Path, env: dict[str, str]) -> None:
    child = spawn(["-y", SORT], work, serve=False, env=env)
    assert finish(child) == ExitCode.FILL_IN
    assert "[y/N]" not in child.before and "quit >" not in child.before and "fill in <file> first" in child.before
    assert _contents(work)["notes.txt"] == "keep me\n"

