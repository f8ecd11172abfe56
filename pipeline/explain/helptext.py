"""Flag entries read from a utility's `--help` text or man page.

Both lay flags out the same way: a line indented a little that starts with the flag spellings
(`-l, --lines`, `-n, --lines=[-]NUM`, `-name pattern`), then the description, after two or more
spaces on the same line (GNU `--help`, BSD man pages) or on the lines below, indented deeper
(GNU man pages). The spelling says whether the flag takes a value: `=X` or ` X` after it does,
`[=X]` may.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class ValueKind(str, Enum):
    """Whether a flag takes a value."""

    NONE = "none"
    REQUIRED = "required"  # the next word, or `--flag=value`, or the rest of `-n5`
    OPTIONAL = "optional"  # only attached: `--color=auto`


@dataclass(frozen=True)
class FlagEntry:
    """What the documentation says about one flag."""

    value: ValueKind
    meaning: str


_OVERSTRIKE = re.compile(".\x08")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SOFT_HYPHEN_BREAK = re.compile("\u2010\n\\s*(?=[a-z])")  # groff's hyphenation at a line end
_GAP = re.compile(r"\s{2,}")
_SPELLING = re.compile(r"^(--?[A-Za-z0-9?][A-Za-z0-9_.+?-]*)(.*)$")
_SENTENCE_END = re.compile(r"(?<=[a-z0-9)'\"])\.\s+(?=[A-Z(])")
_MAX_INDENT = 12  # deeper lines are descriptions or examples, not entries (GNU man: 14; dash: 11)
_NESTED = 4  # an entry indented at most this much deeper is a sibling (GNU: `  -l, --lines`, `      --files0-from`)
MAX_MEANING = 200


def clean(text: str) -> str:
    """Plain text: no overstrike bold, no colour codes, tabs as spaces, ASCII hyphens."""
    text = _ANSI.sub("", _OVERSTRIKE.sub("", text))
    text = _SOFT_HYPHEN_BREAK.sub("", text)
    return text.expandtabs(8).replace("\u2010", "-").replace("\u2212", "-").replace("\u2011", "-")


def _spellings(spec: str) -> list[tuple[str, ValueKind]] | None:
    """The flags of an entry's first part, each with its value kind; None when it is not a flag list."""
    found: list[tuple[str, ValueKind]] = []
    for token in (t.strip() for t in spec.split(",")):
        match = _SPELLING.match(token)
        if match is None:
            return None
        flag, rest = match.group(1), match.group(2)
        if rest.startswith("[="):
            kind = ValueKind.OPTIONAL
        elif rest.startswith("=") or rest.startswith(" ") and rest.strip():
            kind = ValueKind.REQUIRED
        elif not rest:
            kind = ValueKind.NONE
        else:
            return None
        found.append((flag, kind))
    if not found:
        return None
    # "Mandatory arguments to long options are mandatory for short options too" (GNU).
    strongest = max((k for _, k in found), key=lambda k: (k is ValueKind.REQUIRED, k is ValueKind.OPTIONAL))
    return [(flag, strongest if kind is ValueKind.NONE else kind) for flag, kind in found]


def first_sentence(text: str) -> str:
    """The first sentence of a description, whitespace normalised and kept under MAX_MEANING."""
    text = " ".join(text.split())
    parts = _SENTENCE_END.split(text, maxsplit=1)
    sentence = parts[0] + ("." if len(parts) > 1 else "")
    if len(sentence) > MAX_MEANING:
        cut = sentence[:MAX_MEANING].rsplit(" ", 1)[0]
        sentence = cut.rstrip(",;:") + "…"
    return sentence


def parse_entries(text: str) -> dict[str, FlagEntry]:
    """Every documented flag in a help text or man page, first description wins."""
    lines = clean(text).splitlines()
    entries: dict[str, FlagEntry] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.lstrip(" ")
        indent = len(line) - len(stripped)
        i += 1
        if not stripped.startswith("-") or indent > _MAX_INDENT:
            continue
        spec, *description = _GAP.split(stripped.rstrip(), maxsplit=1)
        spellings = _spellings(spec)
        if spellings is None:
            continue
        parts = list(description)
        while i < len(lines):
            below = lines[i]
            text_below = below.strip()
            if not text_below:
                if parts:
                    break
                i += 1
                continue
            depth = len(below) - len(below.lstrip(" "))
            if depth <= indent or (text_below.startswith("-") and depth <= indent + _NESTED):
                break
            parts.append(text_below)
            i += 1
        meaning = first_sentence(" ".join(parts))
        if meaning:
            for flag, kind in spellings:
                entries.setdefault(flag, FlagEntry(kind, meaning))
    return entries
