"""`caro explain COMMAND`: a command line in plain words, with the safety verdict. Nothing is run."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.cli.common import emit_data, read_text, settings_from
from pipeline.errors import usage_error
from pipeline.settings import OutputFormat, Settings
from pipeline.terminal import printable
from pipeline.values import Outcome, Result, SafetyLevel, Shell

if TYPE_CHECKING:
    from pipeline.explain import Explanation, Step

_LINKS = {
    "pipe": "| its output is the input of the next step",
    "and": "&& the next step runs only if this one succeeds",
    "or": "|| the next step runs only if this one fails",
    "then": "; then the next step runs",
    "background": "& runs in the background; the next step starts at once",
}
_FLAG_COLUMN = 22


def _verdict(text: str, settings: Settings) -> Result:
    """The judgement `caro check` gives, from the same pipeline."""
    from pipeline.service import Caro, RequestOptions

    caro = Caro.from_settings(settings)
    return caro.check(text, RequestOptions(safety=settings.safety, shell=settings.shell, userland=settings.userland))


def explain_command(
    *, words: list[str] | None, output: OutputFormat | None, shell: Shell | None, safety: SafetyLevel | None, config: Path | None
) -> int:
    """Explain a command line given as words or on stdin; 0 when explained, 2 for unusable input."""
    settings = settings_from(config, output=output, shell=shell, safety=safety)
    text = read_text(words, what="command")
    if not words:  # from stdin: `echo CMD | caro explain` means CMD, not CMD and a newline
        text = text.removesuffix("\n")
    result = _verdict(text, settings)  # first: it refuses empty, NUL, over-long or undecodable input
    if result.outcome is Outcome.BAD_INPUT or result.risk is None or result.action is None:
        raise usage_error(result.explanation, hint="caro explain \"find . -name '*.py'\"")
    explanation = explained(text, result, settings)
    if settings.output is not OutputFormat.PLAIN:
        emit_data(explanation.as_dict(), settings.output)
        return 0
    sys.stdout.write(plain_explanation(text, explanation))
    if explanation.steps and not explanation.steps[0].installed and not _looks_like_command(text):
        sys.stderr.write("caro: the first word is not a command here; to turn a request into a command, run: caro -- REQUEST\n")
    return 0


def explained(text: str, result: Result, settings: Settings) -> Explanation:
    """The explanation of a command, with the verdict its judged `result` gives (a command was judged)."""
    from pipeline.explain import Verdict, explain
    from pipeline.platform import resolve_platform

    assert result.risk is not None and result.action is not None
    userland = resolve_platform(settings.shell, settings.userland).userland
    return replace(
        explain(text, userland=userland),
        verdict=Verdict(result.risk.label, result.action.value, result.categories, result.explanation, result.warnings),
    )


def plain_explanation(text: str, explanation: Explanation) -> str:
    """What `caro explain` prints for an explanation: the command, its steps, then the verdict."""
    lines = [printable(text), ""]
    if not explanation.parsed:
        lines.append(f"caro could not parse all of it ({explanation.problem}); below is what it could read.")
    if not explanation.steps:
        lines.append("nothing runs: no command in it (only assignments, comments or keywords)")
    lines.extend(_steps(explanation.steps, ""))
    for redirect in explanation.redirections:
        lines.append(f"around a loop or group: {printable(redirect.meaning)}")
    verdict = explanation.verdict
    assert verdict is not None
    categories = f" [{', '.join(verdict.categories)}]" if verdict.categories else ""
    lines += ["", f"verdict: {verdict.action} (risk: {verdict.risk}){categories}", f"  {printable(verdict.explanation)}"]
    lines.extend(f"  warning: {printable(w)}" for w in verdict.warnings)
    return "\n".join(lines) + "\n"


def _looks_like_command(text: str) -> bool:
    from pipeline.passthrough import looks_like_command

    return looks_like_command(text)


def _steps(steps: tuple[Step, ...], indent: str) -> list[str]:
    """The steps as indented lines: each with its summary, flags, arguments, redirections and links."""
    lines: list[str] = []
    for number, step in enumerate(steps, start=1):
        lines.append(f"{indent}{number}. {printable(step.text)}")
        inner = indent + "   "
        if step.where:
            lines.append(f"{inner}({printable(step.where)})")
        if step.utility:
            about = step.summary or ("a shell builtin" if step.installed else "no description found")
            lines.append(f"{inner}{printable(step.utility)}: {printable(about)}")
        for option in step.options:
            flag = option.flag + (f" {option.value}" if option.value is not None else "")
            meaning = option.meaning or "(no description found)"
            lines.append(f"{inner}  {printable(flag).ljust(_FLAG_COLUMN)} {printable(meaning)}")
        if step.arguments:
            lines.append(f"{inner}  arguments: {printable(' '.join(step.arguments))}")
        for redirect in step.redirections:
            lines.append(f"{inner}  {printable(redirect.meaning)}")
        lines.extend(f"{inner}{printable(note)}" for note in step.notes)
        if step.runs:
            lines.extend(_steps(step.runs, inner + "  "))
        if step.next is not None:
            lines.append(f"{inner}{_LINKS[step.next.value]}")
    return lines
