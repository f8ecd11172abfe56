"""`caro REQUEST` and `caro check COMMAND`: call the pipeline, render the result, run it if wanted."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from pipeline.cli.common import emit_data, read_text, settings_from
from pipeline.cli.main import ends_process
from pipeline.errors import ExitCode
from pipeline.execute import Plan, decide, run_command
from pipeline.settings import OutputFormat, Settings
from pipeline.terminal import printable
from pipeline.values import Action, GenerationErrorKind, Outcome, Result, Risk, SafetyLevel, Shell, TextKind


def _missing_model(result: Result) -> bool:
    """Whether the request failed only because the embedded model has not been pulled yet."""
    errors = (*result.backend_failures, result.generation_error)
    return result.outcome is Outcome.NO_COMMAND and any(
        e is not None and e.backend == "llama_cpp" and e.kind is GenerationErrorKind.NOT_FOUND for e in errors
    )


def _pull_configured_model(settings: Settings, verbose: bool) -> bool:
    """Pull the configured catalogue model, with the progress bar on stderr; False when it is not a catalogue name."""
    from pipeline.cli.progress import PullBar, megabytes
    from pipeline.models import store
    from pipeline.models.catalogue import load_catalogue
    from pipeline.paths import state_paths

    catalogue = load_catalogue()
    if settings["model"] not in catalogue:
        return False
    entry = catalogue.get(settings["model"])
    bar = PullBar(entry)
    try:
        store.pull(entry.name, state_paths().models_dir, progress=bar, catalogue=catalogue, verbose=verbose)
    finally:
        bar.close()
    _say(f"caro: model {entry.name} downloaded and verified ({megabytes(entry.size)}, sha256 ok)")
    return True


def _pipeline(settings: Settings):  # -> (Caro, RequestOptions); imported here: Hamilton is heavy
    from pipeline.service import Caro, RequestOptions

    caro = Caro.from_settings(settings)
    options = RequestOptions(safety=settings.safety, shell=settings.shell, userland=settings.userland)
    return caro, options


def _resolved_shell(settings: Settings) -> Shell:
    from pipeline.platform import resolve_platform

    return resolve_platform(settings.shell, settings.userland).shell


def _say(message: str) -> None:
    sys.stderr.write(printable(message) + "\n")  # a command or explanation never hides text


def _describe(result: Result) -> None:
    """The judgement, for a person, on stderr (stdout carries only the command); silent when all is well."""
    if result.risk is not None and result.action is not None and (result.risk > Risk.SAFE or result.warnings):
        categories = f" [{', '.join(result.categories)}]" if result.categories else ""
        _say(f"risk: {result.risk.label}, {result.action.value}{categories}: {result.explanation}")
    for warning in result.warnings:
        _say(f"warning: {warning}")


def _verbose(result: Result, settings: Settings) -> None:
    from pipeline.platform import resolve_platform

    profile = resolve_platform(settings.shell, settings.userland)
    _say(
        f"caro: source={result.source.value} backend={result.backend or '-'} "
        f"platform={profile.os}/{profile.userland.value}/{profile.shell.value} safety={settings.safety.value}"
    )
    if result.generation_error is not None:
        error = result.generation_error
        _say(f"caro: generation {error.kind.value} ({'recoverable' if error.recoverable else 'fatal'})")


def _ask(question: str) -> bool:
    sys.stderr.write(f"{question} [y/N] ")
    sys.stderr.flush()
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _interactive(fmt: OutputFormat) -> bool:
    return fmt is OutputFormat.PLAIN and sys.stdin is not None and sys.stdin.isatty() and sys.stderr.isatty()


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
) -> int:
    """Handle one request from the command line; the exit code."""
    settings = settings_from(config, output=output, shell=shell, safety=safety)
    text = read_text(words, prompt)
    recorder = _recorder(settings)
    caro, options = _pipeline(settings)
    handled = caro.run(text, TextKind.REQUEST, options)
    if _missing_model(handled.result) and _pull_configured_model(settings, verbose):
        # The first request that needs the default model fetches it, then is answered.
        caro, options = _pipeline(settings)
        handled = caro.run(text, TextKind.REQUEST, options)
    result = handled.result
    code = _respond(result, settings, execute=execute, yes=yes, dry_run=dry_run, verbose=verbose)
    if recorder is not None:  # one flush per request, after the command ran (or not)
        args = (text, result, handled.drafts, handled.durations_ms)
        # In the background when caro exits next, unless the user waits for a report
        # (--verbose) or asked for inline.
        background = settings["telemetry.flush"] == "background" and not verbose and ends_process()
        if not (background and recorder.flush_detached(*args, executed=code.executed)):
            problem = recorder.flush(*args, executed=code.executed)
            if problem and verbose:
                _say(f"caro: {problem}")
    return code.exit_code


def _recorder(settings: Settings):  # -> Recorder | None; telemetry modules load only when it is on
    import os

    from pipeline.telemetry.consent import telemetry_state

    consent = telemetry_state(settings.values, os.environ, source=settings.layers.get("telemetry.enabled"))
    if not (consent.enabled or consent.debug):
        return None
    from pipeline.telemetry.recorder import Recorder

    return Recorder(settings=settings.values, debug=consent.debug)


@dataclass(frozen=True)
class _Response:
    exit_code: int
    executed: bool


def _respond(result: Result, settings: Settings, *, execute: bool, yes: bool, dry_run: bool, verbose: bool) -> _Response:
    """Render the result, run the command when allowed and wanted; caro's exit code and whether it ran."""
    fmt = settings.output
    decision = decide(result, execute=execute, yes=yes, dry_run=dry_run, interactive=_interactive(fmt))
    if verbose:
        _verbose(result, settings)

    if fmt is not OutputFormat.PLAIN:
        executed, code = False, int(decision.exit_code)
        if decision.plan is Plan.RUN:
            # stdout carries the one data object; the command's own output goes to stderr.
            code, executed = run_command(result.command or "", _resolved_shell(settings), stdout=sys.stderr), True
        emit_data({**result.as_dict(), "executed": executed, "exit_code": code}, fmt)
        return _Response(code, executed)

    if result.outcome is not Outcome.COMMAND:
        hint = " (hint: add it to a static table, or configure a model backend)" if result.outcome is Outcome.NO_COMMAND else ""
        _say(f"caro: {'error' if result.outcome is Outcome.BAD_INPUT else 'no command'}: {result.explanation}{hint}")
        return _Response(int(decision.exit_code), False)
    command = result.command or ""
    if decision.plan is Plan.REFUSE:
        _say(f"caro: not run: {command}")
        _describe(result)
        _say(f"caro: {decision.reason}")
        return _Response(int(decision.exit_code), False)
    if decision.plan is Plan.SHOW:
        sys.stdout.write(printable(command) + "\n")
        sys.stdout.flush()
        _describe(result)
        return _Response(int(decision.exit_code), False)
    _say(f"$ {command}")
    _describe(result)
    if decision.plan is Plan.ASK:
        question = "This command needs confirmation. Run it?" if result.action is Action.CONFIRM else "Run it?"
        if not _ask(question):
            return _Response(int(decision.exit_code), False)
    return _Response(run_command(command, _resolved_shell(settings)), True)


_CHECK_EXIT = {Action.ALLOWED: ExitCode.SUCCESS, Action.CONFIRM: ExitCode.NEEDS_CONFIRMATION, Action.BLOCKED: ExitCode.BLOCKED}


def check_command(
    *,
    words: list[str] | None,
    output: OutputFormat | None,
    shell: Shell | None,
    safety: SafetyLevel | None,
    config: Path | None,
) -> int:
    """Judge a given command; the exit code says the action."""
    settings = settings_from(config, output=output, shell=shell, safety=safety)
    text = read_text(words, what="command")
    caro, options = _pipeline(settings)
    result = caro.check(text, options)
    code = int(_CHECK_EXIT[result.action]) if result.action is not None else int(ExitCode.USAGE)
    fmt = settings.output
    if fmt is not OutputFormat.PLAIN:
        emit_data({**result.as_dict(), "executed": False, "exit_code": code}, fmt)
        return code
    if result.outcome is Outcome.BAD_INPUT:
        _say(f"caro: error: {result.explanation}")
        return code
    assert result.risk is not None and result.action is not None  # a command was judged
    sys.stdout.write(f"risk: {result.risk.label}\naction: {result.action.value}\n")
    sys.stdout.write(f"categories: {', '.join(result.categories) or '-'}\nexplanation: {printable(result.explanation)}\n")
    for warning in result.warnings:
        sys.stdout.write(f"warning: {printable(warning)}\n")
    return code
