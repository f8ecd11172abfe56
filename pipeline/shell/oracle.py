"""Bash as the judge of how bash reads a command, without running it.

tree-sitter-bash and bash do not always agree: `r\\<newline>m`, a command after a here-document
operator on the same line, or `coproc` have each hidden an `rm -rf` from a tree-sitter reading.
Bash can print its own reading of a text without running any of it: a function imported from
the environment (`BASH_FUNC_name%%='() { TEXT }'`) is parsed, never executed, and bash refuses
the import outright when the text would end the function early and run something after it (the
Shellshock fix, CVE-2014-6271 and its follow-ups). `declare -f name` then prints the body in
bash's canonical form. The only thing that runs is `declare -f`. A bash from before that fix
does not know the `BASH_FUNC_name%%` form at all, so it imports nothing, fails the self-test and
is never used; PATH points nowhere, so not even a builtin-less command could be found.

Spawning bash costs about a millisecond, so the safety validator asks only about text that is
not `plain`: words, simple quotes, `$NAME`, pipes, lists and simple redirects, which both
parsers read the same way (checked against bash by tests/test_safety_oracle.py).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

_NAME = "__caro_judge"
_END = ": __caro_end__"
MAX_TEXT = 120_000  # one environment string holds at most 128 KiB on Linux (MAX_ARG_STRLEN)
TIMEOUT_S = 5.0


class Verdict(str, Enum):
    """What bash said about a text."""

    READ = "read"  # bash parsed it; `canonical` is its own form of the text
    REJECTED = "rejected"  # bash would not parse it (a syntax error, or text that escapes the function)
    UNAVAILABLE = "unavailable"  # no usable bash here, or the text is too long to ask about


@dataclass(frozen=True)
class Reading:
    """Bash's reading of one text."""

    verdict: Verdict
    canonical: str = ""


@lru_cache(maxsize=1)
def _bash() -> str | None:
    """The bash binary, when it imports functions the post-Shellshock way; None otherwise."""
    path = shutil.which("bash")
    if path is None:
        return None
    probe = _ask(path, "ls -la | wc -l")
    return path if probe.verdict is Verdict.READ and probe.canonical.strip().rstrip(";") == "ls -la | wc -l" else None


def available() -> bool:
    """Whether bash can be asked here."""
    return _bash() is not None


def bash_reading(text: str) -> Reading:
    """How bash reads `text` (never run); UNAVAILABLE without a usable bash."""
    path = _bash()
    if path is None or len(text) > MAX_TEXT or "\x00" in text:
        return Reading(Verdict.UNAVAILABLE)
    return _cached(path, text) if len(text) <= _CACHE_TEXT else _ask(path, text)  # big texts are not kept


_CACHE_TEXT = 4096


@lru_cache(maxsize=1024)
def _cached(path: str, text: str) -> Reading:
    return _ask(path, text)


def _ask(path: str, text: str) -> Reading:
    env = {f"BASH_FUNC_{_NAME}%%": f"() {{ {text}\n{_END}\n}}", "LC_ALL": "C", "PATH": "/nonexistent"}
    try:
        done = subprocess.run(
            [path, "--norc", "--noprofile", "-c", f"declare -f {_NAME}"],
            env=env, capture_output=True, timeout=TIMEOUT_S, stdin=subprocess.DEVNULL, check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return Reading(Verdict.UNAVAILABLE)
    # stderr is never read back: bash quotes the text in its error messages.
    if done.returncode != 0 or not done.stdout:
        return Reading(Verdict.REJECTED)
    lines = done.stdout.decode("utf-8", "surrogateescape").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 4 or not lines[0].startswith(_NAME) or lines[1].strip() != "{" or lines[-1].strip() != "}":
        return Reading(Verdict.REJECTED)
    body = lines[2:-1]
    while body and not body[-1].strip():
        body.pop()
    if not body or body[-1].strip() != _END:
        return Reading(Verdict.REJECTED)  # the text swallowed the end marker: it did not end where it seems
    return Reading(Verdict.READ, "\n".join(body[:-1]).encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


# Characters a plain word may hold outside quotes; everything else sends the text to bash.
_WORD = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,+@%^~*?-")
_NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_NAME_CHARS = _NAME_START | frozenset("0123456789")
RESERVED = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for", "in", "function", "select", "time", "coproc", "{", "}", "!", "[[", "]]"})


def _variable(text: str, i: int) -> int:
    """The end of `$NAME` or `${NAME}` starting at `i`, or -1 when it is anything else."""
    n = len(text)
    if i + 1 < n and text[i + 1] == "{":
        j = i + 2
        if j >= n or text[j] not in _NAME_START:
            return -1
        while j < n and text[j] in _NAME_CHARS:
            j += 1
        return j + 1 if j < n and text[j] == "}" else -1
    j = i + 1
    if j >= n or text[j] not in _NAME_START:
        return -1
    while j < n and text[j] in _NAME_CHARS:
        j += 1
    return j


def plain(text: str) -> bool:
    """Whether `text` uses only syntax tree-sitter-bash and bash read alike (one linear scan).

    Plain: ASCII words, `'...'` on one line, `"..."` with at most `$NAME` inside, `$NAME`,
    `\\` + a character, `{}`, blanks, `|`, `||`, `&&`, `;`, `&`, `>`, `>>`, `<`, `&>`, `>&N`.
    Not plain: newlines, comments, `$(`, backticks, `<<`, `<(`, braces, brackets, parentheses,
    `!`, anything outside ASCII. Reserved words are checked by the caller on the parsed words.
    """
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _WORD or ch in " \t;|":
            i += 1
        elif ch == "\\":
            if i + 1 >= n or text[i + 1] == "\n" or not text[i + 1].isascii():
                return False
            i += 2
        elif ch == "'":
            end = text.find("'", i + 1)
            if end < 0 or "\n" in text[i:end]:
                return False
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and text[i] != '"':
                c = text[i]
                if c == "$":
                    i = _variable(text, i)
                    if i < 0:
                        return False
                elif c in "`\\\n" or not c.isascii():
                    return False
                else:
                    i += 1
            if i >= n:
                return False
            i += 1
        elif ch == "$":
            i = _variable(text, i)
            if i < 0:
                return False
        elif ch == "{":
            if text[i : i + 2] != "{}":
                return False
            i += 2
        elif ch == "&":
            i += 1
            if i < n and text[i] == ">":
                i += 2 if text[i : i + 2] == ">>" else 1
        elif ch == ">":
            if text[i : i + 2] in (">(", ">|"):
                return False
            i += 2 if text[i : i + 2] in (">>", ">&") else 1
        elif ch == "<":
            if text[i : i + 2] in ("<<", "<(", "<>", "<&"):
                return False
            i += 1
        else:
            return False
    return True
