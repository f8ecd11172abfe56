"""`caro REQUEST` and `caro check COMMAND`: ask the pipeline, render the result, run it if wanted.

The pipeline runs in the caro service when the `caro` console script can reach one (see
`pipeline/cli/remote.py`), else here. Either way the answer is rendered by the same functions,
`respond_script` and `check_script`, into a script that the client performs
(`pipeline/cli/perform.py`): what to print, whether to ask, what to run. So a request answered
by the service prints exactly what one answered here prints.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cli.common import data_text, read_text, settings_from
from pipeline.cli.hints import no_command_hint
from pipeline.cli.main import ends_process, uses_service
from pipeline.cli.perform import Script, perform, write
from pipeline.errors import ExitCode, usage_error
from pipeline.execute import Decision, Plan, decide
from pipeline.settings import OutputFormat, Settings
from pipeline.terminal import printable
from pipeline.values import Action, GenerationErrorKind, Outcome, Platform, Result, Risk, SafetyLevel, Shell, TextKind

if TYPE_CHECKING:
    from pipeline.service import Caro, RequestOptions
    from pipeline.telemetry.recorder import Recorder


def missing_model(result: Result) -> bool:
    """Whether the request failed only because the embedded model has not been pulled yet."""
    errors = (*result.backend_failures, result.generation_error)
    return result.outcome is Outcome.NO_COMMAND and any(
        e is not None and e.backend == "llama_cpp" and e.kind is GenerationErrorKind.NOT_FOUND for e in errors
    )


def pull_configured_model(settings: Settings, verbose: bool) -> bool:
    """Pull the configured catalogue model, with the progress bar on stderr; False when it is not a catalogue name."""
    from pipeline.cli.progress import PullBar, megabytes
    from pipeline.models import store
    from pipeline.models.catalogue import load_catalogue
    from pipeline.paths import state_paths

    catalogue = load_catalogue()
    if settings["model"] not in catalogue:
        return False
    entry = catalogue.get(settings["model"])
    bar = PullBar(entry, visible=settings.output is OutputFormat.PLAIN)  # never with --output json|yaml
    try:
        store.pull(entry.name, state_paths().models_dir, progress=bar, catalogue=catalogue, verbose=verbose)
    finally:
        bar.close()
    _say(f"caro: model {entry.name} downloaded and verified ({megabytes(entry.size)}, sha256 ok)")
    return True


def platform_for(settings: Settings, environ: Mapping[str, str]) -> Platform:
    """The platform the request is for: the settings' choices, else what the user's environment says."""
    from pipeline.platform import detected_shell, resolve_platform

    return resolve_platform(settings.shell or detected_shell(environ), settings.userland)


def request_options(
    settings: Settings, platform: Platform, *, cwd: str | None = None, home: str | None = None, count: int = 1
) -> RequestOptions:
    """The pipeline's per-request options for these settings, on this platform, in these folders (`count`: -n)."""
    from pipeline.service import RequestOptions

    return RequestOptions(
        safety=settings.safety, shell=platform.shell, userland=settings.userland, working_directory=cwd, home_directory=home,
        count=count,
    )


def recorder_for(settings: Settings, environ: Mapping[str, str], database: Path | None = None) -> Recorder | None:
    """The telemetry recorder of one request when telemetry is on (or in debug mode), else None."""
    from pipeline.telemetry.consent import telemetry_state

    consent = telemetry_state(settings.values, environ, source=settings.layers.get("telemetry.enabled"))
    if not (consent.enabled or consent.debug):
        return None
    from pipeline.telemetry.recorder import Recorder

    return Recorder(settings=settings.values, debug=consent.debug, database=database)


def _say(message: str) -> None:
    sys.stderr.write(printable(message) + "\n")  # a command or explanation never hides text


def _describe(result: Result) -> list[str]:
    """The judgement, for a person, on stderr (stdout carries only the command); nothing when all is well."""
    lines = []
    if result.risk is not None and result.action is not None and (result.risk > Risk.SAFE or result.warnings):
        categories = f" [{', '.join(result.categories)}]" if result.categories else ""
        lines.append(f"risk: {result.risk.label}, {result.action.value}{categories}: {result.explanation}")
    lines.extend(f"warning: {warning}" for warning in result.warnings)
    return lines


def _verbose(result: Result, settings: Settings, profile: Platform) -> list[str]:
    lines = [
        f"caro: source={result.source.value} backend={result.backend or '-'} "
        f"platform={profile.os}/{profile.userland.value}/{profile.shell.value} safety={settings.safety.value}"
    ]
    if result.generation_error is not None:
        error = result.generation_error
        lines.append(f"caro: generation {error.kind.value} ({'recoverable' if error.recoverable else 'fatal'})")
    return lines


def interactive(fmt: OutputFormat, tty: bool) -> bool:
    """Whether a person can be asked: plain output, and stdin and stderr are a terminal (`tty`)."""
    return fmt is OutputFormat.PLAIN and tty


def terminal_attached() -> bool:
    """Whether this process's stdin and stderr are a terminal."""
    return sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()


def result_data(result: Result, fmt: OutputFormat, *, executed: bool, code: int) -> str:
    """The data object `--output json|yaml` prints for a result (a request without a command: its error's hint too)."""
    data = {**result.as_dict(), "executed": executed, "exit_code": code}
    if result.outcome is Outcome.NO_COMMAND and isinstance(data.get("error"), dict):
        data["error"] = {**data["error"], "hint": no_command_hint(result)}
    return data_text(data, fmt)


def _script(out: list[tuple[int, str]], plan: Plan, exit_code: int, **fields: Any) -> Script:
    return {"out": out, "plan": plan.value, "exit_code": int(exit_code), "question": "", "command": "", "shell": "sh",
            "stdout": 1, "data": None, "slots": [], **fields}


def respond_script(
    result: Result, settings: Settings, platform: Platform, *, execute: bool, yes: bool, dry_run: bool, verbose: bool, tty: bool,
    stdout_tty: bool = True, count: int = 1,
) -> Script:
    """What the client prints, asks and runs for a request's result (see `pipeline/cli/perform.py`).

    `stdout_tty`: whether the client's stdout is a terminal. stdout is data: a pipe, a file or
    the shell key binding (`caro init`) gets the exact command; only a terminal gets it with
    its control and invisible characters escaped, as everything on stderr is.
    """
    if count > 1:  # caro -n: the commands to choose from (pipeline/cli/alternatives.py)
        from pipeline.cli.alternatives import several_script

        several = several_script(result, settings, platform, verbose=verbose, stdout_tty=stdout_tty)
        if several is not None:
            return several
    fmt = settings.output
    decision = decide(result, execute=execute, yes=yes, dry_run=dry_run, interactive=interactive(fmt, tty))
    out: list[tuple[int, str]] = [(2, printable(line) + "\n") for line in (_verbose(result, settings, platform) if verbose else ())]
    shell = platform.shell.value

    if fmt is not OutputFormat.PLAIN:
        if decision.plan is Plan.RUN:
            # stdout carries the one data object, written after the run; the command's own output goes to stderr.
            return _script(out, Plan.RUN, decision.exit_code, command=result.command or "", shell=shell, stdout=2, data=fmt.value)
        out.append((1, result_data(result, fmt, executed=False, code=int(decision.exit_code))))
        return _script(out, Plan.SHOW, decision.exit_code)

    def say(*lines: str) -> None:
        out.extend((2, printable(line) + "\n") for line in lines)  # a command or explanation never hides text

    if result.outcome is not Outcome.COMMAND:
        hint = no_command_hint(result) if result.outcome is Outcome.NO_COMMAND else None
        hint = f" (hint: {hint})" if hint else ""
        label = {Outcome.BAD_INPUT: "error", Outcome.REFUSED: "refused"}.get(result.outcome, "no command")
        say(f"caro: {label}: {result.explanation}{hint}")
        return _script(out, Plan.SHOW, decision.exit_code)
    command = result.command or ""
    if decision.plan in (Plan.ASK, Plan.REFUSE) and not (execute or yes or dry_run) and interactive(fmt, tty):
        return _menu_script(out, result, decision, command, shell)
    if decision.plan is Plan.REFUSE:
        say(f"caro: not run: {command}", *_describe(result), f"caro: {decision.reason}")
        return _script(out, Plan.SHOW, decision.exit_code)
    if decision.plan is Plan.SHOW:
        out.append((1, (printable(command) if stdout_tty else command) + "\n"))
        say(*_describe(result))
        return _script(out, Plan.SHOW, decision.exit_code)
    say(f"$ {command}", *_describe(result))
    if decision.plan is Plan.ASK:
        question = "This command needs confirmation. Run it?" if result.action is Action.CONFIRM else "Run it?"
        return _script(out, Plan.ASK, decision.exit_code, question=question, command=command, shell=shell)
    return _script(out, Plan.RUN, decision.exit_code, command=command, shell=shell)


def _menu_script(out: list[tuple[int, str]], result: Result, decision: Decision, command: str, shell: str) -> Script:
    """The interactive prompt's script (`pipeline/cli/interactive.py`): the command and its judgement, then the menu.

    `exit_code` is caro's when the user quits; `question` is the plain yes/no a client without
    the menu asks (a blocked command and a template are never asked about); `slots`: what the
    user must fill in before a template can run (the prompt offers edit, never run).
    """
    blocked = result.action is Action.BLOCKED
    lines = [f"caro: not run: {command}", *_describe(result), f"caro: {decision.reason}"] if blocked else [f"$ {command}", *_describe(result)]
    out.extend((2, printable(line) + "\n") for line in lines)  # a command or explanation never hides text
    runnable = not (blocked or result.slots)
    question = "" if not runnable else "This command needs confirmation. Run it?" if result.action is Action.CONFIRM else "Run it?"
    action = result.action.value if result.action is not None else Action.BLOCKED.value
    return _script(
        out, Plan.MENU, decision.exit_code, question=question, command=command, shell=shell, action=action, slots=list(result.slots)
    )


_CHECK_EXIT = {Action.ALLOWED: ExitCode.SUCCESS, Action.CONFIRM: ExitCode.NEEDS_CONFIRMATION, Action.BLOCKED: ExitCode.BLOCKED}


def check_script(result: Result, settings: Settings) -> Script:
    """What `caro check` prints for a judged command, and its exit code (the action)."""
    code = int(_CHECK_EXIT[result.action]) if result.action is not None else int(ExitCode.USAGE)
    fmt = settings.output
    if fmt is not OutputFormat.PLAIN:
        return _script([(1, result_data(result, fmt, executed=False, code=code))], Plan.SHOW, code)
    if result.outcome is Outcome.BAD_INPUT:
        return _script([(2, printable(f"caro: error: {result.explanation}") + "\n")], Plan.SHOW, code)
    assert result.risk is not None and result.action is not None  # a command was judged
    lines = [f"risk: {result.risk.label}", f"action: {result.action.value}"]
    lines += [f"categories: {', '.join(result.categories) or '-'}", f"explanation: {printable(result.explanation)}"]
    lines += [f"warning: {printable(warning)}" for warning in result.warnings]
    return _script([(1, "".join(line + "\n" for line in lines))], Plan.SHOW, code)


def _flags(**values: Any) -> dict[str, Any]:
    """Option values as the service takes them: enum values as text, the config file as an absolute path."""
    flags = {k: (v.value if hasattr(v, "value") else v) for k, v in values.items()}
    if flags.get("config") is not None:
        flags["config"] = os.path.abspath(flags["config"])
    return flags


def _from_service(op: str, text: str, flags: dict[str, Any], settings: Settings, *, verbose: bool) -> int | None:
    """The exit code of `op` answered by the service; None when this process must answer (said under -v)."""
    if not (uses_service() and settings["serve.enabled"]):
        return None
    from pipeline.cli.remote import ask_service
    from pipeline.serve.endpoint import Unavailable

    try:
        return ask_service(op, text, flags, verbose=verbose)
    except Unavailable as gone:
        if verbose:
            _say(f"caro: answering in this process: {gone.reason}")
        return None


def run_request(
    *,
    words: list[str] | None,
    prompt: str | None,
    output: OutputFormat | None,
    shell: Shell | None,
    safety: SafetyLevel | None,
    execute: bool,
    yes: bool,
    dry_run: bool,
    verbose: bool,
    config: Path | None,
    service: bool = True,
    count: int = 1,
) -> int:
    """Handle one request from the command line; the exit code. `service=False`: answer in this process."""
    settings = settings_from(config, output=output, shell=shell, safety=safety)
    if count > 1 and (execute or yes):
        from pipeline.cli.alternatives import WHY_NOT_RUN

        raise usage_error(WHY_NOT_RUN)
    text = read_text(words, prompt)
    if service:
        flags = _flags(output=output, shell=shell, safety=safety, config=config, execute=execute, yes=yes, dry_run=dry_run, verbose=verbose)
        if count > 1:
            flags["count"] = count
        code = _from_service("run", text, flags, settings, verbose=verbose)
        if code is not None:
            return code
    return _answer_here(text, settings, execute=execute, yes=yes, dry_run=dry_run, verbose=verbose, count=count)


def _pipeline(settings: Settings) -> Caro:  # imported here: Hamilton is heavy
    """The pipeline that answers in this process; one that may run a local model runs each request in a child.

    A crash inside llama.cpp (a damaged model file) then ends the child, not caro
    (`pipeline/cli/contained.py`); under CARO_DEBUG everything runs here, for the traceback.
    """
    from pipeline.service import Caro

    caro = Caro.from_settings(settings)
    if settings["backend"] == "none" or os.environ.get("CARO_DEBUG"):
        return caro
    from pipeline.cli.contained import ContainedPipeline
    from pipeline.cli.spinner import wanted

    return ContainedPipeline(caro, progress=wanted(settings.output.value))  # type: ignore[return-value]


def _answer_here(text: str, settings: Settings, *, execute: bool, yes: bool, dry_run: bool, verbose: bool, count: int = 1) -> int:
    recorder = recorder_for(settings, os.environ)
    platform = platform_for(settings, os.environ)
    caro = _pipeline(settings)
    handled = caro.run(text, TextKind.REQUEST, request_options(settings, platform, count=count))
    if missing_model(handled.result) and pull_configured_model(settings, verbose):
        # The first request that needs the default model fetches it, then is answered.
        caro = _pipeline(settings)
        handled = caro.run(text, TextKind.REQUEST, request_options(settings, platform, count=count))
    result = handled.result
    script = respond_script(
        result, settings, platform, execute=execute, yes=yes, dry_run=dry_run, verbose=verbose, tty=terminal_attached(),
        stdout_tty=sys.stdout is not None and sys.stdout.isatty(), count=count,
    )
    session = menu = None
    if script["plan"] == "menu":  # the interactive prompt, on this process's pipeline
        from pipeline.cli.interactive import Menu
        from pipeline.cli.session import Session

        session = Session(caro, settings, platform, verbose=verbose)
        menu = Menu(session, text)
    executed, code = perform(script, menu)
    if executed and script["data"]:
        write(1, result_data(result, settings.output, executed=True, code=code))
    if recorder is not None:  # one flush per request, after the command ran (or not)
        args = (text, result, handled.drafts, handled.durations_ms) if session is None else session.telemetry(text, handled, menu.taken)
        # In the background when caro exits next, unless the user waits for a report
        # (--verbose) or asked for inline.
        background = settings["telemetry.flush"] == "background" and not verbose and ends_process()
        if not (background and recorder.flush_detached(*args, executed=executed)):
            problem = recorder.flush(*args, executed=executed)
            if problem and verbose:
                _say(f"caro: {problem}")
    return code


def check_command(
    *,
    words: list[str] | None,
    output: OutputFormat | None,
    shell: Shell | None,
    safety: SafetyLevel | None,
    config: Path | None,
    service: bool = True,
) -> int:
    """Judge a given command; the exit code says the action."""
    settings = settings_from(config, output=output, shell=shell, safety=safety)
    text = read_text(words, what="command")
    if service:
        code = _from_service("check", text, _flags(output=output, shell=shell, safety=safety, config=config), settings, verbose=False)
        if code is not None:
            return code
    platform = platform_for(settings, os.environ)
    result = _pipeline(settings).check(text, request_options(settings, platform))
    return perform(check_script(result, settings))[1]
