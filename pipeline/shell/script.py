"""What a parsed command line holds: simple commands, redirects, assignments, functions."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Redirect:
    """One redirection: its operator (`>`, `>>`, `<`, `&>`, `<<`, `<<<` ...) and target word."""

    op: str
    target: str  # the rendered file word; for `<<` the here-document body, for `<<<` the string
    fd: int | None = None  # the explicit descriptor (`2>`), if any
    owner: int | None = None  # index in Script.commands of the command it belongs to; None for a compound

    @property
    def writes(self) -> bool:
        """Whether the redirection opens its target for writing."""
        return self.op in (">", ">>", "&>", "&>>", ">|", "<>") or (self.op == ">&" and not self.target.isdigit() and self.target != "-")

    @property
    def reads(self) -> bool:
        """Whether the redirection feeds its target into the command's input."""
        return self.op in ("<", "<>", "<<", "<<-", "<<<")


@dataclass(frozen=True)
class SimpleCommand:
    """One simple command (`name arg...` with its assignments and redirects) and where it runs."""

    argv: tuple[str, ...]
    assignments: tuple[str, ...] = ()  # `NAME=value` words before the name
    redirects: tuple[Redirect, ...] = ()
    pipeline: int | None = None  # id shared by the stages of one pipeline
    stage: int = 0  # position in that pipeline
    pipes_to_next: bool = False
    background: bool = False  # it, or a list/compound around it, ends with `&`
    in_substitution: bool = False  # inside `$(...)`, backticks or `<(...)`/`>(...)`
    host: int | None = None  # index of the command whose word holds that substitution
    function: str | None = None  # name of the function whose body holds it
    in_unbounded_loop: bool = False  # inside `while true`, `while :`, `until false` or `for ((;;))`
    scoped: bool = False  # inside a subshell, function, loop, condition or substitution
    span: tuple[int, int] = (0, 0)  # byte offsets in the parsed text

    @property
    def piped_into(self) -> bool:
        """Whether an earlier pipeline stage writes into this command's input."""
        return self.pipeline is not None and self.stage > 0

    @property
    def name(self) -> str:
        """The command word as written (after quote removal), or '' for a bare assignment."""
        return self.argv[0] if self.argv else ""


@dataclass(frozen=True)
class Assignment:
    """`NAME=value` as a statement of its own or in `export`/`declare`/`local`: it lasts."""

    name: str
    value: str  # rendered, with markers for run-time parts
    before: int  # the number of Script.commands that come before it in the text
    scoped: bool = False  # inside a subshell, function, loop, condition or substitution
    choice: bool = False  # one of several values the variable takes in turn (a `for` loop)


@dataclass(frozen=True)
class FunctionDef:
    """A shell function definition: its name and the indices of the commands in its body."""

    name: str
    body: tuple[int, ...]


@dataclass(frozen=True)
class Script:
    """A parsed command line: its simple commands in source order, functions and redirects."""

    commands: tuple[SimpleCommand, ...]
    functions: tuple[FunctionDef, ...] = ()
    redirects: tuple[Redirect, ...] = ()  # every redirect, including those on compounds
    ok: bool = True
    error: str | None = None  # where parsing failed; never quotes the text
    assignments: tuple[Assignment, ...] = ()
    declarations: tuple[SimpleCommand, ...] = ()  # export/declare/local/readonly/typeset/unset
    arithmetic: frozenset[str] = frozenset()  # variables read in arithmetic (`$(( x ))`, `[[ x -eq 1 ]]`)
    braces: bool = False  # some word had a brace expansion (`{a,b}`) that was expanded
    split_word: bool = False  # a backslash-newline joins two halves of one word (`r\<newline>m`)

    def stages(self, pipeline: int) -> tuple[SimpleCommand, ...]:
        """The commands of one pipeline, in stage order."""
        return tuple(c for c in self.commands if c.pipeline == pipeline)
