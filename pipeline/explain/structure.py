"""How the simple commands of a command line fit together: the operators between them and the
loops, conditions, groups and functions around them.

`pipeline.shell.parse_script` gives the simple commands with their byte spans; this reads the
same text's tree for the two things a safety check does not need and an explanation does: the
list operators (`&&`, `||`, `;`, `&`) and the compound commands that enclose each command. It
keeps its own tree-sitter parser (a few lines) rather than reach into pipeline/shell's private one.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass
from enum import Enum

import tree_sitter
import tree_sitter_bash

from pipeline.shell.words import join_continuations, parser_safe


class Link(str, Enum):
    """How a command leads to the next one at the same level."""

    PIPE = "pipe"  # its output is the next one's input
    AND = "and"  # the next runs only if it succeeded
    OR = "or"  # the next runs only if it failed
    THEN = "then"  # the next runs after it, whatever happened
    BACKGROUND = "background"  # it runs in the background and the next starts at once


_OPERATORS = {"&&": Link.AND, "||": Link.OR, ";": Link.THEN, "&": Link.BACKGROUND, "|&": Link.PIPE, "|": Link.PIPE}
_SCOPES = frozenset({"command_substitution", "process_substitution"})
# Nodes whose operator children join commands at one level (not those inside a redirect or test).
_LIST_PARENTS = frozenset(
    {"program", "list", "pipeline", "compound_statement", "do_group", "subshell", "if_statement", "elif_clause", "else_clause", "case_item", *_SCOPES}
)


@dataclass(frozen=True)
class Region:
    """A stretch of the text inside a compound command, and how to say where a command in it runs."""

    start: int
    end: int
    where: str


@dataclass(frozen=True)
class Layout:
    """Operators with their byte offset and scope, and the compound regions, of one command line."""

    operators: tuple[tuple[int, Link, int], ...]  # (offset, link, scope start)
    regions: tuple[Region, ...]
    scopes: tuple[tuple[int, int], ...]  # substitutions: (start, end)

    def scope_of(self, span: tuple[int, int]) -> int:
        """The start of the innermost substitution holding `span`, or -1 for the top level."""
        inner = [(s, e) for s, e in self.scopes if s <= span[0] and span[1] <= e]
        return max(inner)[0] if inner else -1

    def where(self, span: tuple[int, int]) -> str | None:
        """The innermost compound command around `span`, in words."""
        inner = [r for r in self.regions if r.start <= span[0] and span[1] <= r.end]
        return min(inner, key=lambda r: r.end - r.start).where if inner else None

    def link(self, before: tuple[int, int], after: tuple[int, int]) -> Link:
        """The operator between two commands at the same level (a newline reads as `;`)."""
        scope = self.scope_of(before)
        for offset, link, in_scope in self.operators:
            if before[1] <= offset < after[0] and in_scope == scope:
                return link
        return Link.THEN


@functools.cache
def _language() -> tree_sitter.Language:
    return tree_sitter.Language(tree_sitter_bash.language())


_local = threading.local()


def _parser() -> tree_sitter.Parser:
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = tree_sitter.Parser(_language())
    return parser


def _text(node: tree_sitter.Node, src: bytes) -> str:
    return src[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _keyword_regions(node: tree_sitter.Node, test: str, body: str) -> list[Region]:
    """if/elif and while/until: the test between the keyword and `then`/`do`, the body after it."""
    regions: list[Region] = []
    opened: int | None = None
    for child in node.children:
        if child.type in ("if", "elif", "while", "until"):
            opened = child.end_byte
        elif child.type in ("then", "do_group") and opened is not None:
            regions.append(Region(opened, child.start_byte, test))
            opened = None
    regions.append(Region(node.start_byte, node.end_byte, body))
    return regions


def _regions(node: tree_sitter.Node, src: bytes) -> list[Region]:
    kind = node.type
    if kind == "if_statement":
        return _keyword_regions(node, "in the test of an if", "in a branch of an if")
    if kind == "while_statement":
        loop = "until" if node.children and node.children[0].type == "until" else "while"
        return _keyword_regions(node, f"in the test of a {loop} loop", f"in the body of a {loop} loop")
    if kind == "for_statement":
        variable = node.child_by_field_name("variable")
        name = _text(variable, src) if variable is not None else "a variable"
        return [Region(node.start_byte, node.end_byte, f"in a for loop, once for each value of {name}")]
    if kind == "c_style_for_statement":
        return [Region(node.start_byte, node.end_byte, "in a counting for (( )) loop")]
    if kind == "case_statement":
        return [Region(node.start_byte, node.end_byte, "in a branch of a case")]
    if kind == "subshell":
        return [Region(node.start_byte, node.end_byte, "in a subshell ( ): its cd and variables do not last")]
    if kind == "function_definition":
        name_node = node.child_by_field_name("name")
        name = _text(name_node, src) if name_node is not None else "a function"
        return [Region(node.start_byte, node.end_byte, f"in the body of function {name}: runs only when it is called")]
    return []


def parsed_source(command: str) -> bytes:
    """The text `parse_script` parses, as bytes: its commands' spans index into it."""
    return parser_safe(join_continuations(command)).encode("utf-8")


def layout(command: str) -> Layout:
    """The operators and compound regions of `command` (offsets as in `parse_script`'s spans)."""
    src = parsed_source(command)
    root = _parser().parse(src).root_node
    operators: list[tuple[int, Link, int]] = []
    regions: list[Region] = []
    scopes: list[tuple[int, int]] = []
    stack: list[tuple[tree_sitter.Node, int]] = [(root, -1)]
    while stack:
        node, scope = stack.pop()
        if node.type in _SCOPES:
            scopes.append((node.start_byte, node.end_byte))
            scope = node.start_byte
        regions.extend(_regions(node, src))
        for child in node.children:
            link = _OPERATORS.get(child.type)
            if link is not None and not child.is_named and node.type in _LIST_PARENTS:
                operators.append((child.start_byte, link, scope))
            elif child.is_named:
                stack.append((child, scope))
    operators.sort()
    return Layout(tuple(operators), tuple(regions), tuple(scopes))
