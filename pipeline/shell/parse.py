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
tree-sitter. Where tree-sitter still reads text differently from bash, the safety validator
asks bash itself (`pipeline/shell/oracle.py`).

Words are rendered the way the shell would see them before expansion: quotes removed and
backslash escapes resolved (`\\rm`, `"rm"` and `'r''m'` all give `rm`), backslash-newline
joined as bash joins it, and unquoted brace expansions expanded (`{/,x}` gives `/` and `x`).
A part that only the running shell can know (a variable, `$(...)`, `<(...)`, `$((...))`) is
kept as a marker, `DYNAMIC` + shell text + `DYNAMIC`, so callers can tell the word is dynamic
and still see which variable it names (`$HOME`). The marker text is valid shell, so stripping
the `DYNAMIC` characters gives text that can be parsed again (for `eval` and `sh -c`).
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

import tree_sitter
import tree_sitter_bash

from pipeline.shell.script import Assignment, FunctionDef, Redirect, Script, SimpleCommand
from pipeline.shell.walk import Walker
from pipeline.shell.words import CMDSUB_MARK, DYNAMIC, EXPR_MARK, PROCSUB_MARK, is_dynamic, join_continuations, parser_safe

__all__ = [
    "CMDSUB_MARK",
    "DYNAMIC",
    "EXPR_MARK",
    "PROCSUB_MARK",
    "Assignment",
    "FunctionDef",
    "Redirect",
    "Script",
    "SimpleCommand",
    "is_dynamic",
    "parse_script",
]


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


def parse_script(command: str, *, printed: bool = False) -> Script:
    """Parse a command line and collect every simple command in it, however deeply nested.

    `printed=True` replaces `$(echo WORDS)`, `$(printf TEXT)` and `$(ls -d PATHS)` by the words
    they print (the safety validator's reading: `$(echo rm) -rf ~` runs rm); by default a
    substitution stays a marker, as written.
    """
    src = parser_safe(join_continuations(command)).encode("utf-8")
    tree = _parser().parse(src)
    walker = Walker(src, printed=printed)
    walker.walk(tree.root_node)
    ok = not tree.root_node.has_error
    bodies: dict[str, list[int]] = {}
    for i, c in enumerate(walker.commands):
        if c.function is not None:
            bodies.setdefault(c.function, []).append(i)
    # One pass: a function's body is the commands tagged with its name from its definition on.
    functions = tuple(FunctionDef(name, tuple(i for i in bodies.get(name, ()) if i >= first)) for name, first in walker.functions)
    return Script(
        commands=tuple(walker.commands),
        functions=functions,
        redirects=tuple(walker.redirects),
        ok=ok,
        error=None if ok else _error_position(tree.root_node),
        assignments=tuple(walker.assignments),
        declarations=tuple(walker.declarations),
        arithmetic=frozenset(walker.arithmetic),
        braces=walker.braces,
        split_word="\\\n" in command and _SPLIT_WORD.search(command) is not None,
    )


# A backslash-newline between two non-blank characters: bash joins them into one word.
_SPLIT_WORD = re.compile(r"[^\s\\]\\\n[^\s]")


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

