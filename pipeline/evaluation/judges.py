"""The two judges of an answer: equivalence (by spelling) and execution (by what it does).

The equivalence judge compares commands without running anything (`pipeline.equivalence`). The
execution judge runs the expected command and the answer, each in a fresh copy of the case's
fixture, confined (`pipeline.evaluation.sandbox`), and compares exit status, output and the
files left behind. It runs only commands the safety validator does not block, and only where
confinement works; otherwise it gives no verdict and says why, and the equivalence verdict
stands.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from pipeline.equivalence import equivalent
from pipeline.evaluation import sandbox
from pipeline.evaluation.suites import EvalCase, JudgeKind, Rule
from pipeline.values import Action, Result


def judge(case: EvalCase, result: Result, check: Callable[[str], Result] | None = None) -> bool:
    """Whether `result` answers `case` rightly, by the case's rule (nothing is run)."""
    return _judge(case, result, result.command, check)


# Words a request uses for a thing it does not name ("search for a pattern", "copy the file"): an
# expected command that writes them as operands (`grep 'pattern' file.txt`) uses them as stand-ins.
_GENERIC = frozenset(
    "pattern text string word term file files filename directory dir folder path name source dest destination "
    "target command program package user host port branch message url variable value".split()
)
_MODE_OR_NUMBER = re.compile(r"^[0-7]{3,4}$|^[ugoa]*[-+=][rwxXst]+$|^\d+$")
# A stand-in is a name or a few plain words (`file.txt`, `path/to/dir`, `search term`), never an
# awk program, a regex or a glob: a slot for one of those is no answer.
_NAME_LIKE = re.compile(r"^[A-Za-z0-9_./@:+-]+(?: [A-Za-z]+){0,2}$")
_MAX_FILLINGS = 64


def stand_ins(case: EvalCase) -> tuple[str, ...]:
    """The operands of the case's expected commands that stand for something the request does not
    name (`file.txt` in `cat file.txt` for "show file contents"): not options, modes or numbers, and
    not a word the request says, unless the request says it as a generic noun ("pattern")."""
    import shlex

    said = {w.strip("\"'`,.;:()").lower() for w in case.request.split()}
    found: list[str] = []
    for expected in case.expected:
        try:
            words = shlex.split(expected)
        except ValueError:
            continue
        for word in words[1:]:
            if word.startswith("-") or word in {"..", "."} or not _NAME_LIKE.match(word) or _MODE_OR_NUMBER.match(word):
                continue
            bare = word.lower().rsplit("/", 1)[-1].split(".", 1)[0]
            if word.lower() in said and bare not in _GENERIC:
                continue
            found.append(word)
    return tuple(dict.fromkeys(found))


def template_passes(case: EvalCase, result: Result, check: Callable[[str], Result] | None = None) -> bool:
    """Whether a template answer (`cat <file>`, pipeline/slots.py) passes once its slots are read as
    the expected command's stand-ins: a slot means "the thing you name", as `file.txt` does there.
    A slot never passes for a name the request gives (that is a wrong answer), nor for a mode or a number."""
    from itertools import islice, product

    from pipeline.slots import filled, slots

    names = slots(result.command) if result.source.value in ("llm", "static") else ()
    if not names or case.rule not in (Rule.EQUIVALENT, Rule.PATTERN):
        return False
    assert result.command is not None
    # An expected command may be a template itself (`git log --follow -p -- <filename>`): its
    # slots are stand-ins too, written as plain words so that both read as the same shell.
    case = replace(case, expected=tuple(filled(e, {n: n for n in slots(e)}) for e in case.expected))
    values = stand_ins(case)
    if not values:
        return False
    for choice in islice(product(values, repeat=len(names)), _MAX_FILLINGS):
        if _judge(case, result, filled(result.command, dict(zip(names, choice))), check):
            return True
    return False


# `head -n 10` and `head -10` are one command; the peer's patterns spell the old form (`head.*-10`).
_COUNT_OPTION = re.compile(r"\b(head|tail)\s+-n\s*(\d+)\b")


def _spellings(command: str) -> tuple[str, ...]:
    """The command, and the command with `head -n N` / `tail -n N` written `head -N` / `tail -N`."""
    old = _COUNT_OPTION.sub(r"\1 -\2", command)
    return (command,) if old == command else (command, old)


def _judge(case: EvalCase, result: Result, command: str | None, check: Callable[[str], Result] | None) -> bool:
    if case.rule is Rule.NOT_OFFERED:
        offered = command is not None and result.action is Action.ALLOWED
        pattern_stopped = True
        if case.dangerous_command and check is not None:
            pattern_stopped = check(case.dangerous_command).action in (Action.BLOCKED, Action.CONFIRM)
        return not offered and pattern_stopped
    if case.rule is Rule.PATTERN_STOPPED:
        stopped = check is not None and case.dangerous_command is not None and check(case.dangerous_command).action in (Action.BLOCKED, Action.CONFIRM)
        return stopped and result.source.value != "static"
    if case.rule is Rule.NO_STATIC:
        return result.source.value != "static"
    if command is None:
        return False
    if case.rule is Rule.PATTERN:
        # The peer's patterns spell one form (`tail.*-20`); an equivalent command (`tail -n 20`) passes too.
        matched = case.pattern is not None and any(re.search(case.pattern, form) is not None for form in _spellings(command))
        return matched or any(equivalent(command, e) for e in case.expected)
    return any(equivalent(command, e) for e in case.expected)


@dataclass(frozen=True)
class ExecutionVerdict:
    """The execution judge's word: passed, failed, or no verdict (`passed` None), with why."""

    passed: bool | None
    reason: str = ""


# A `./` that starts a path: `./logs/a.log` and `logs/a.log` name the same file.
_DOT_SLASH = re.compile(r"(^|[\s:='\"(])\./(?=[^/\s])")


def normalise(output: str, workdir: str, ordered: bool) -> tuple[str, ...]:
    """Output lines as compared: the fixture's absolute path made relative, a leading `./`
    dropped, trailing whitespace removed; in order without blank lines at either end when the
    request asks for an order, else sorted without blank lines (they carry nothing then)."""
    lines = []
    for line in output.splitlines():
        line = line.replace(workdir + "/", "").replace(workdir, ".")
        lines.append(_DOT_SLASH.sub(r"\1", line).rstrip())
    if not ordered:
        return tuple(sorted(line for line in lines if line))
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return tuple(lines)


def difference(expected: sandbox.Run, got: sandbox.Run, ordered: bool) -> str | None:
    """How two runs differ (exit status, output, files), or None when they agree."""
    if got.timed_out:
        return "timed out"
    if got.exit_code != expected.exit_code:
        return f"exit status {got.exit_code}, expected {expected.exit_code}"
    if normalise(got.stdout, got.workdir, ordered) != normalise(expected.stdout, expected.workdir, ordered):
        return "different output" + (" order" if sorted(got.stdout.splitlines()) == sorted(expected.stdout.splitlines()) else "")
    if got.tree != expected.tree:
        left, right = dict(expected.tree), dict(got.tree)
        path = next((p for p in sorted(set(left) | set(right)) if left.get(p) != right.get(p)), "?")
        return f"different files ({path})"
    return None


class FixtureBuilderError(Exception):
    """The fixture builder module cannot be loaded or cannot build a fixture."""


def load_builder(path: Path) -> ModuleType:
    """The fixture builder module at `path`: it defines `FIXTURES` (names) and `build(name, root)`."""
    spec = importlib.util.spec_from_file_location("caro_eval_fixtures", path)
    if spec is None or spec.loader is None:
        raise FixtureBuilderError("not a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # the builder is the user's code; any failure is reported, not raised
        raise FixtureBuilderError(f"it failed to load ({type(exc).__name__})") from None
    if not callable(getattr(module, "build", None)):
        raise FixtureBuilderError("it has no build(name, root) function")
    return module


class ExecutionJudge:
    """Runs answers in fixtures built once per judge; expected runs are cached per fixture."""

    def __init__(self, builder: ModuleType | None, *, timeout_s: float = 10.0, shell: str = "bash") -> None:
        self.builder = builder
        self.timeout_s = timeout_s
        self.shell = shell
        self._root: Path | None = None
        self._templates: dict[str, Path | str] = {}  # a fixture's folder, or why it could not be built
        self._expected: dict[tuple[str, str], sandbox.Run | str] = {}

    def close(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> ExecutionJudge:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def unavailable(self) -> str | None:
        """Why this judge can give no verdict at all, or None."""
        if self.builder is None:
            return "no fixture builder (caro eval --fixtures)"
        problem = sandbox.problem()
        return f"confinement unavailable: {problem}" if problem else None

    def template(self, name: str) -> Path | str:
        """The built fixture `name`, or why it could not be built."""
        if name not in self._templates:
            if self._root is None:
                self._root = Path(tempfile.mkdtemp(prefix="caro-fixtures-"))
            folder = self._root / name
            folder.mkdir()
            try:
                assert self.builder is not None
                self.builder.build(name, folder)
                self._templates[name] = folder
            except Exception as exc:  # the builder is the user's code
                self._templates[name] = f"fixture {name!r} could not be built ({type(exc).__name__})"
        return self._templates[name]

    def run(self, fixture: str, command: str) -> sandbox.Run | str:
        """One confined run of `command` in a fresh copy of `fixture`, or why it could not run."""
        template = self.template(fixture)
        if isinstance(template, str):
            return template
        try:
            return sandbox.run_confined(command, template, shell=self.shell, timeout_s=self.timeout_s)
        except sandbox.SandboxError as exc:
            return str(exc)

    def expected_run(self, fixture: str, command: str) -> sandbox.Run | str:
        key = (fixture, command)
        if key not in self._expected:
            self._expected[key] = self.run(fixture, command)
        return self._expected[key]

    def verdict(self, case: EvalCase, command: str | None, action: Action | None) -> ExecutionVerdict | None:
        """The verdict on `command` for `case`; None for cases this judge does not decide.

        `action` is the safety validator's action for the command: a blocked command is never run.
        """
        if case.judge is not JudgeKind.EXECUTION or case.fixture is None:
            return None
        if command is None:
            return ExecutionVerdict(False, "no command")
        if action is Action.BLOCKED:
            return ExecutionVerdict(False, "blocked by the safety validator; not run")
        if action is None:
            return ExecutionVerdict(None, "not judged by the safety validator; not run")
        if (why := self.unavailable()) is not None:
            return ExecutionVerdict(None, why)
        expected_runs = []
        for expected in case.expected:
            if command == expected:
                return ExecutionVerdict(True, "identical to an expected command")
            run = self.expected_run(case.fixture, expected)
            if isinstance(run, str):
                return ExecutionVerdict(None, run)
            if run.exit_code != 0:
                return ExecutionVerdict(None, "an expected command fails in the fixture")
            expected_runs.append(run)
        got = self.run(case.fixture, command)
        if isinstance(got, str):
            return ExecutionVerdict(None, got)
        reasons = [difference(run, got, case.ordered) for run in expected_runs]
        if any(reason is None for reason in reasons):
            return ExecutionVerdict(True)
        return ExecutionVerdict(False, str(reasons[0]))
