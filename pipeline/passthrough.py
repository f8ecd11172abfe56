"""Telling a typed shell command from a plain-language request.

`caro "ls -la"` or `caro "rm -rf /"` is already a command: it is passed through unchanged so
that the safety validator still judges it. The decision is lexical and cheap: the first word
must be a known command, and what follows must not read as English.
"""

from __future__ import annotations

import functools
import re
import shlex
import tomllib
from dataclasses import dataclass

from pipeline.paths import REPO_CONFIGS

# Compound shell syntax no request contains: a function definition or a loop/if body.
_COMPOUND = re.compile(r"\(\)\s*\{|;\s*(?:do|then|done|fi|esac)\b")
_SHELL_CHARS = set("-/.*?=$~|&;<>(){}[]`\\'\"0123456789")
# An adverb ("numerically", "alphabetically", "recursively"): English, never an operand a
# utility is given. Seven letters or more, so `apply` and `only` are not taken for one.
_ADVERB = re.compile(r"^[a-z]{5,}ly$")
_BARE = re.compile(r"^[a-z]+$")


@dataclass(frozen=True)
class Vocabulary:
    """The words that decide whether a text is a command."""

    commands: frozenset[str]
    ambiguous: frozenset[str]
    request_words: frozenset[str]


@functools.cache
def vocabulary() -> Vocabulary:
    """The vocabulary from configs/utilities.toml (immutable, loaded once per process)."""
    with (REPO_CONFIGS / "utilities.toml").open("rb") as handle:
        data = tomllib.load(handle)
    return Vocabulary(
        commands=frozenset(data["commands"]),
        ambiguous=frozenset(data["ambiguous"]),
        request_words=frozenset(data["request_words"]),
    )


def _words(text: str) -> list[str]:
    """Shell-ish words with their quotes kept (so quoted text is recognisable), or plain split."""
    lexer = shlex.shlex(text, posix=False, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: "what's my ip" is English, not shell
        return text.split()


def _command_name(word: str) -> str:
    name = word.lstrip("\\").strip("'\"")
    return name.rsplit("/", 1)[-1] if name.startswith("/") else name


def looks_like_command(text: str) -> bool:
    """True when `text` is a shell command rather than a request in plain language."""
    vocab = vocabulary()
    words = _words(text.strip())
    if not words:
        return False
    if _COMPOUND.search(text):
        return True
    name = _command_name(words[0])
    if name not in vocab.commands and not words[0].startswith(("/", "./")):
        return False
    rest = words[1:]
    unquoted = [w for w in rest if not w.startswith(("'", '"'))]
    if any(w.lower() in vocab.request_words or _ADVERB.match(w) for w in unquoted):
        return False
    if name in vocab.ambiguous and len(rest) > 1 and _BARE.match(rest[0]) and _BARE.match(rest[1]):
        # "which package provides /usr/bin/curl": two plain words after a name that is also an
        # English word read as a sentence, whatever follows them.
        return False
    if name in vocab.ambiguous and rest:
        # "kill firefox" is a request; "kill 1234" and "find . -name x" are commands.
        return any(ch in _SHELL_CHARS for w in rest for ch in w[:1] + w[-1:]) or any(
            set(w) & set("/.*=$|;&<>") for w in rest
        )
    return True


def quote(word: str) -> str:
    """A word quoted for a POSIX shell."""
    return shlex.quote(word)
