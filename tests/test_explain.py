"""`caro explain`: a command line in plain words, from the parser and the utilities' own docs.

The flags' meanings come from `--help` where the utility is marked safe to ask, else its man
page, else caro's table (configs/explain.toml), so the assertions accept any of those sources
and check the words each of them uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.explain import DocSource, Link, explain
from pipeline.explain.helptext import ValueKind, parse_entries
from tests.conftest import REPO, caro_executable

PIPELINE = "find . -name '*.py' -mtime -7 | xargs wc -l"


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["explain", "--output", "json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_flags_and_pipes_are_described(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", PIPELINE]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == PIPELINE
    assert "1. find . -name '*.py' -mtime -7" in lines and "2. xargs wc -l" in lines
    name = next(line for line in lines if line.strip().startswith("-name *.py"))
    assert "pattern" in name.lower()  # man: "matches shell pattern"; table: "matches the shell pattern"
    mtime = next(line for line in lines if line.strip().startswith("-mtime -7"))
    assert "modified" in mtime
    assert "arguments: ." in out
    assert "| its output is the input of the next step" in out
    assert "items it reads from its input added as arguments" in out
    wc = next(line for line in lines if line.strip().startswith("-l "))
    assert "newline counts" in wc  # GNU wc --help, or its man page


def test_the_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    data = _json(capsys, PIPELINE)
    assert set(data) == {"command", "parsed", "problem", "steps", "redirections", "verdict"}
    assert data["command"] == PIPELINE and data["parsed"] is True and data["problem"] is None
    find, xargs = data["steps"]
    assert set(find) == {
        "text", "utility", "installed", "summary", "summary_source", "options", "arguments", "assignments",
        "redirections", "notes", "where", "next", "runs",
    }
    assert find["utility"] == "find" and find["next"] == "pipe" and find["arguments"] == ["."]
    assert [(o["flag"], o["value"]) for o in find["options"]] == [("-name", "*.py"), ("-mtime", "-7")]
    assert all(o["source"] in ("help", "man", "caro") and o["meaning"] for o in find["options"])
    assert find["summary"] and find["summary_source"] in ("man", "caro")
    assert xargs["utility"] == "xargs" and xargs["next"] is None
    (wc,) = xargs["runs"]
    assert wc["utility"] == "wc" and [o["flag"] for o in wc["options"]] == ["-l"]
    assert data["verdict"] == {
        "risk": "safe", "action": "allowed", "categories": [], "explanation": data["verdict"]["explanation"],
        "warnings": data["verdict"]["warnings"],
    }


def test_redirections_and_list_operators_in_words(capsys: pytest.CaptureFixture[str]) -> None:
    command = "sort data.txt > sorted.txt 2>/dev/null && cat < sorted.txt >> all.txt || echo failed 1>&2; ls &> listing"
    assert main(["explain", command]) == 0
    out = capsys.readouterr().out
    for words in (
        "writes its output to the file sorted.txt, replacing it",
        "discards its errors",
        "&& the next step runs only if this one succeeds",
        "reads its input from the file sorted.txt",
        "appends its output to the file all.txt",
        "|| the next step runs only if this one fails",
        "sends its output where its errors goes",
        "; then the next step runs",
        "writes its output and errors to the file listing, replacing it",
    ):
        assert words in out, words
    steps = explain(command).steps
    assert [s.next for s in steps] == [Link.AND, Link.OR, Link.THEN, None]


def test_loops_substitutions_wrappers_and_find_exec() -> None:
    steps = explain('for f in *.txt; do mv "$f" "${f%.txt}.md"; done').steps
    assert steps[0].utility == "mv" and steps[0].where == "in a for loop, once for each value of f"
    assert steps[0].arguments == ("$f", "${…}.md")
    outer, inner = explain("tar -czf backup.tgz $(ls -d */)").steps
    assert outer.arguments == ("$(…)",) and [o.flag for o in outer.options] == ["-c", "-z", "-f"]
    assert inner.where is not None and "step 1" in inner.where
    (sudo,) = explain("sudo -u root env A=1 rm -rf ./build").steps
    assert sudo.utility == "sudo" and "as another user" in sudo.notes[0]
    (env,) = sudo.runs
    (rm,) = env.runs
    assert env.arguments == ("A=1",) and rm.utility == "rm" and rm.arguments == ("./build",)
    assert [o.flag for o in rm.options] == ["-r", "-f"]
    (find,) = explain("find . -type f -exec rm -f {} +").steps
    assert [(o.flag, o.value) for o in find.options] == [("-type", "f"), ("-exec", "rm -f {} +")]
    assert find.runs[0].utility == "rm" and find.runs[0].arguments == ("{}",)
    (shell,) = explain("sh -c 'date | tee -a log'").steps
    assert [s.utility for s in shell.runs] == ["date", "tee"] and shell.runs[0].next is Link.PIPE
    (heredoc,) = explain("cat <<EOF\none\ntwo\nEOF").steps
    assert heredoc.redirections[0].meaning == "reads its input from the here-document that follows (2 lines)"


def test_the_verdict_is_caro_checks_and_a_blocked_command_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    command = f"touch {marker} && rm -rf /"
    done = subprocess.run([caro_executable(), "explain", command], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    assert "verdict: blocked (risk: critical)" in done.stdout and "Deletes the root filesystem" in done.stdout
    assert "1. touch" in done.stdout and "2. rm -rf /" in done.stdout
    assert not marker.exists()
    check = subprocess.run([caro_executable(), "check", "--output", "json", command], capture_output=True, text=True, check=False)
    judged = json.loads(check.stdout)
    data = json.loads(subprocess.run([caro_executable(), "explain", "-o", "json", command], capture_output=True, text=True, check=False).stdout)
    assert (data["verdict"]["risk"], data["verdict"]["action"]) == (judged["risk"], judged["action"]) == ("critical", "blocked")
    assert data["verdict"]["categories"] == judged["categories"]


_RECORDER = """#!/bin/sh
printf '%s %s\\n' "$(basename "$0")" "$*" >> "{log}"
echo "  -l, --lines   print the newline counts (from the recorder)"
"""


def test_only_documentation_is_run_and_only_for_safe_utilities(tmp_path: Path) -> None:
    """Utilities on PATH are never run, except `NAME --help` for those marked safe to ask."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name in ("wc", "dangerzone", "shutdown"):
        script = bin_dir / name
        script.write_text(_RECORDER.format(log=log))
        script.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    command = "dangerzone --force -l | shutdown -h now | wc -l"
    done = subprocess.run([caro_executable(), "explain", "-o", "json", command], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == ["wc --help"]  # wc is marked safe; the others are never run
    steps = json.loads(done.stdout)["steps"]
    assert steps[2]["options"] == [{"flag": "-l", "value": None, "meaning": "print the newline counts (from the recorder)", "source": "help"}]
    assert steps[0]["options"][0]["meaning"] is None  # dangerzone's flags stay unknown: it was not asked


def test_the_table_answers_where_the_machine_has_no_docs(tmp_path: Path) -> None:
    """No man, no whatis (a minimal container): summaries and find's flags come from configs/explain.toml."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("find", "xargs"):
        (bin_dir / name).symlink_to(subprocess.run(["sh", "-c", f"command -v {name}"], capture_output=True, text=True).stdout.strip())
    env = {**os.environ, "PATH": str(bin_dir)}
    done = subprocess.run([caro_executable(), "explain", "-o", "json", "find . -name '*.py' | xargs"],
                          capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    find, xargs = json.loads(done.stdout)["steps"]
    assert (find["summary"], find["summary_source"]) == ("search for files in a directory hierarchy", "caro")
    assert find["options"][0] == {"flag": "-name", "value": "*.py", "source": "caro",
                                  "meaning": "the file's name (without its directories) matches the shell pattern"}
    assert xargs["summary_source"] == "caro" and xargs["installed"] is True


@pytest.mark.parametrize(("args", "stdin"), [([], ""), (["   "], None), ([], "ls\x00-la"), ([], "\xff")])
def test_bad_input_is_one_line_and_exit_2(args: list[str], stdin: str | None) -> None:
    data = stdin.encode("latin-1") if stdin is not None else None
    done = subprocess.run([caro_executable(), "explain", *args], input=data, capture_output=True, check=False)
    assert done.returncode == 2 and done.stdout == b""
    assert len(done.stderr.decode().strip().splitlines()) == 1 and done.stderr.startswith(b"caro: error: ")
    as_json = subprocess.run([caro_executable(), "explain", "-o", "json", *args], input=data, capture_output=True, check=False)
    assert as_json.returncode == 2 and json.loads(as_json.stdout)["error"]["exit_code"] == 2


def test_stdin_an_unparsable_line_and_hidden_characters(capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run([caro_executable(), "explain", "-o", "json"], input="ls -la\n", capture_output=True, text=True, check=False)
    assert json.loads(done.stdout)["command"] == "ls -la"
    assert main(["explain", "for x in; do echo $x"]) == 0
    out = capsys.readouterr().out
    assert "caro could not parse all of it (" in out and "verdict: " in out and "unparsable" in out
    assert main(["explain", "echo \u202eeno owt"]) == 0  # a right-to-left override is spelt out
    out = capsys.readouterr().out
    assert "\u202e" not in out and "\\u202e" in out


def test_help_text_parsing_of_gnu_help_gnu_man_and_bsd_man() -> None:
    gnu_help = (
        "  -l, --lines            print the newline counts\n"
        "      --files0-from=F    read input from the files specified by\n"
        "                           NUL-terminated names in file F\n"
        "  -n, --lines=[-]NUM     print the first NUM lines\n"
        "      --color[=WHEN]     colorize the output; WHEN can be 'always'\n"
    )
    entries = parse_entries(gnu_help)
    assert entries["-l"].meaning == entries["--lines"].meaning or entries["--lines"].value is ValueKind.REQUIRED
    assert entries["--files0-from"].meaning == "read input from the files specified by NUL-terminated names in file F"
    assert entries["-n"].value is ValueKind.REQUIRED and entries["--color"].value is ValueKind.OPTIONAL
    gnu_man = "       -name pattern\n              Base of file name matches shell pattern pattern.  Be\u2010\n              cause the leading ...\n"
    assert parse_entries(gnu_man)["-name"].meaning == "Base of file name matches shell pattern pattern."
    assert parse_entries(gnu_man)["-name"].value is ValueKind.REQUIRED
    bsd_man = "     -l      The number of lines in each input file is written to the standard output.\n"
    assert parse_entries(bsd_man)["-l"].meaning.startswith("The number of lines")
    overstruck = "       -\b-a\ba, -\b--\b-a\bal\bll\bl\n              do not ignore entries starting with .\n"
    assert parse_entries(overstruck)["--all"].meaning == "do not ignore entries starting with ."


def test_the_table_covers_the_utilities_and_asks_only_harmless_ones() -> None:
    table = tomllib.loads((REPO / "configs" / "explain.toml").read_text())["utilities"]
    known = tomllib.loads((REPO / "configs" / "utilities.toml").read_text())["commands"]
    assert [name for name in known if not table.get(name, {}).get("summary")] == []
    # Utilities that act on --help as an operand, open a pager or an interactive program, or
    # change the machine are never asked.
    never = {"less", "more", "man", "vi", "vim", "top", "htop", "git", "docker", "shutdown", "reboot", "halt",
             "hostname", "mkfs", "fdisk", "parted", "shred", "make", "ssh", "python", "node", "sudo", "su"}
    assert never.isdisjoint(name for name, spec in table.items() if spec.get("help"))
    assert DocSource.TABLE.value == "caro"
