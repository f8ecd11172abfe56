"""The values `caro explain` produces: an explanation of a command line, step by step."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.explain.docs import DocSource
from pipeline.explain.structure import Link


@dataclass(frozen=True)
class Option:
    """One flag as written, its value if it takes one, and what it means."""

    flag: str
    value: str | None
    meaning: str | None
    source: DocSource

    def as_dict(self) -> dict[str, object]:
        return {"flag": self.flag, "value": self.value, "meaning": self.meaning, "source": self.source.value}


@dataclass(frozen=True)
class Redirection:
    """One redirection (`> f`, `2>&1`, `< f`, a here-document) and what it does, in words."""

    op: str
    fd: int | None
    target: str
    meaning: str

    def as_dict(self) -> dict[str, object]:
        return {"op": self.op, "fd": self.fd, "target": self.target, "meaning": self.meaning}


@dataclass(frozen=True)
class Step:
    """One simple command: its utility, flags, arguments, redirections, and what it runs in turn."""

    text: str  # as written
    utility: str  # the name it runs ('' for a bare assignment)
    installed: bool  # on PATH, or a shell builtin
    summary: str | None
    summary_source: DocSource
    options: tuple[Option, ...] = ()
    arguments: tuple[str, ...] = ()
    assignments: tuple[str, ...] = ()
    redirections: tuple[Redirection, ...] = ()
    notes: tuple[str, ...] = ()  # how it runs: as root, in the background, code it reads ...
    runs: tuple[Step, ...] = ()  # the command a wrapper runs, `find -exec` commands, `sh -c` scripts
    where: str | None = None  # the loop, condition, group or substitution around it
    next: Link | None = None  # how it leads to the following step at its level

    def as_dict(self) -> dict[str, object]:
        return {
            "text": self.text,
            "utility": self.utility,
            "installed": self.installed,
            "summary": self.summary,
            "summary_source": self.summary_source.value,
            "options": [o.as_dict() for o in self.options],
            "arguments": list(self.arguments),
            "assignments": list(self.assignments),
            "redirections": [r.as_dict() for r in self.redirections],
            "notes": list(self.notes),
            "where": self.where,
            "next": self.next.value if self.next is not None else None,
            "runs": [s.as_dict() for s in self.runs],
        }


@dataclass(frozen=True)
class Verdict:
    """The safety judgement, as `caro check` gives it."""

    risk: str
    action: str
    categories: tuple[str, ...]
    explanation: str
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "risk": self.risk,
            "action": self.action,
            "categories": list(self.categories),
            "explanation": self.explanation,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class Explanation:
    """A command line explained: its steps in order, whether it all parsed, and the verdict."""

    command: str
    steps: tuple[Step, ...]
    parsed: bool = True
    problem: str | None = None  # where parsing failed; never quotes the text
    redirections: tuple[Redirection, ...] = ()  # on loops and groups rather than one command
    verdict: Verdict | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "command": self.command,
            "parsed": self.parsed,
            "problem": self.problem,
            "steps": [s.as_dict() for s in self.steps],
            "redirections": [r.as_dict() for r in self.redirections],
            "verdict": self.verdict.as_dict() if self.verdict is not None else None,
        }
