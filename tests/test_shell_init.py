"""`caro init bash|zsh|fish`: the key binding, driven in real shells under a pseudo-terminal.

Each test starts a real interactive bash, zsh or fish with a temporary HOME and a minimal rc
file that loads `caro init SHELL`, types on the prompt line, presses the key, and reads the
line buffer back through a second test-only binding (Ctrl-X d) that prints it base64-encoded
with the cursor position, so the comparison is exact whatever the characters. The command
after Enter is read back from the shell's own history the same way (Ctrl-X h). Requests come
from the static table, so no model is needed. A shell that is not installed is skipped here
and fails in CI (the CI environment variable), where `.ci/run` installs zsh and fish.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pexpect  # a test dependency (pyproject's test extra)
import pytest

from tests.conftest import REPO, caro_executable

SHELLS = ("bash", "zsh", "fish")
TIMEOUT_S = 90  # a loaded two-core machine; never an assertion on time
REQUEST = "find python files modified last week"
BLOCKED = "rm -rf /"
CONFIRM = "chmod -R 777 ./scratch"
ALT_E = "\x1be"
DUMP_LINE = "\x18d"  # Ctrl-X d: the test binding that prints the line buffer and cursor
DUMP_HISTORY = "\x18h"  # Ctrl-X h: the test binding that prints the last history entry
UNDO = {"bash": "\x1f", "zsh": "\x1f", "fish": "\x1a"}  # Ctrl-_ in readline and zle, Ctrl-Z in fish
_DUMP = re.compile(rb"BUF<([A-Za-z0-9+/=]*)>POS<(\d+)>")
_HIST = re.compile(rb"HIST<([A-Za-z0-9+/=]*)>")

# Per shell: the rc file (loading the real caro's snippet by absolute path, so a stand-in
# `caro` earlier on PATH only ever answers the binding) and the test bindings.
_RC = {
    "bash": r"""
PS1='PROMPT> '
HISTFILE="$HOME/.bash_history"
HISTSIZE=1000
eval "$(@CARO@ init bash @KEY@)"
__t_b64() { printf %s "$1" | base64 | tr -d '\n'; }
__t_line() { printf '\nBUF<%s>POS<%s>\n' "$(__t_b64 "$READLINE_LINE")" "$READLINE_POINT"; }
__t_hist() { local last; last=$(HISTTIMEFORMAT= history 1); last=${last#*[0-9]  }; printf '\nHIST<%s>\n' "$(__t_b64 "$last")"; }
bind -x '"\C-xd": __t_line'
bind -x '"\C-xh": __t_hist'
""",
    "zsh": r"""
PS1='PROMPT> '
HISTFILE="$HOME/.zsh_history"
HISTSIZE=1000
SAVEHIST=1000
eval "$(@CARO@ init zsh @KEY@)"
__t_b64() { print -rn -- "$1" | base64 | tr -d '\n'; }
__t_line() { zle -I; printf '\nBUF<%s>POS<%s>\n' "$(__t_b64 "$BUFFER")" "$CURSOR"; }
__t_hist() { zle -I; printf '\nHIST<%s>\n' "$(__t_b64 "$(fc -ln -1)")"; }
zle -N __t_line
zle -N __t_hist
bindkey '^Xd' __t_line
bindkey '^Xh' __t_hist
""",
    "fish": r"""
set -g fish_greeting ''
set -g fish_autosuggestion_enabled 0
function fish_prompt; printf 'PROMPT> '; end
function fish_right_prompt; end
function fish_title; end
@CARO@ init fish @KEY@ | source
function __t_b64; printf %s $argv[1] | base64 | tr -d '\n'; end
function __t_line
    set -l line (commandline | string collect)
    printf '\nBUF<%s>POS<%s>\n' (__t_b64 "$line") (commandline -C)
    commandline -f repaint
end
function __t_hist
    printf '\nHIST<%s>\n' (__t_b64 "$history[1]")
    commandline -f repaint
end
bind \cxd __t_line
bind \cxh __t_hist
""",
}


def _installed(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{shell} is not installed; CI must have it (.ci/run installs zsh and fish)")
        pytest.skip(f"{shell} is not installed here (CI installs it and fails without it)")
    return path


@dataclass
class Session:
    """An interactive shell under a pseudo-terminal, with the caro binding loaded."""

    shell: str
    child: object  # pexpect.spawn
    home: Path

    def expect(self, pattern: bytes | re.Pattern[bytes]) -> re.Match[bytes]:
        self.child.expect(pattern, timeout=TIMEOUT_S)  # type: ignore[attr-defined]
        return self.child.match  # type: ignore[attr-defined]

    def send(self, keys: str) -> None:
        self.child.send(keys)  # type: ignore[attr-defined]

    def seen(self) -> bytes:
        """What the terminal received up to the last match."""
        return self.child.before  # type: ignore[attr-defined]

    def line(self) -> tuple[str, int]:
        """The prompt line's buffer and cursor position, exactly."""
        self.send(DUMP_LINE)
        match = self.expect(_DUMP)
        return base64.b64decode(match.group(1)).decode("utf-8"), int(match.group(2))

    def last_history(self) -> str:
        self.send(DUMP_HISTORY)
        return base64.b64decode(self.expect(_HIST).group(1)).decode("utf-8").strip()

    def run(self, keys: str) -> bytes:
        """Type `keys`, press the caro key, and return what was printed until the line is read back."""
        self.send(keys)
        self.send(ALT_E)
        self.send(DUMP_LINE)
        self.expect(_DUMP)
        return self.seen()


def _start(
    shell: str, home: Path, *, key: str = "", path_first: Path | None = None, extra_env: dict[str, str] | None = None
) -> Session:
    binary = _installed(shell)
    rc = _RC[shell].replace("@CARO@", caro_executable()).replace("@KEY@", f"--key {key}" if key else "")
    env = {
        "HOME": str(home),
        "PATH": os.pathsep.join(p for p in (str(path_first or ""), str(Path(sys.executable).parent), os.environ.get("PATH", "")) if p),
        "TERM": "xterm",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "CARO_HOME": os.environ["CARO_HOME"],
        "CARO_BACKEND": "none",  # no model: every answer comes from the static table or is a typed command
        "CARO_PIP_ARGS": "--no-index",
        "TMPDIR": str(home),
        **(extra_env or {}),
    }
    if shell == "bash":
        (home / ".bashrc").write_text(rc)
        argv = ["--noprofile", "--rcfile", str(home / ".bashrc"), "-i"]
    elif shell == "zsh":
        (home / ".zshrc").write_text(rc)
        env["ZDOTDIR"] = str(home)
        argv = ["-d", "-i"]  # -d: no /etc/zsh rc files, only ours
    else:
        config = home / ".config" / "fish"
        config.mkdir(parents=True)
        (config / "config.fish").write_text(rc)
        env["XDG_CONFIG_HOME"] = str(home / ".config")
        env["XDG_DATA_HOME"] = str(home / ".local" / "share")
        argv = ["-i"]
    child = pexpect.spawn(binary, argv, env=env, cwd=str(home / "work"), dimensions=(50, 400), timeout=TIMEOUT_S)
    session = Session(shell, child, home)
    session.expect(b"PROMPT> ")
    return session


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home" / "work").mkdir(parents=True)
    return tmp_path / "home"


@pytest.fixture(params=SHELLS)
def session(request: pytest.FixtureRequest, home: Path) -> Iterator[Session]:
    started = _start(request.param, home)
    yield started
    started.child.close(force=True)  # type: ignore[attr-defined]


def _dry_run(request: str, shell: str) -> str:
    """The command caro prints for `request` (the binding must put exactly this on the line)."""
    done = subprocess.run(
        [caro_executable(), "--dry-run", "--output", "plain", "--shell", "sh" if shell == "fish" else shell],
        input=request, capture_output=True, text=True, check=False,
    )
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    return done.stdout.removesuffix("\n")


def test_the_key_puts_the_command_on_the_line_and_only_enter_runs_it(session: Session) -> None:
    expected = _dry_run(REQUEST, session.shell)
    (session.home / "work" / "hit.py").write_text("")  # something for find to find once it runs
    session.run(REQUEST)
    assert session.line() == (expected, len(expected.encode()) if session.shell == "bash" else len(expected))
    # Undo brings the request back; the key again brings the command.
    session.send(UNDO[session.shell])
    assert session.line()[0] == REQUEST
    session.run("")
    assert session.line()[0] == expected
    session.send("\r")
    session.expect(rb"\./hit\.py")  # it ran, in the shell, after Enter
    session.expect(b"PROMPT> ")
    assert session.last_history() == expected  # history holds what ran, not the request


def test_a_blocked_command_never_reaches_the_line(session: Session) -> None:
    printed = session.run(BLOCKED)
    assert b"blocked" in printed and b"Deletes the root filesystem" in printed
    # The reason comes above the prompt, which is drawn again with the request still on it.
    assert printed.rfind(b"Deletes the root filesystem") < printed.rfind(b"PROMPT> ")
    assert session.line() == (BLOCKED, len(BLOCKED))
    session.send("\x03")  # Ctrl-C: drop the line; it is never run


def test_a_confirm_level_command_goes_on_the_line_with_its_warning(session: Session) -> None:
    scratch = session.home / "work" / "scratch"
    scratch.mkdir(mode=0o755)
    printed = session.run(CONFIRM)
    assert b"confirm" in printed and b"needs confirmation" in printed
    assert session.line()[0] == CONFIRM
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o755  # on the line, not run
    session.send("\r")
    session.expect(b"PROMPT> ")
    assert session.last_history() == CONFIRM
    assert stat.S_IMODE(scratch.stat().st_mode) == 0o777  # Enter ran it


# What a stand-in `caro` answers, to prove the binding only ever puts text on the line: command
# substitutions, backticks, quotes of both kinds, `$`, backslashes, a glob and a newline.
HOSTILE = "echo \"$(touch sub1)\" `touch sub2` 'it'\\''s' $HOME \\\\ *; touch semi\nprintf '%s\\n' \"$(touch sub3)\""
HOSTILE_REQUEST = "name it \"a b\" and 'c' for $5 \\ now"
_STAND_IN = """#!/bin/sh
printf '%s\\n' "$@" > "$CARO_STAND_IN/argv"
cat > "$CARO_STAND_IN/request"
cat "$CARO_STAND_IN/reply"
echo "stand-in: a message for the person" >&2
exit "$(cat "$CARO_STAND_IN/code")"
"""


@pytest.fixture(params=SHELLS)
def stand_in(request: pytest.FixtureRequest, home: Path) -> Iterator[tuple[Session, Path]]:
    """A shell whose binding reaches a stand-in `caro` that records its input and prints a set reply."""
    folder = home / "stand-in"
    (folder / "bin").mkdir(parents=True)
    script = folder / "bin" / "caro"
    script.write_text(_STAND_IN)
    script.chmod(0o755)
    started = _start(request.param, home, path_first=folder / "bin", extra_env={"CARO_STAND_IN": str(folder)})
    yield started, folder
    started.child.close(force=True)  # type: ignore[attr-defined]


def _answer(folder: Path, reply: str, code: int = 0) -> None:
    (folder / "reply").write_text(reply + "\n")
    (folder / "code").write_text(str(code))


def test_the_binding_never_runs_the_answer_and_passes_the_request_verbatim(stand_in: tuple[Session, Path]) -> None:
    session, folder = stand_in
    _answer(folder, HOSTILE)
    printed = session.run(HOSTILE_REQUEST)
    assert b"stand-in: a message for the person" in printed  # caro's stderr is shown
    assert session.line()[0] == HOSTILE  # exactly the text, newline included
    work = session.home / "work"
    assert not [p.name for p in work.iterdir()]  # no substitution ran: sub1, sub2, sub3, semi absent
    assert not list(session.home.glob("caro.*"))  # the binding's scratch file for caro's messages is gone
    # The request went on stdin, byte for byte; argv holds only the fixed options.
    assert (folder / "request").read_text() == HOSTILE_REQUEST
    shell_option = "sh" if session.shell == "fish" else session.shell
    assert (folder / "argv").read_text().split("\n")[:-1] == ["--dry-run", "--output", "plain", "--shell", shell_option]
    session.send("\x03")


@pytest.mark.parametrize(
    ("reply", "code", "message"),
    [
        ("ls -la", 10, b"stand-in"),  # only exit 0 puts anything on the line
        ("ls -la", 12, b"stand-in"),
        ("echo hidden\x1b[2K\rls", 0, b"control characters"),  # text that could hide part of itself
    ],
)
def test_the_line_stays_unless_caro_answers_plainly(stand_in: tuple[Session, Path], reply: str, code: int, message: bytes) -> None:
    session, folder = stand_in
    _answer(folder, reply, code)
    printed = session.run("list the files")
    assert message in printed
    assert session.line() == ("list the files", len("list the files"))
    session.send("\x03")


@pytest.mark.parametrize("shell", SHELLS)
def test_the_key_is_configurable(shell: str, home: Path) -> None:
    session = _start(shell, home, key="ctrl-g")
    try:
        expected = _dry_run(REQUEST, shell)
        session.send(REQUEST + "\x07")  # Ctrl-G
        assert session.line()[0] == expected
        session.send("\x03")
    finally:
        session.child.close(force=True)  # type: ignore[attr-defined]


# `caro init` itself, without a terminal.

_SYNTAX_CHECK = {"bash": ["bash", "-n"], "zsh": ["zsh", "-n"], "fish": ["fish", "--no-execute"]}
_NOTATION = {
    ("bash", "alt-e"): "\"\\ee\": __caro_edit", ("zsh", "alt-e"): "'^[e' __caro_edit", ("fish", "alt-e"): "bind \\ee __caro_edit",
    ("bash", "ctrl-g"): "\"\\C-g\": __caro_edit", ("zsh", "ctrl-g"): "'^G' __caro_edit", ("fish", "ctrl-g"): "bind \\cg __caro_edit",
    ("bash", "ctrl-alt-x"): "\"\\e\\C-x\": __caro_edit", ("zsh", "ctrl-alt-x"): "'^[^X' __caro_edit",
    ("fish", "ctrl-alt-x"): "bind \\e\\cx __caro_edit",
}


def _init(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([caro_executable(), "init", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize(("shell", "key"), sorted(_NOTATION))
def test_init_prints_a_snippet_that_parses_and_binds_the_key(shell: str, key: str) -> None:
    done = _init(shell, "--key", key)
    assert done.returncode == 0 and done.stderr == ""
    assert _NOTATION[(shell, key)] in done.stdout and "@CARO_" not in done.stdout
    if shutil.which(shell):
        check = subprocess.run([*_SYNTAX_CHECK[shell]], input=done.stdout, capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stderr


def test_init_takes_the_key_from_the_setting_and_refuses_bad_keys(tmp_path: Path) -> None:
    assert "'^[e' __caro_edit" in _init("zsh").stdout  # the default, alt-e
    assert "'^G' __caro_edit" in _init("zsh", env={"CARO_INTEGRATION_KEY": "Ctrl-G"}).stdout
    for bad in ("ctrl-c", "ctrl-m", "alt-", "f5", "ctrl-alt-z", "alt-e; rm -rf ~", "ctrl-1"):
        done = _init("bash", "--key", bad)
        assert done.returncode == 2 and done.stdout == ""
        assert len(done.stderr.strip().splitlines()) == 1 and done.stderr.startswith("caro: error: invalid value for --key")
    done = _init("tcsh")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    config = tmp_path / "config.toml"
    config.write_text('[integration]\nkey = "ctrl-s"\n')
    done = _init("fish", "--config", str(config))
    # A bad value in the user's file is a config error (exit 1) that names the setting.
    assert done.returncode == 1 and "integration.key" in done.stderr and "flow control" in done.stderr and done.stdout == ""


def test_the_snippets_ship_in_the_wheel() -> None:
    import fnmatch
    import tomllib

    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["configs.shell"]
    for shell in SHELLS:
        name = f"caro.{shell}"
        assert (REPO / "configs" / "shell" / name).is_file()
        assert any(fnmatch.fnmatch(name, p) for p in patterns), name
    assert any(fnmatch.fnmatch("explain.toml", p) for p in data["tool"]["setuptools"]["package-data"]["configs"])


def test_ci_installs_zsh_and_fish_before_the_tests() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    install = ci.find("apt-get install")
    assert install != -1 and "zsh" in ci[install:install + 200] and "fish" in ci[install:install + 200]
    assert install < ci.find("python -m pytest")
