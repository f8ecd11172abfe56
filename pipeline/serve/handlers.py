"""What the service does for each operation a client asks for.

- `run`: `caro REQUEST`. Loads the settings the client's flags, environment and config file
  give, runs the pipeline in the client's folders, and replies with the script the client
  performs (`pipeline/cli/run.py` makes it, exactly as for a request answered in process) and
  the `Result` JSON. Then it waits for the client to say whether the command ran, and stores
  the request's telemetry (validated, privacy-checked against the client's own surroundings).
  When the script is the interactive prompt (plan `menu`), the client's questions come first,
  on the same connection: `revise`, `judge` (an edited command) and `explain`, each answered
  by the request's `Session` (`pipeline/cli/session.py`); `done` then carries the choices made.
- `check`: `caro check CMD`, a script as well; `handle`: many requests on one connection, each
  answered with the whole `Result` (`caro eval`); `trace`: the DOT source of one request's path
  (`caro dag --execution`); `status` and `stop`.

The service never runs a command: every script is performed by the client.
"""

from __future__ import annotations

import dataclasses
import io
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cli import run as cli
from pipeline.errors import CaroError
from pipeline.paths import state_paths
from pipeline.serve.wire import result_to_wire
from pipeline.service import Caro, RequestOptions
from pipeline.settings import OutputFormat, Settings, load_settings
from pipeline.values import SafetyLevel, Shell, TextKind, Userland

if TYPE_CHECKING:
    from pipeline.serve.server import Conversation, Server

# Settings that change how one request is answered or shown, not the pipeline that answers it.
_PER_REQUEST = frozenset(
    {"safety", "shell", "userland", "output", "telemetry.enabled", "telemetry.flush", "serve.enabled", "serve.idle_s"}
)
_POOL_SIZE = 4


class Pool:
    """The loaded pipelines, one per distinct configuration (most users have one), least recently used dropped."""

    def __init__(self) -> None:
        self._pipelines: OrderedDict[tuple[Any, ...], Caro] = OrderedDict()
        self._lock = threading.Lock()

    def pipeline(self, settings: Settings) -> Caro:
        key = _pipeline_key(settings)
        with self._lock:  # one build per configuration, even for concurrent first requests
            caro = self._pipelines.get(key)
            if caro is None:
                caro = Caro.from_settings(settings)
                self._pipelines[key] = caro
                while len(self._pipelines) > _POOL_SIZE:
                    self._pipelines.popitem(last=False)
            self._pipelines.move_to_end(key)
            return caro


def _stamp(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _pipeline_key(settings: Settings) -> tuple[Any, ...]:
    values = tuple(sorted((k, v) for k, v in settings.values.items() if k not in _PER_REQUEST))
    # A user's table or rule file edited since: a new pipeline loads it, as a new process would.
    files = tuple(_stamp(p) for p in (*settings["extra_static_tables"], *settings["extra_safety_rules"]))
    return values, files


def _anchored(settings: Settings, cwd: str) -> Settings:
    """The settings with relative file paths made absolute against the client's working directory."""

    def anchor(path: str) -> str:
        return os.path.join(cwd, os.path.expanduser(path))

    values = dict(settings.values)
    values["extra_static_tables"] = tuple(map(anchor, values["extra_static_tables"]))
    values["extra_safety_rules"] = tuple(map(anchor, values["extra_safety_rules"]))
    model = values["model"]
    if ("/" in model or model.endswith(".gguf")) and not model.startswith("~"):
        values["model"] = anchor(model)
    return dataclasses.replace(settings, values=values)


class Ask:
    """One client request: its text, options and surroundings."""

    def __init__(self, message: Mapping[str, Any]) -> None:
        self.text: str = message.get("text", "")
        self.flags: dict[str, Any] = dict(message.get("flags") or {})
        self.env: dict[str, str] = dict(message.get("env") or {})
        self.cwd: str = message.get("cwd") or "/"
        self.home: str = message.get("home") or os.path.expanduser("~")
        self.tty: bool = bool(message.get("tty"))
        self.stdout_tty: bool = bool(message.get("stdout_tty", True))  # unknown: escape, as for a terminal

    def settings(self) -> Settings:
        """The effective settings for this client, as `caro` would load them in its own process."""
        config = self.flags.get("config") or self.env.get("CARO_CONFIG")
        config_file = Path(self.cwd, config) if config else state_paths(self.env).config_file
        flags = {k: self.flags[k] for k in ("output", "shell", "safety") if self.flags.get(k) is not None}
        return _anchored(load_settings(config_file, flags=flags, environ=self.env), self.cwd)

    def flag(self, name: str) -> bool:
        return bool(self.flags.get(name))

    def count(self) -> int:
        """How many commands the client asked for (`caro -n`), within what the client could ask for."""
        from pipeline.cli.alternatives import MAX_COUNT

        value = self.flags.get("count")
        return max(1, min(MAX_COUNT, value)) if isinstance(value, int) and not isinstance(value, bool) else 1


def dispatch(message: dict[str, Any], conversation: Conversation, server: Server) -> None:
    """Answer one client's message (and the rest of its conversation)."""
    handler = _HANDLERS.get(str(message.get("op")))
    if handler is None:
        conversation.send({"fault": "unknown operation"})
        return
    try:
        handler(message, conversation, server)
    except CaroError as error:
        conversation.send({"error": error.as_dict()})


def _run(message: dict[str, Any], conversation: Conversation, server: Server) -> None:
    ask = Ask(message)
    with conversation.busy():
        settings = ask.settings()
        conversation.show_progress = settings.output is OutputFormat.PLAIN  # the client's sign of life
        recorder = cli.recorder_for(settings, ask.env, database=state_paths(ask.env).database)
        platform = cli.platform_for(settings, ask.env)
        caro = server.pool.pipeline(settings)
        count = ask.count()
        handled = caro.run(ask.text, TextKind.REQUEST, cli.request_options(settings, platform, cwd=ask.cwd, home=ask.home, count=count))
        result = handled.result
        if cli.missing_model(result) and _in_catalogue(settings["model"]):
            conversation.send({"pull": True})  # the client downloads it with its progress bar, then asks again
            return
        verbose = ask.flag("verbose")
        script = cli.respond_script(
            result, settings, platform, execute=ask.flag("execute"), yes=ask.flag("yes"), dry_run=ask.flag("dry_run"),
            verbose=verbose, tty=ask.tty, stdout_tty=ask.stdout_tty, count=count,
        )
    conversation.send({"script": script, "result": result.as_dict(), "then": "done"})
    session = None
    if script["plan"] == "menu":  # the interactive prompt: its questions come on this connection until "done"
        from pipeline.cli.session import Session

        session = Session(caro, settings, platform, cwd=ask.cwd, home=ask.home, verbose=verbose, pulls=False)
    done = conversation.receive(None) if session is None else _prompt(conversation, session)  # the user takes their time
    if done is None or done.get("op") != "done":
        return  # interrupted: no telemetry, as when caro is interrupted in process
    executed, code = bool(done.get("executed")), int(done.get("exit_code", 0))
    out: list[tuple[int, str]] = []
    if executed and script["data"]:
        out.append((1, cli.result_data(result, settings.output, executed=True, code=code)))
    if recorder is None:
        conversation.send({"out": out})
        return
    # The session is the client's invocation: its duration counts from when the client started.
    recorder.started = time.perf_counter() - float(done.get("elapsed_ms", 0.0)) / 1000
    args = (ask.text, result, handled.drafts, handled.durations_ms)
    if session is not None:  # the revisions' and edits' runs, and the choices made (names only)
        args = session.telemetry(ask.text, handled, done.get("actions") or ())
    context = _sensitive_context(ask, args[1].command, words=args[0])
    if settings["telemetry.flush"] == "background" and not verbose and not recorder.debug:
        from pipeline.telemetry import pending

        held = pending.hold(state_paths(ask.env).database)  # readers wait for this write from now on
        conversation.send({"out": out})
        try:
            recorder.flush(*args, executed=executed, context=context, attempts=8)
        finally:
            if held is not None:
                os.close(held)
        return
    rows = io.StringIO()
    problem = recorder.flush(*args, executed=executed, context=context, debug_out=rows)
    out.extend((2, line + "\n") for line in rows.getvalue().splitlines())
    if problem and verbose:
        out.append((2, f"caro: {problem}\n"))
    conversation.send({"out": out})


def _prompt(conversation: Conversation, session: Any) -> dict[str, Any] | None:
    """Answer the interactive prompt's questions (revise, judge an edit, explain) until the client's `done`; None: gone."""
    while True:
        message = conversation.receive(None)
        if message is None or message.get("op") == "done":
            return message
        with conversation.busy():
            try:
                reply = session.answer(message)
            except CaroError as error:
                reply = {"error": error.as_dict()}
        conversation.send(reply)


def _sensitive_context(ask: Ask, command: str | None, *, words: str | None = None) -> Any:
    """What the client's request must not leave in the telemetry: its text and command (`words`: all the
    session's, with the interactive prompt), its folders and environment."""
    from pipeline.telemetry.privacy import SensitiveContext

    own = SensitiveContext.capture(ask.text if words is None else words, command, environ=ask.env)
    return dataclasses.replace(own, cwd=ask.cwd, home=ask.home)


def _in_catalogue(model: str) -> bool:
    from pipeline.models.catalogue import load_catalogue

    return model in load_catalogue()


def _check(message: dict[str, Any], conversation: Conversation, server: Server) -> None:
    ask = Ask(message)
    with conversation.busy():
        settings = ask.settings()
        platform = cli.platform_for(settings, ask.env)
        result = server.pool.pipeline(settings).check(
            ask.text, cli.request_options(settings, platform, cwd=ask.cwd, home=ask.home)
        )
        script = cli.check_script(result, settings)
    conversation.send({"script": script, "result": result.as_dict()})


def _handle(message: dict[str, Any] | None, conversation: Conversation, server: Server) -> None:
    """Requests answered with the whole `Result`, one after another on one connection (`caro eval`)."""
    ask = Ask(message or {})
    settings = ask.settings()
    while message is not None:
        options = message.get("options") or {}
        with conversation.busy():
            caro = server.pool.pipeline(settings)
            shell = options.get("shell")
            request_options = RequestOptions(
                safety=SafetyLevel(options.get("safety", "moderate")),
                shell=Shell(shell) if shell else _detected_shell(ask.env),
                userland=Userland(options["userland"]) if options.get("userland") else None,
                working_directory=options.get("cwd") or ask.cwd,
                home_directory=options.get("home") or ask.home,
            )
            result = caro.run(str(message.get("text", "")), TextKind(message.get("kind", "request")), request_options).result
        conversation.send({"result": result_to_wire(result)})
        message = conversation.receive(None)


def _detected_shell(env: Mapping[str, str]) -> Shell:
    from pipeline.platform import detected_shell

    return detected_shell(env)


def _trace(message: dict[str, Any], conversation: Conversation, server: Server) -> None:
    from pipeline.dag import execution_source, trace

    ask = Ask(message)
    with conversation.busy():
        settings = ask.settings()
        caro = server.pool.pipeline(settings)
        options = cli.request_options(settings, cli.platform_for(settings, ask.env), cwd=ask.cwd, home=ask.home)
        source = execution_source(caro, trace(caro, ask.text, options))
    conversation.send({"dot": source})


def _status(message: dict[str, Any], conversation: Conversation, server: Server) -> None:
    conversation.send({"status": server.status()})


def _stop(message: dict[str, Any], conversation: Conversation, server: Server) -> None:
    conversation.send({"stopping": True})
    server.retire()


_HANDLERS = {"run": _run, "check": _check, "handle": _handle, "trace": _trace, "status": _status, "stop": _stop}
