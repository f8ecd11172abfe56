"""`caro -n N REQUEST`: up to N different commands, best first, each with its judgement; nothing is run.

Plain output: each command numbered on stdout (`1. find . -name '*.py'`), its judgement under
it on stderr, as a single command's is; `--output json|yaml`: a list of result objects, the
same objects `caro --output json` prints for one command. The exit code is the first
command's, as `--dry-run` gives it (0 shown, 10 blocked, 3 no command, 2 unusable input).
Choosing one to run is the user's (copy it, or ask again without -n): `-n` with `-x` or `-y`
is a usage error, as one flag would run a command chosen for the user and the other answers a
question -n never asks.
"""

from __future__ import annotations

from pipeline.cli.common import data_text
from pipeline.cli.perform import Script
from pipeline.execute import Plan, decide
from pipeline.settings import OutputFormat, Settings
from pipeline.terminal import printable
from pipeline.values import Outcome, Platform, Result, Source

MAX_COUNT = 3
WHY_NOT_RUN = "-n shows commands to choose from and never runs one: drop -x and -y, or ask for one command"


def several_script(
    result: Result, settings: Settings, platform: Platform, *, verbose: bool, stdout_tty: bool
) -> Script | None:
    """What the client prints for a request asked with -n (`result` and its alternatives); None: render
    it as one result (a request that got no command says why, as it does without -n)."""
    from pipeline.cli.run import _script, _verbose  # the single command's script and --verbose lines

    if settings.output is PLAIN and result.outcome is not Outcome.COMMAND:
        return None
    results = [result, *result.alternatives]
    code = decide(result, execute=False, yes=False, dry_run=True, interactive=False).exit_code
    out: list[tuple[int, str]] = [(2, printable(line) + "\n") for line in (_verbose(result, settings, platform) if verbose else ())]
    if settings.output is not PLAIN:
        out.append((1, data_text([r.as_dict() for r in results], settings.output)))
        return _script(out, Plan.SHOW, code)
    for number, each in enumerate(results, start=1):
        command = each.command or ""
        out.append((1, f"{number}. {printable(command) if stdout_tty else command}\n"))
        out.extend((2, "   " + printable(line) + "\n") for line in judgement(each))
    return _script(out, Plan.SHOW, code)


def judgement(result: Result) -> list[str]:
    """A command's judgement in a few lines: where it came from, its risk and action, its warnings."""
    assert result.risk is not None and result.action is not None  # a judged command
    source = _SOURCES.get(result.source, result.source.value)
    categories = f" [{', '.join(result.categories)}]" if result.categories else ""
    explanation = f": {result.explanation}" if result.explanation else ""
    return [f"{source}; risk: {result.risk.label}, {result.action.value}{categories}{explanation}"] + [
        f"warning: {warning}" for warning in result.warnings
    ]


PLAIN = OutputFormat.PLAIN
_SOURCES = {Source.STATIC: "from the static table", Source.LLM: "from a language model", Source.PASSTHROUGH: "as typed"}
