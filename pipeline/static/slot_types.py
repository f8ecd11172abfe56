"""Slot values, hits and specs, and the helpers every recogniser shares."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from pipeline.static import vocab
from pipeline.static.tokens import Token


class SlotType(str, Enum):
    """What a slot recognises; the table names one of these for each slot."""

    SIZE = "size"
    TIME = "time"
    FILETYPE = "filetype"
    DIRECTORY = "directory"
    COUNT = "count"
    PORT = "port"
    TEXT = "text"
    WORD = "word"
    WORDS = "words"
    FILE = "file"
    HOST = "host"
    URL = "url"
    REV = "rev"


@dataclass(frozen=True)
class SlotValue:
    """A recognised value: how it is reported, and its shell spellings by form name."""

    shown: str
    forms: dict[str, str] = field(hash=False, compare=True)

    def render(self, form: str) -> str:
        return self.forms[form]


@dataclass(frozen=True)
class SlotHit:
    """A value found at tokens[start:end]; lower rank is the more explicit reading."""

    start: int
    end: int
    value: SlotValue
    rank: int = 1


@dataclass(frozen=True)
class SlotSpec:
    """One slot of an intent: its type, optional trigger words, and a default."""

    name: str
    type: SlotType
    after: tuple[str, ...] = ()
    before: tuple[str, ...] = ()
    default: str | None = None
    ext: tuple[str, ...] = ()  # file slots only: the name must end in one of these extensions


# Which forms each type offers; the table loader rejects a template naming any other form.
FORMS: dict[SlotType, frozenset[str]] = {
    SlotType.SIZE: frozenset({"", "value"}),
    SlotType.TIME: frozenset({"", "git", "journal"}),
    SlotType.FILETYPE: frozenset({"", "iname", "include", "glob", "shglob"}),
    SlotType.DIRECTORY: frozenset({""}),
    SlotType.COUNT: frozenset({"", "plus1"}),
    SlotType.PORT: frozenset({""}),
    SlotType.TEXT: frozenset({"", "sedpat", "sedrep"}),
    SlotType.WORD: frozenset({""}),
    SlotType.WORDS: frozenset({""}),
    SlotType.FILE: frozenset({""}),
    SlotType.HOST: frozenset({""}),
    SlotType.URL: frozenset({""}),
    SlotType.REV: frozenset({""}),
}

# ASCII digits only: int() and float() reject superscripts that str.isdigit() accepts.
NUM_UNIT = re.compile(r"^(\d+(?:\.\d+)?)([a-z]*)$", re.ASCII)
SAFE_NAME = re.compile(r"^[\w.@:/+-]+$")
HOST = re.compile(r"^(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+)$")
URL = re.compile(r"^(?:https?|ftp)://[^\s'\"`]+$")
PORT_TOKEN = re.compile(r"^:(\d{1,5})$", re.ASCII)
# A commit: an abbreviated or full hash, or HEAD with ~N / ^ steps.
REV = re.compile(r"^(?:[0-9a-f]{7,40}|head(?:[~^]\d{0,3}){0,5})$", re.ASCII)
TEXT_TRIGGERS = ("containing", "contains", "contain", "matching", "match", "word", "string",
                  "pattern", "text", "phrase", "for")


def forms_of(**forms: str) -> dict[str, str]:
    return dict(forms)


def is_int(text: str) -> bool:
    return text.isascii() and text.isdecimal()


_ORDINAL = re.compile(r"^(\d{1,6})(?:st|nd|rd|th)$")  # "3rd", "10th": as "third", "tenth"


def number(norm: str) -> int | None:
    if is_int(norm) and len(norm) <= 6:
        return int(norm)
    if (ordinal := _ORDINAL.match(norm)) is not None:
        return int(ordinal.group(1))
    return vocab.NUMBER_WORDS.get(norm)


def phrase_at(tokens: tuple[Token, ...], i: int, phrase: tuple[str, ...]) -> bool:
    return tuple(t.norm for t in tokens[i : i + len(phrase)]) == phrase
