"""The safety verdict of a command: every simple command it runs, judged against the rules.

`assess` parses the command with tree-sitter-bash, sees through wrappers (sudo, env, xargs ...),
parses again the text that `eval`, `sh -c`, `su -c`, `ssh host cmd` and here-documents fed to a
shell would run (at most MAX_DEPTH levels), and matches each command against the rules. The
verdict's risk is the worst finding's; its action comes from the safety level. It does no I/O:
targets are resolved from the text, cwd and home alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.safety.flags import parse_options
from pipeline.safety.rules import Rule, RuleSet, Subject
from pipeline.safety.targets import Target, classify
from pipeline.shell.parse import Redirect, Script, SimpleCommand, parse_script
from pipeline.shell.unwrap import INTERPRETERS, SHELLS, Invocation, find_paths, unwrap, utility_name
from pipeline.shell.words import strip_markers
from pipeline.values import Category, Finding, Risk, SafetyLevel, SafetyVerdict, Shell, action_for

MAX_DEPTH = 8  # eval / sh -c / find -exec nesting judged before giving up (and flagging it)
MAX_LITERALS = 64  # string literals of inline interpreter code judged as shell text

# Used when a rule file leaves out the structural rules; a parse failure must never pass silently.
_FALLBACK = {
    "unparsable": (Category.UNPARSABLE, Risk.MODERATE, "The command could not be parsed completely, so it cannot be fully judged."),
    "too_deep": (Category.UNPARSABLE, Risk.HIGH, "Nests eval, sh -c or similar too deeply to judge."),
}
_SHELL_OUT = ("system", "popen", "subprocess", "exec", "spawn", "`", "check_output", "run(", "call(", "shell_exec", "passthru")


def assess(
    command: str,
    *,
    shell: Shell,
    level: SafetyLevel,
    rules: RuleSet,
    cwd: str | None = None,
    home: str | None = None,
) -> SafetyVerdict:
    """Judge one command line for the given shell at the given safety level.

    Every POSIX-family shell in `Shell` is read with the bash grammar, which is a superset of
    what caro generates for them; `shell` is accepted so callers state it and so a future
    grammar can be chosen per shell.
    """
    judge = _Judge(rules=rules, cwd=cwd, home=home)
    judge.script(command, depth=0)
    findings = judge.result()
    risk = max((f.risk for f in findings), default=Risk.SAFE)
    return SafetyVerdict(risk=risk, action=action_for(risk, level), findings=findings, parsed=judge.parsed)


@dataclass
class _Judge:
    """Collects findings for one command line across every nested script it runs."""

    rules: RuleSet
    cwd: str | None
    home: str | None
    parsed: bool = True
    findings: dict[str, Finding] = field(default_factory=dict)

    def result(self) -> tuple[Finding, ...]:
        return tuple(sorted(self.findings.values(), key=lambda f: -f.risk))

    def add(self, rule: Rule) -> None:
        self.findings.setdefault(rule.id, Finding(rule.id, rule.category, rule.risk, rule.message))

    def shape(self, name: str) -> None:
        rules = self.rules.for_shape(name)
        if rules:
            for rule in rules:
                self.add(rule)
        elif name in _FALLBACK:
            category, risk, message = _FALLBACK[name]
            self.findings.setdefault(name, Finding(name, category, risk, message))

    def script(self, text: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.shape("too_deep")
            return
        script = parse_script(text)
        if not script.ok:
            self.parsed = False
            self.shape("unparsable")
        invocations = self._invocations(script)
        feeds = self._feeds(script, invocations)
        for cmd, inv, (names, classes) in zip(script.commands, invocations, feeds):
            self.command(cmd, inv, names, classes, depth)
        for redirect in script.redirects:
            if redirect.owner is None:
                self.subject(Subject(Invocation(argv=()), parse_options(()), _outs([redirect]), _ins([redirect]), cwd=self.cwd, home=self.home))
        self._shapes(script, invocations)

    def _invocations(self, script: Script) -> list[Invocation]:
        invocations: list[Invocation] = []
        last_stage: dict[int, Invocation] = {}
        for cmd in script.commands:
            feed = last_stage.get(cmd.pipeline) if cmd.pipeline is not None and cmd.stage > 0 else None
            paths = find_paths(feed.argv) if feed is not None and feed.name == "find" else None
            inv = unwrap(cmd.argv, xargs_input=paths) if paths else unwrap(cmd.argv)
            invocations.append(inv)
            if cmd.pipeline is not None:
                last_stage[cmd.pipeline] = inv
        return invocations

    def _feeds(self, script: Script, invocations: list[Invocation]) -> list[tuple[frozenset[str], frozenset[Target]]]:
        """For each command, the names of the commands whose output it reads and what they read.

        Feeders are earlier stages of its pipeline and the commands inside substitutions in its
        words. Both are accumulated as sets in one pass, so a pipeline of thousands of stages
        stays linear.
        """
        own = [
            (inv.name, self._classes([*inv.argv[1:], *_ins(cmd.redirects)]))
            for cmd, inv in zip(script.commands, invocations)
        ]
        hosted: dict[int, tuple[set[str], set[Target]]] = {}
        for i, cmd in enumerate(script.commands):
            if cmd.host is not None:
                names, classes = hosted.setdefault(cmd.host, (set(), set()))
                names.add(own[i][0])
                classes.update(own[i][1])
        # pipeline id -> [current stage, names before it, classes before it, names in it, classes in it]
        state: dict[int, tuple[int, set[str], set[Target], set[str], set[Target]]] = {}
        result: list[tuple[frozenset[str], frozenset[Target]]] = []
        for i, cmd in enumerate(script.commands):
            host_names, host_classes = hosted.get(i, (set(), set()))
            names, classes = set(host_names), set(host_classes)
            if cmd.pipeline is not None:
                stage, before_n, before_c, cur_n, cur_c = state.get(cmd.pipeline, (0, set(), set(), set(), set()))
                if cmd.stage > stage:
                    before_n, before_c, cur_n, cur_c = before_n | cur_n, before_c | cur_c, set(), set()
                    stage = cmd.stage
                names |= before_n
                classes |= before_c
                cur_n.add(own[i][0])
                cur_c.update(own[i][1])
                state[cmd.pipeline] = (stage, before_n, before_c, cur_n, cur_c)
            result.append((frozenset(names), frozenset(classes)))
        return result

    def _classes(self, words: list[str]) -> frozenset[Target]:
        found: frozenset[Target] = frozenset()
        for word in words:
            found |= classify(word, self.cwd, self.home)
        return found

    def command(self, cmd: SimpleCommand, inv: Invocation, fed_by: frozenset[str], fed_classes: frozenset[Target], depth: int) -> None:
        if inv.too_deep:
            self.shape("too_deep")
        subject = Subject(
            invocation=inv,
            options=parse_options(inv.argv[1:], self.rules.spec(inv.name)),
            redirect_out=_outs(cmd.redirects),
            redirect_in=_ins(cmd.redirects),
            fed_by=fed_by,
            fed_classes=fed_classes,
            cwd=self.cwd,
            home=self.home,
        )
        self.subject(subject)
        self.nested(inv, depth)
        if inv.name in SHELLS and not inv.scripts:
            for redirect in cmd.redirects:
                if redirect.op in ("<<", "<<-", "<<<"):
                    self.script(strip_markers(redirect.target), depth + 1)

    def nested(self, inv: Invocation, depth: int) -> None:
        """Judge what an invocation runs in turn: shell text, -exec commands, inline code."""
        for text in inv.scripts:
            self.script(strip_markers(text), depth + 1)
        for argv in inv.spawned:
            if depth + 1 > MAX_DEPTH:
                self.shape("too_deep")
                break
            child = unwrap(argv)
            self.subject(Subject(child, parse_options(child.argv[1:], self.rules.spec(child.name)), cwd=self.cwd, home=self.home))
            self.nested(child, depth + 1)
        if inv.code is not None and inv.name in INTERPRETERS:
            self._inline_code(inv.code, depth)

    def subject(self, subject: Subject) -> None:
        matched = [r for r in self.rules.for_utility(subject.invocation.name) if r.matches(subject)]
        if any(r.allow for r in matched):
            return  # an allow rule exempts this one command from every other rule
        for rule in matched:
            self.add(rule)

    def _inline_code(self, code: str, depth: int) -> None:
        # `python -c "import os; os.system('rm -rf /')"`: judge the string literals of code that
        # shells out as shell text; only literals, so ordinary code is not misread as shell.
        if not any(marker in code for marker in _SHELL_OUT):
            return
        self.shape("shell_out")
        for literal in _string_literals(code)[:MAX_LITERALS]:
            if literal.strip():
                self.script(literal, depth + 1)

    def _shapes(self, script: Script, invocations: list[Invocation]) -> None:
        for function in script.functions:
            calls = [script.commands[j] for j in function.body if utility_name(invocations[j].name) == function.name.lower()]
            if len(calls) >= 2 or any(c.background or c.pipeline is not None for c in calls):
                self.shape("fork_bomb")
        if any(c.in_unbounded_loop and c.background for c in script.commands):
            self.shape("background_loop")


def _outs(redirects: Sequence[Redirect]) -> tuple[str, ...]:
    """The files a command's redirects write to."""
    return tuple(r.target for r in redirects if r.writes)


def _ins(redirects: Sequence[Redirect]) -> tuple[str, ...]:
    """The files a command's redirects read from (here-documents are text, not files)."""
    return tuple(r.target for r in redirects if r.op in ("<", "<>"))


def _string_literals(code: str) -> list[str]:
    """The quoted string literals of a piece of Python/Perl/Ruby/JS code, in one linear scan."""
    found: list[str] = []
    i, n = 0, len(code)
    while i < n:
        quote = code[i]
        if quote not in "'\"`":
            i += 1
            continue
        j = i + 1
        buf: list[str] = []
        while j < n and code[j] != quote:
            if code[j] == "\\" and j + 1 < n:
                buf.append(code[j + 1])
                j += 2
                continue
            buf.append(code[j])
            j += 1
        found.append("".join(buf))
        i = j + 1
    return found
