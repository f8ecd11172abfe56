"""A request answered in caro's own process, with its model work contained in a forked child.

When the caro service cannot answer (switched off, its runtime folder unusable, gone), caro runs
the pipeline itself. llama.cpp aborts the whole process on some damaged model files, and the
sha256 check guards only a catalogue file that changed since it was pulled: in process, that
was the user's caro dying (exit 134, a backtrace) with nothing said. So when the settings may
use a local model, the request runs in a child forked for it from the loaded pipeline. The
parent waits on a pipe, showing a sign of life on a terminal (`pipeline/cli/spinner.py`),
and gets the `Handled` back; a child killed inside llama.cpp becomes one line naming
`caro model pull`, as when the model crashes the caro service. Ctrl-C ends the wait at once
and kills the child. A request with no model configured runs in this process, as does any
request under CARO_DEBUG (so that a traceback shows where it happened).

The child writes nothing to the terminal (its stdio is /dev/null), ignores Ctrl-C (the parent
decides), and dies with the parent.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import select
import signal
import struct
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from pipeline.cli.spinner import Spinner
from pipeline.errors import CaroError, ExitCode
from pipeline.serve.client import model_crashed

_FATAL = {signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE}
_HEADER = struct.Struct("!I")


class ContainedPipeline:
    """A `Caro` whose `run` happens in a forked child; everything else is the pipeline's own (`check` needs no model)."""

    def __init__(self, caro: Any, *, progress: bool) -> None:
        self._caro = caro
        self._progress = progress

    def run(self, *args: Any, **kwargs: Any) -> Any:
        return run_contained(lambda: self._caro.run(*args, **kwargs), progress=self._progress)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._caro, name)


def run_contained(work: Callable[[], Any], *, progress: bool) -> Any:
    """`work()` run in a forked child; its value, or its CaroError raised here. `progress`: a spinner may show."""
    for stream in (sys.stdout, sys.stderr):  # nothing buffered here may be written twice
        stream.flush()
    read_end, write_end = os.pipe()
    crash_report = tempfile.TemporaryFile()  # already unlinked: the child's fatal-signal report, read here
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _child(work, write_end, crash_report.fileno())
    os.close(write_end)
    spinner = Spinner(progress)
    try:
        answer = _wait(read_end, spinner)
    except BaseException:  # Ctrl-C, or a bug here: the child must not outlive the request
        _kill(pid)
        raise
    finally:
        spinner.clear()
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    try:
        if answer is None:
            raise _died(status, crash_report)
    finally:
        crash_report.close()
    kind, value = answer
    if kind == "error":
        raise CaroError(value["message"], code=value["code"], exit_code=ExitCode(value["exit_code"]), hint=value["hint"])
    if kind == "bug":  # reported as the bug it was: `caro: internal error (KeyError)`
        raise type(value, (Exception,), {})()
    return value


def _child(work: Callable[[], Any], out: int, crash_fd: int) -> None:
    """The forked child: do the work, send its value (or error), and exit without returning."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it kills this child
        _die_with_parent()
        quiet = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(quiet, fd)
        os.environ["GGML_NO_BACKTRACE"] = "1"  # llama.cpp's abort would print a gdb backtrace (with paths)
        faulthandler.enable(file=os.fdopen(crash_fd, "w", closefd=False), all_threads=True)
        from pipeline.backends.clock import progress_to

        try:
            with progress_to(lambda phase: _send(out, ("phase", phase))):
                value = work()
            _send(out, ("done", value))
        except CaroError as error:
            _send(out, ("error", error.as_dict()))
        except BaseException as error:  # noqa: BLE001 - a bug: its name goes to the parent, never its message
            _send(out, ("bug", type(error).__name__))
    finally:
        os._exit(0)


def _die_with_parent() -> None:
    """Ask the kernel to kill this child when its parent dies (Linux); elsewhere the parent's kill must do."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _send(fd: int, message: tuple[str, Any]) -> None:
    data = pickle.dumps(message)
    os.write(fd, _HEADER.pack(len(data)))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _wait(fd: int, spinner: Spinner) -> tuple[str, Any] | None:
    """The child's answer (phases go to the spinner); None when it ended without one."""
    buffer = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            spinner.tick()
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return None
        buffer += chunk
        while len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if len(buffer) < _HEADER.size + size:
                break
            kind, value = pickle.loads(buffer[_HEADER.size : _HEADER.size + size])
            buffer = buffer[_HEADER.size + size :]
            if kind != "phase":
                return kind, value
            spinner.phase(value)
            spinner.tick()


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


def _died(status: int, crash_report: Any) -> CaroError:
    """The error for a child that ended without an answer: the model's crash when the report proves it."""
    signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    crash_report.seek(0)
    report = crash_report.read(1 << 20)
    if signum in _FATAL and b"Fatal Python error" in report and b"llama_cpp" in report:
        return model_crashed(victim="")  # the child is caro's own affair: "the language model crashed"
    how = f"signal {signal.Signals(signum).name}" if signum is not None else f"exit status {os.WEXITSTATUS(status)}"
    return CaroError(
        f"the process answering the request ended without an answer ({how})",
        code="worker_died",
        exit_code=ExitCode.ERROR,
        hint="try again; with `caro serve` running, requests are answered by the caro service instead",
    )
