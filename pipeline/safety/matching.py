"""Matching one rule against one command: the Subject a rule sees and the Rule itself.

A rule matches one command at a time (after wrappers such as sudo are seen through), by utility
name, normalised flags, the classes of its targets, anchored regexes over single words, its
pipeline and its redirects; no rule ever sees the whole command string, which keeps judging
linear in length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.safety.flags import Options
from pipeline.safety.targets import Target, classify
from pipeline.shell.finders import found_words
from pipeline.shell.unwrap import Invocation
from pipeline.values import Category, Risk

MAX_REGEX_WORD = 4096  # longer words are never matched by a regex, so a pattern cannot go quadratic


@dataclass(frozen=True)
class Subject:
    """One command as the rules see it: what runs, its options, redirects and what feeds it."""

    invocation: Invocation
    options: Options
    redirect_out: tuple[str, ...] = ()
    redirect_in: tuple[str, ...] = ()
    fed_by: frozenset[str] = frozenset()  # names of commands whose output it reads
    fed_classes: frozenset[Target] = frozenset()  # classes of what those commands read
    cwd: str | None = None
    home: str | None = None
    cwds: tuple[str | None, ...] = ()  # every directory it may run in (after `cd` in the same line); () means (cwd,)
    pipeline_names: frozenset[str] = frozenset()  # names of every command in its pipeline
    assignments: tuple[str, ...] = ()  # `NAME=value` words before it

    def words_from(self, source: str) -> tuple[str, ...]:
        """The words a target source names (see `target_from` in the schema)."""
        ops = self.options.operands
        if source == "operands":
            return ops
        if source == "first_operand":
            return ops[:1]
        if source == "last_operand":
            return ops[-1:]
        if source == "sources":  # what mv/cp take from: every operand but the destination
            return ops if "-t" in self.options.values or "--target-directory" in self.options.values else ops[:-1]
        if source == "after_first":  # chown OWNER FILE...: the files
            return ops[1:]
        if source == "found":  # what find acts on: everything under each root, or a path inside it when it filters
            return found_words(self.invocation.argv)
        if source == "redirect_out":
            return self.redirect_out
        if source == "redirect_in":
            return self.redirect_in
        kind, _, key = source.partition(":")
        if kind == "value":
            return self.options.values.get(key, ())
        prefix = key + "="
        return tuple(w[len(prefix) :] for w in ops if w.startswith(prefix))

    def classes(self, words: Sequence[str]) -> frozenset[Target]:
        """The classes of some words, in every directory the command may run in."""
        found: frozenset[Target] = frozenset()
        for cwd in self.cwds or (self.cwd,):
            for word in words:
                found |= classify(word, cwd, self.home)
        return found


@dataclass(frozen=True)
class Rule:
    """One safety rule: what it matches and the finding it produces."""

    id: str
    category: Category
    risk: Risk
    message: str
    utility: tuple[str, ...] = ()
    subcommand: tuple[str, ...] = ()
    flags_all: frozenset[str] = frozenset()
    flags_any: frozenset[str] = frozenset()
    flags_none: frozenset[str] = frozenset()
    targets: frozenset[Target] = frozenset()
    target_from: tuple[str, ...] = ("operands",)
    operands_any: tuple[re.Pattern[str], ...] = ()
    operands_none: tuple[re.Pattern[str], ...] = ()
    args_any: tuple[re.Pattern[str], ...] = ()
    args_none: tuple[re.Pattern[str], ...] = ()
    operands_min: int | None = None
    operands_max: int | None = None
    privileged: bool | None = None
    script_input: bool | None = None
    fed_by: frozenset[str] = frozenset()
    fed_targets: frozenset[Target] = frozenset()
    pipeline_any: frozenset[str] = frozenset()
    assignments_any: tuple[re.Pattern[str], ...] = ()
    via: frozenset[str] = frozenset()
    reads: frozenset[Target] = frozenset()
    shape: str | None = None
    allow: bool = False
    source: str = ""  # file name the rule came from, for error messages

    @property
    def needs(self) -> tuple[str, ...]:
        """What a subject must have for this rule to match at all (see RuleSet.candidates)."""
        needs = []
        if self.targets and set(self.target_from) <= {"redirect_out", "redirect_in"}:
            needs.extend(n for n in ("redirect_out", "redirect_in") if self.target_from == (n,))
        if self.script_input:
            needs.append("script_input")
        if self.privileged:
            needs.append("privileged")
        if self.assignments_any:
            needs.append("assignments")
        if self.fed_by or self.fed_targets:
            needs.append("fed")
        return tuple(needs)

    def matches(self, s: Subject) -> bool:
        """Whether every condition the rule states holds for the subject."""
        inv, opts = s.invocation, s.options
        if self.subcommand and opts.subcommand[: len(self.subcommand)] != self.subcommand:
            return False
        if self.flags_all and not self.flags_all <= opts.flags:
            return False
        if self.flags_any and not self.flags_any & opts.flags:
            return False
        if self.flags_none and self.flags_none & opts.flags:
            return False
        if self.privileged is not None and inv.privileged != self.privileged:
            return False
        if self.script_input is not None and inv.script_input != self.script_input:
            return False
        if self.operands_min is not None and len(opts.operands) < self.operands_min:
            return False
        if self.operands_max is not None and len(opts.operands) > self.operands_max:
            return False
        if self.fed_by and not self.fed_by & s.fed_by:
            return False
        if self.fed_targets and not self.fed_targets & s.fed_classes:
            return False
        if self.pipeline_any and not self.pipeline_any & s.pipeline_names:
            return False
        if self.via and not self.via & set(inv.wrappers):
            return False
        if self.reads and not self.reads & s.classes([*opts.operands, *s.redirect_in]):
            return False
        if self.assignments_any and not _any_match(self.assignments_any, s.assignments):
            return False
        if self.operands_any and not _any_match(self.operands_any, opts.operands):
            return False
        if self.operands_none and _any_match(self.operands_none, opts.operands):
            return False
        if self.args_any and not _any_match(self.args_any, inv.argv[1:]):
            return False
        if self.args_none and _any_match(self.args_none, inv.argv[1:]):
            return False
        if self.targets:
            words = [w for src in self.target_from for w in s.words_from(src)]
            if not self.targets & s.classes(words):
                return False
        return True


def _any_match(patterns: Sequence[re.Pattern[str]], words: Sequence[str]) -> bool:
    return any(p.fullmatch(w) for w in words if len(w) <= MAX_REGEX_WORD for p in patterns)
