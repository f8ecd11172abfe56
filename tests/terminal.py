"""Running `caro` as a real process on a pseudo-terminal (pexpect): what a person at a terminal sees.

`at_terminal` gives the process a terminal for stdin and stderr (and for stdout, unless
`stdout_file` takes stdout to a file: then what the terminal shows is stderr alone), lets it
finish, and returns its exit status, the terminal's bytes and the file's.
"""

from __future__ import annotations

import os
import shlex
import signal
from dataclasses import dataclass
from pathlib import Path

import pexpect

from tests.conftest import caro_executable


@dataclass(frozen=True)
class Seen:
    status: int  # the exit code; 128 + N for a signal
    screen: str  # everything the terminal received (stderr, and stdout unless it went to the file)
    stdout: str | None  # what went to `stdout_file`, when one was given


def as_at_a_terminal() -> None:
    """Run in a test's child before it execs caro: Ctrl-C (SIGINT) at its default, as a terminal's
    shell starts a foreground command. Tests started from a background job without job control
    (`cmd &` in a script) inherit SIGINT ignored, and an ignored SIGINT stays ignored across exec:
    no Ctrl-C would reach caro (a CI started that way failed every Ctrl-C test)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(argv: list[str], *, env: dict[str, str] | None = None, cwd: Path | str | None = None,
          stdout_file: Path | None = None, program: str | None = None, timeout: float = 120) -> pexpect.spawn:
    """`caro ARGV` started on a terminal (80x400), stdout to `stdout_file` when given."""
    command = shlex.join([program or caro_executable(), *argv])
    if stdout_file is not None:
        command += f" >{shlex.quote(str(stdout_file))}"
    return pexpect.spawn(
        "/bin/sh", ["-c", f"exec {command}"], env={**os.environ, **(env or {})}, cwd=str(cwd) if cwd else None,
        dimensions=(80, 400), timeout=timeout, encoding="utf-8", codec_errors="replace", preexec_fn=as_at_a_terminal,
    )


def finish(child: pexpect.spawn, stdout_file: Path | None = None) -> Seen:
    """Read until the process ends; its status, the screen and the stdout file."""
    child.expect(pexpect.EOF)
    child.close()
    status = child.exitstatus if child.exitstatus is not None else 128 + (child.signalstatus or 0)
    stdout = stdout_file.read_text(encoding="utf-8") if stdout_file is not None else None
    return Seen(status, child.before or "", stdout)


def at_terminal(argv: list[str], **options: object) -> Seen:
    """`caro ARGV` run to its end on a terminal (see `spawn`)."""
    child = spawn(argv, **options)  # type: ignore[arg-type]
    return finish(child, options.get("stdout_file"))  # type: ignore[arg-type]


def typer_program(tmp_path: Path) -> str:
    """A program that runs `caro` through `pipeline.cli.main.main` (the typer path), not the console script."""
    script = tmp_path / "caro-typer"
    python = Path(caro_executable()).parent / "python"
    script.write_text(f"#!{python}\nimport sys\nfrom pipeline.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")
    script.chmod(0o755)
    return str(script)
