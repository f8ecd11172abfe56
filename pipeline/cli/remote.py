"""The client's half of `caro REQUEST` and `caro check` answered by the service.

The client sends the text, the options as given, and its surroundings (environment, working
and home folders, whether a person sits at the terminal); the service loads the settings,
runs the pipeline and replies with the script to perform (`pipeline/cli/perform.py`) and the
`Result` JSON. The client performs it (writes, asks, runs the command here), then tells the
service whether the command ran, so that it can store the request's telemetry, and prints
what the service says back (the data object after a run, telemetry notes under --verbose).

`Unavailable` before anything was performed means: answer in this process instead. After the
command ran, nothing is retried: a command never runs twice.

Light on purpose: the request path imports it.
"""

from __future__ import annotations

import os
import sys
import time

from pipeline.cli.perform import perform, write
from pipeline.cli.spinner import Spinner, output_known_plain
from pipeline.serve.client import Service
from pipeline.serve.endpoint import Unavailable

TYPE_CHECKING = False  # typing's own flag, without importing typing (2 ms) on the request path
if TYPE_CHECKING:
    from typing import Any


def _message(op: str, text: str, flags: dict[str, Any]) -> dict[str, Any]:
    try:
        cwd = os.getcwd()
    except OSError:
        raise Unavailable("the working directory is gone") from None
    tty = sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()
    return {"op": op, "text": text, "flags": flags, "env": dict(os.environ), "cwd": cwd,
            "home": os.path.expanduser("~"), "tty": tty, "stdout_tty": sys.stdout is not None and sys.stdout.isatty()}


def ask_service(op: str, text: str, flags: dict[str, Any], *, verbose: bool) -> int:
    """Ask the service to answer `op` ("run" or "check") for `text`, perform its answer; the exit code."""
    from pipeline.cli.main import started

    message = _message(op, text, flags)
    spinner, starting = _spinners(flags)
    try:
        service = Service.connect(spinner=starting)
    finally:
        spinner.rest()
    try:
        reply = service.ask(message, spinner=spinner)
        if reply.get("pull"):  # the model is missing: download it here (the progress bar is the user's), then ask again
            spinner.rest()
            service.close()
            _pull(flags, verbose)
            service = Service.connect(spinner=starting)
            reply = service.ask(message, spinner=spinner)
        spinner.rest()  # erased before anything of the answer is written
        script = reply["script"]
        menu = None
        if script["plan"] == "menu":  # the interactive prompt: its questions go to the service on this connection
            from pipeline.cli.interactive import Menu, ServiceAnswers

            menu = Menu(ServiceAnswers(service, flags, verbose), text)
        executed, code = perform(script, menu)
        if reply.get("then") != "done":
            return code
        try:
            done = {"op": "done", "executed": executed, "exit_code": code, "elapsed_ms": (time.perf_counter() - started()) * 1000}
            final = service.ask({**done, "actions": menu.taken} if menu is not None else done, first=False)
        except Unavailable:  # gone after the answer: the telemetry is lost, the output is not
            final = {"out": _data_after_run(reply, script, code) if executed else []}
        for fd, line in final.get("out", ()):
            write(fd, line)
        return code
    finally:
        spinner.rest()  # Ctrl-C while waiting: "caro: interrupted" starts on a clean line
        service.close()


def _spinners(flags: dict[str, Any]) -> tuple[Spinner, Spinner | None]:
    """The sign of life while the service works (it says when: plain output only), and the same while one starts
    (only when this client can tell cheaply that the output is plain)."""
    from pipeline.cli.fast import default_config_file

    spinner = Spinner(sys.stderr is not None and sys.stderr.isatty())
    config = flags.get("config") or os.environ.get("CARO_CONFIG") or default_config_file(os.environ)
    starting = spinner if spinner.enabled and output_known_plain(flags.get("output"), os.environ, config) else None
    return spinner, starting


def _pull(flags: dict[str, Any], verbose: bool) -> None:
    from pathlib import Path

    from pipeline.cli.common import settings_from
    from pipeline.cli.run import pull_configured_model

    config = flags.get("config")
    settings = settings_from(
        Path(config) if config else None, output=flags.get("output"), shell=flags.get("shell"), safety=flags.get("safety")
    )
    pull_configured_model(settings, verbose)


def _data_after_run(reply: dict[str, Any], script: dict[str, Any], code: int) -> list[tuple[int, str]]:
    if not script.get("data"):
        return []
    from pipeline.cli.common import data_text
    from pipeline.settings import OutputFormat

    return [(1, data_text({**reply["result"], "executed": True, "exit_code": code}, OutputFormat(script["data"])))]


def ask_once(op: str, text: str, flags: dict[str, Any]) -> dict[str, Any] | None:
    """The service's reply to one `op` for `text` (`caro dag --execution`); None when it cannot be used."""
    from pipeline.cli.main import uses_service

    if not uses_service():
        return None
    try:
        message = _message(op, text, flags)
        service = Service.connect()
        try:
            return service.ask(message)
        finally:
            service.close()
    except Unavailable:
        return None


class ServicePipeline:
    """The service's pipeline, called like a `Caro` (`handle`, `check`) over one connection (`caro eval`).

    Should the service go away, the rest of the requests are answered by a pipeline loaded here.
    """

    def __init__(self, flags: dict[str, Any], fallback: Any) -> None:
        self.flags = flags
        self._fallback = fallback  # () -> Caro, made only if needed
        self._local: Any = None
        self._service: Service | None = Service.connect()
        self._first = True

    def handle(self, request: str, options: Any = None) -> Any:
        return self._answer(request, "request", options)

    def check(self, command: str, options: Any = None) -> Any:
        return self._answer(command, "command", options)

    def _answer(self, text: str, kind: str, options: Any) -> Any:
        if self._service is not None:
            from pipeline.serve.wire import result_from_wire

            wanted = {} if options is None else {
                "safety": options.safety.value, "shell": options.shell.value if options.shell else None,
                "userland": options.userland.value if options.userland else None,
                "cwd": options.working_directory, "home": options.home_directory,
            }
            message = {"op": "handle", "text": text, "kind": kind, "options": wanted}
            if self._first:
                message = {**_message("handle", text, self.flags), **message}
            try:
                reply = self._service.ask(message, first=self._first)
                self._first = False
                return result_from_wire(reply["result"])  # type: ignore[arg-type]
            except Unavailable:
                self._service.close()
                self._service = None
        if self._local is None:
            self._local = self._fallback()
        from pipeline.service import RequestOptions
        from pipeline.values import TextKind

        return self._local.run(text, TextKind(kind), options or RequestOptions()).result

    def close(self) -> None:
        if self._service is not None:
            self._service.close()


def pipeline_for(settings: Any, config: Any) -> Any:
    """The service's pipeline when the console script may use it, else one loaded here (a `Caro`)."""
    from pipeline.cli.main import uses_service
    from pipeline.service import Caro

    if uses_service() and settings["serve.enabled"]:
        flags = {"config": os.path.abspath(config) if config is not None else None}
        try:
            return ServicePipeline(flags, lambda: Caro.from_settings(settings))
        except Unavailable:
            pass
    return Caro.from_settings(settings)
