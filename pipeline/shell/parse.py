"""A parsed POSIX shell script: every simple command it runs, wherever it is nested.

Why tree-sitter-bash and not bashlex: tree-sitter is a C parser with prebuilt wheels for every
platform; it runs in time linear in the input and recovers from errors, so a truncated or
malformed command still yields the commands it contains plus a flag saying it did not parse.
bashlex is a pure-Python port of bash's yacc grammar: it raises on input it does not know
instead of recovering (checked with bashlex 0.18: `arr=(1 2 3)`, `[[ $s =~ ^[0-9]+$ ]]`,
`for ((;;)); do :; done` and `case x in x) a;; esac` raise ParsingError or
NotImplementedError, and `echo $((5 + 3))` raises NotImplementedError), and it was about nine
times slower on short commands in the same check (about 190 us against 21 us per command).
A safety check needs to see through malformed input, not stop at it, so the choice is
tree-sitter.

Words are rendered the way the shell would see them before expansion: quotes removed and
backslash escapes resolved (`\\rm`, `"rm"` and `'r''m'` all give `rm`). A part that only the
running shell can know (a variable, `$(...)`, `<(...)`, `$((...))`) is kept as a marker,
`DYNAMIC` + shell text + `DYNAMIC`, so callers can tell the word is dynamic and still see which
variable it names (`$HOME`). The marker text is valid shell, so stripping the `DYNAMIC`
characters gives text that can be parsed again (for `eval` and `sh -c`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache

import tree_sitter
import tree_sitter_bash

from pipeline.shell.words import (
    CMDSUB_MARK,
    DYNAMIC,
    EXPR_MARK,
    PROCSUB_MARK,
    is_dynamic,
    parser_safe,
    render_word,
)

__all__ = [
    "CMDSUB_MARK",
    "DYNAMIC",
    "EXPR_MARK",
    "PROCSUB_MARK",
    "FunctionDef",
    "Redirect",
    "Script",
    "SimpleCommand",
    "is_dynamic",
    "parse_script",
]

# Node types that hold no command inside them; the walker skips them to stay fast.
_LEAVES = frozenset({"word", "raw_string", "number", "ansi_c_string", "variable_name", "comment", "special_variable_name", "test_operator", "file_descriptor", "heredoc_start", "heredoc_end", "regex"})
_SUBSTITUTIONS = frozenset({"command_substitution", "process_substitution"})
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})


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

    def stages(self, pipeline: int) -> tuple[SimpleCommand, ...]:
        """The commands of one pipeline, in stage order."""
        return tuple(c for c in self.commands if c.pipeline == pipeline)


@lru_cache(maxsize=1)
def _language() -> tree_sitter.Language:
    # The compiled grammar is immutable; load it once per process.
    return tree_sitter.Language(tree_sitter_bash.language())


_local = threading.local()


def _parser() -> tree_sitter.Parser:
    # A Parser keeps mutable state, so each thread gets its own.
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = tree_sitter.Parser(_language())
        _local.parser = parser
    return parser


class _Ctx:
    """Where a node sits: pipeline position, background, substitution, function, loop."""

    __slots__ = ("pipeline", "stage", "to_next", "background", "subst", "host", "owner", "function", "loop")

    def __init__(self) -> None:
        self.pipeline: int | None = None
        self.stage = 0
        self.to_next = False
        self.background = False
        self.subst = False
        self.host: int | None = None
        self.owner: int | None = None  # the command whose words are being walked
        self.function: str | None = None
        self.loop = False

    def copy(self) -> _Ctx:
        new = _Ctx.__new__(_Ctx)
        for slot in _Ctx.__slots__:
            setattr(new, slot, getattr(self, slot))
        return new


def parse_script(command: str) -> Script:
    """Parse a command line and collect every simple command in it, however deeply nested."""
    src = parser_safe(command).encode("utf-8")
    tree = _parser().parse(src)
    walker = _Walker(src)
    walker.walk(tree.root_node)
    ok = not tree.root_node.has_error
    functions = tuple(
        FunctionDef(name, tuple(i for i, c in enumerate(walker.commands) if c.function == name and i >= first))
        for name, first in walker.functions
    )
    return Script(
        commands=tuple(walker.commands),
        functions=functions,
        redirects=tuple(walker.redirects),
        ok=ok,
        error=None if ok else _error_position(tree.root_node),
    )


def _error_position(root: tree_sitter.Node) -> str:
    """A description of the first ERROR or MISSING node: its kind and position only."""
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_missing:
            row, col = node.start_point
            return f"missing '{node.type}' at line {row + 1}, column {col + 1}"
        if node.is_error:
            row, col = node.start_point
            return f"syntax error at line {row + 1}, column {col + 1}"
        if node.has_error:
            stack.extend(reversed(node.children))
    return "syntax error"


class _Walker:
    """An iterative depth-first walk; recursion would overflow on deeply nested input."""

    def __init__(self, src: bytes) -> None:
        self.src = src
        self.commands: list[SimpleCommand] = []
        self.redirects: list[Redirect] = []
        self.functions: list[tuple[str, int]] = []
        self._pipelines = 0

    def walk(self, root: tree_sitter.Node) -> None:
        stack: list[tuple[tree_sitter.Node, _Ctx]] = [(root, _Ctx())]
        while stack:
            node, ctx = stack.pop()
            kind = node.type
            if kind == "command":
                self._command(node, ctx, (), stack)
            elif kind == "redirected_statement":
                self._redirected(node, ctx, stack)
            elif kind == "pipeline":
                self._pipeline(node, ctx, stack)
            elif kind in _SUBSTITUTIONS:
                inner = ctx.copy()
                inner.pipeline, inner.stage, inner.to_next = None, 0, False
                inner.subst, inner.host, inner.owner = True, ctx.owner, None
                self._push_children(node, inner, stack)
            elif kind == "function_definition":
                name_node = node.child_by_field_name("name")
                name = render_word(name_node, self.src) if name_node is not None else ""
                self.functions.append((name, len(self.commands)))
                inner = ctx.copy()
                inner.function = name
                self._push_children(node, inner, stack)
            elif kind == "while_statement":
                self._while(node, ctx, stack)
            elif kind == "c_style_for_statement":
                self._c_for(node, ctx, stack)
            elif kind in _REDIRECTS:
                # A redirect with no command, e.g. `$(> /etc/passwd)`; those on commands and
                # redirected statements were recorded when their owner was visited.
                parent = node.parent
                if parent is None or parent.type not in ("command", "redirected_statement"):
                    self.redirects.append(self._redirect(node, None))
                self._push_children(node, ctx, stack)
            elif kind not in _LEAVES:
                self._push_children(node, ctx, stack)

    def _push_children(self, node: tree_sitter.Node, ctx: _Ctx, stack: list[tuple[tree_sitter.Node, _Ctx]]) -> None:
        children = node.children
        pending: list[tuple[tree_sitter.Node, _Ctx]] = []
        last = len(children) - 1
        for i, child in enumerate(children):
            if not child.is_named or child.type in _LEAVES:
                continue
            if i < last and children[i + 1].type == "&" and not ctx.background:
                bg = ctx.copy()
                bg.background = True
                pending.append((child, bg))
            else:
                pending.append((child, ctx))
        stack.extend(reversed(pending))

    def _pipeline(self, node: tree_sitter.Node, ctx: _Ctx, stack: list[tuple[tree_sitter.Node, _Ctx]]) -> None:
        self._pipelines += 1
        stages = [c for c in node.children if c.is_named and c.type != "comment"]
        pending = []
        for i, child in enumerate(stages):
            inner = ctx.copy()
            inner.pipeline, inner.stage, inner.to_next = self._pipelines, i, i < len(stages) - 1
            pending.append((child, inner))
        stack.extend(reversed(pending))

    def _redirected(self, node: tree_sitter.Node, ctx: _Ctx, stack: list[tuple[tree_sitter.Node, _Ctx]]) -> None:
        body = node.child_by_field_name("body")
        redirect_nodes = [c for c in node.children if c.type in _REDIRECTS]
        if body is not None and body.type == "command":
            self._command(body, ctx, redirect_nodes, stack)
        else:
            for r in redirect_nodes:
                self.redirects.append(self._redirect(r, None))
            if body is not None:
                stack.append((body, ctx))
        # Substitutions inside redirect targets (`> "$(cmd)"`) still run.
        for r in reversed(redirect_nodes):
            stack.append((r, ctx))

    def _command(self, node: tree_sitter.Node, ctx: _Ctx, extra: list[tree_sitter.Node] | tuple[()], stack: list[tuple[tree_sitter.Node, _Ctx]]) -> None:
        index = len(self.commands)
        argv: list[str] = []
        assignments: list[str] = []
        redirect_nodes = list(extra)
        nested: list[tree_sitter.Node] = []
        for child in node.children:
            kind = child.type
            if kind == "command_name":
                word = child.children[0] if child.child_count == 1 else child
                argv.append(render_word(word, self.src))
                if word.type not in _LEAVES:
                    nested.append(word)
            elif kind == "variable_assignment":
                assignments.append(render_word(child, self.src))
                nested.append(child)
            elif kind in _REDIRECTS:
                redirect_nodes.append(child)
                nested.append(child)
            elif child.is_named and kind != "comment":
                argv.append(render_word(child, self.src))
                if kind not in _LEAVES:
                    nested.append(child)
        redirects = tuple(self._redirect(r, index) for r in redirect_nodes)
        self.redirects.extend(redirects)
        self.commands.append(
            SimpleCommand(
                argv=tuple(argv),
                assignments=tuple(assignments),
                redirects=redirects,
                pipeline=ctx.pipeline,
                stage=ctx.stage,
                pipes_to_next=ctx.to_next,
                background=ctx.background,
                in_substitution=ctx.subst,
                host=ctx.host,
                function=ctx.function,
                in_unbounded_loop=ctx.loop,
                span=(node.start_byte, node.end_byte),
            )
        )
        if nested:
            inner = ctx.copy()
            inner.owner = index
            stack.extend((n, inner) for n in reversed(nested))

    def _redirect(self, node: tree_sitter.Node, owner: int | None) -> Redirect:
        op = ""
        fd: int | None = None
        target = ""
        for child in node.children:
            kind = child.type
            if kind == "file_descriptor":
                text = self.src[child.start_byte : child.end_byte].decode("utf-8", "replace")
                fd = int(text) if text.isdigit() else None
            elif kind == "heredoc_body":
                target = self.src[child.start_byte : child.end_byte].decode("utf-8", "replace")
            elif not child.is_named:
                op = op or child.type
            elif kind != "heredoc_start" and not target:
                target = render_word(child, self.src)
        return Redirect(op=op, target=target, fd=fd, owner=owner)

    def _while(self, node: tree_sitter.Node, ctx: _Ctx, stack: list[tuple[tree_sitter.Node, _Ctx]]) -> None:
        until = node.child_count > 0 and node.children[0].type == "until"
        conditions = [c for c in node.children_by_field_name("condition") if c.is_named]
        forever = False
        if len(conditions) == 1 and conditions[0].type == "command":
            name = conditions[0].child_by_field_name("name")
            word = render_word(name, self.src) if name is not None else ""
            forever = word in ("false",) if until else word in ("true", ":")
        body = node.child_by_field_name("body")
        if body is not None:
            inner = ctx
            if forever and not ctx.loop:
                inner = ctx.copy()
                inner.loop = True
            stack.append((body, inner))
        for cond in reversed(conditions):
            stack.append((cond, ctx))

    def _c_for(self, node: tree_sitter.Node, ctx: _Ctx, stack: list[tuple[tree_sitter.Node, _Ctx]]) -> None:
        # for ((init; cond; update)): unbounded when the middle clause is empty.
        semis = 0
        has_condition = False
        for child in node.children:
            if child.type == ";" and semis < 2:
                semis += 1
            elif child.type == "))":
                break
            elif semis == 1 and child.is_named:
                has_condition = True
        inner = ctx
        if not has_condition and not ctx.loop:
            inner = ctx.copy()
            inner.loop = True
        self._push_children(node, inner, stack)
