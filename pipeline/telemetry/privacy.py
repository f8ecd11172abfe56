"""The sensitive context of a request, and the check that no stored value contains any of it.

The schemas already confine every text column to a closed vocabulary or a fixed format, so a
leak would need a bug in them; this check is the second line: whatever a row holds, it is
searched for the request, the command, the working and home folders, the user and host names
and the environment's values, and a row that contains one is dropped before it is written.

Two kinds of fragment are not searched for, because finding them proves nothing and dropping
rows for them would throw away most sessions:

* fragments of the public vocabulary: a request word like "safe" or "static" also names a risk
  level or a backend, and storing `risk = "safe"` reveals nothing about the request;
* short fragments made only of the characters that generated values use (hex digits, decimal
  digits and the timestamp's `-:.TZ`): a request word "add" or a folder called "2024" is found
  by chance inside a random session id or today's timestamp. Longer ones (a hex API key, a
  dated folder name with its day) are searched for as usual.

And one kind of environment value is not searched for: a value shaped like part of a
timestamp (`2025-11-30`, `10:00:00`, `2025-11-30T10`). Shells and tools export today's date or
the time (a build stamp, a log folder's name), and every row carries the request's timestamp:
searching for it dropped every row of every request made that day, and a date says nothing
about the user. Numbers, hex keys, paths, host and user names from the environment are still
searched for; dates in the request, the command and the folders too.
"""

from __future__ import annotations

import getpass
import os
import re
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePath

import pandas as pd

from pipeline import __version__
from pipeline.telemetry.events import VOCABULARY

# Shortest fragment searched for, by source (shorter words are too common to mean anything).
MIN_WORD = 3
MIN_PATH_PART = 3
MIN_ENV_VALUE = 4
# A fragment made only of these characters, and shorter than this, can occur by chance in a
# session id or a timestamp: 8 hex digits match a random 32-digit id once in ~10^8 sessions.
_GENERATED_CHARS = frozenset("0123456789abcdef-:.tz")
_MIN_GENERATED_LIKE = 8
_WORD = re.compile(r"\w+")
# A stored timestamp (`2025-01-31T09:05:07.042Z`, casefolded) with every digit written as 9.
_TIMESTAMP_SHAPE = "9999-99-99t99:99:99.999z"
_DIGIT = re.compile(r"[0-9]")
# Public like the vocabulary: every session_start row carries caro's own version.
_PUBLIC_WORDS = VOCABULARY | {__version__}


@dataclass(frozen=True)
class SensitiveContext:
    """What a request must never leave behind in the telemetry: its text, command and surroundings."""

    request: str | None = None
    command: str | None = None
    cwd: str | None = None
    home: str | None = None
    user: str | None = None
    host: str | None = None
    env_values: tuple[str, ...] = field(default_factory=tuple)

    @classmethod
    def capture(
        cls, request: str | None, command: str | None, environ: Mapping[str, str] | None = None
    ) -> SensitiveContext:
        """The sensitive context of a request made in this process: cwd, home, user, host and environment."""
        env = os.environ if environ is None else environ
        return cls(
            request=request,
            command=command,
            cwd=_safely(os.getcwd),
            home=_safely(lambda: os.path.expanduser("~")),
            user=_safely(getpass.getuser),
            host=_safely(socket.gethostname),
            env_values=tuple(env.values()),
        )

    def fragments(self) -> frozenset[str]:
        """Every string (casefolded) that a stored value must not contain, before the exemptions."""
        found: set[str] = set()
        for text in (self.request, self.command):
            if text:
                found.add(text)
                found.update(_words(text, MIN_WORD))
        for folder in (self.cwd, self.home):
            if folder:
                found.add(folder)
                found.update(p for p in PurePath(folder).parts if len(p.strip("/\\")) >= MIN_PATH_PART)
        for name in (self.user, self.host):
            if name:
                found.add(name)
                # a dotted host name's labels identify the machine too
                found.update(part for part in name.split(".") if len(part) >= MIN_WORD)
        for value in self.env_values:
            if len(value) >= MIN_ENV_VALUE:
                # PATH-like values: each entry is a path of the user's
                parts = {value, *(p for p in value.split(os.pathsep) if len(p) >= MIN_ENV_VALUE)}
                found.update(p for p in parts if not timestamp_like(p))
        return frozenset(f.casefold() for f in found if f.strip())

    def needles(self) -> Needles:
        """The fragments to search stored values for: `fragments()` less the public and the chance ones."""
        return Needles.of(f for f in self.fragments() if not _exempt(f))


@dataclass(frozen=True)
class Needles:
    """A compiled search for sensitive fragments in casefolded text."""

    pattern: re.Pattern[str] | None
    count: int

    @classmethod
    def of(cls, fragments: Iterable[str]) -> Needles:
        ordered = sorted(set(fragments), key=len, reverse=True)
        if not ordered:
            return cls(None, 0)
        return cls(re.compile("|".join(map(re.escape, ordered))), len(ordered))

    def found_in(self, text: str) -> bool:
        return self.pattern is not None and self.pattern.search(text.casefold()) is not None


def leak_free(frame: pd.DataFrame, needles: Needles) -> pd.Series:
    """Per row, True when no text value in it contains a sensitive fragment.

    Numbers and flags are not searched: they are measured or set by caro, and a duration that
    happens to equal a numeric environment value (HISTSIZE=1000) tells nothing about it.
    Only distinct values are searched, so a column of repeated categories costs one search.
    """
    clean = pd.Series(True, index=frame.index)
    if needles.pattern is None:
        return clean
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
            continue
        try:
            values = column.dropna().unique().tolist()
            if pd.api.types.is_string_dtype(column) and column.dtype != object:
                distinct = values  # a pandas string column holds nothing but text
            else:
                distinct = [t for v in values if (t := _as_text(v)) is not None]
        except TypeError:  # an unhashable value (a list): search every row's text
            texts = column.map(_as_text)
            clean &= ~texts.map(lambda t: t is not None and needles.found_in(t)).astype(bool)
            continue
        # One search over all distinct values first: nearly always nothing is found, and
        # then no value needs a search of its own.
        if not needles.found_in("\x00".join(distinct)):
            continue
        leaking = {t for t in distinct if needles.found_in(t)}
        if leaking:
            clean &= ~column.map(_as_text).isin(leaking)
    return clean


def _as_text(value: object) -> str | None:
    """The text to search in a value of a text column; None for numbers, flags and nulls."""
    if value is None or isinstance(value, (bool, int, float)):
        return None
    return value if isinstance(value, str) else str(value)


def timestamp_like(text: str) -> bool:
    """Whether `text` could be part of a stored timestamp (`2025-11-30`, `10:00`, `30T10:00:00.5`)."""
    return bool(text) and _DIGIT.sub("9", text.casefold()) in _TIMESTAMP_SHAPE


def _exempt(fragment: str) -> bool:
    """True for a fragment whose presence in a stored value proves nothing (see the module doc)."""
    if any(fragment in word for word in _PUBLIC_WORDS):
        return True
    return len(fragment) < _MIN_GENERATED_LIKE and set(fragment) <= _GENERATED_CHARS


def _words(text: str, shortest: int) -> set[str]:
    """The words of a text: whitespace-separated pieces and their alphanumeric runs."""
    pieces = {p for p in text.split() if len(p) >= shortest}
    pieces.update(w for w in _WORD.findall(text) if len(w) >= shortest)
    return pieces


def _safely(read: Callable[[], str]) -> str | None:
    """The value of a lookup that may fail on odd systems (no home, no user entry)."""
    try:
        return str(read())
    except (OSError, KeyError, ImportError):
        return None
