"""What this machine says about a utility: its `whatis` line, and its flags from `--help` or man.

Only documentation is ever run: `whatis NAME`, `man NAME`, and `NAME --help` for the utilities
`configs/explain.toml` marks as printing help and nothing else, on a GNU userland, when they are
on PATH. Each runs with a timeout and nothing on stdin, and each answer is kept for the process.
Where the machine has nothing (a container without man pages), the table in
`configs/explain.toml` gives one-line summaries and a few flags.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

from pipeline.explain.helptext import FlagEntry, ValueKind, first_sentence, parse_entries
from pipeline.paths import REPO_CONFIGS
from pipeline.values import Userland

TABLE_FILE = REPO_CONFIGS / "explain.toml"
# A name that can only be a utility's name: never an option of man or whatis, never a path.
_PLAIN_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._+-]*$")
_SINGLE_DASH_WORD = re.compile(r"^-[a-z][a-z0-9_]+$")
_WHATIS_LINE = re.compile(r"^(\S+) \((\d)\w*\)\s+- (.+)$")
_SECTIONS = "1862"  # user commands, administration, games, special files: in that order
_TIMEOUT_S = 3.0
_MAX_OUTPUT = 1 << 20


class DocSource(str, Enum):
    """Where a summary or a flag's meaning came from."""

    HELP = "help"  # the utility's own --help
    MAN = "man"  # its man page (whatis for summaries)
    TABLE = "caro"  # configs/explain.toml
    NONE = "none"  # nothing says


@dataclass(frozen=True)
class FlagDoc:
    """A flag's documented meaning, whether it takes a value, and where that came from."""

    value: ValueKind
    meaning: str
    source: DocSource


@dataclass(frozen=True)
class Table:
    """configs/explain.toml: summaries, builtins, utilities safe to ask for --help, known flags."""

    summaries: dict[str, str]
    builtins: frozenset[str]
    help_safe: frozenset[str]
    flags: dict[str, dict[str, FlagEntry]]


@functools.cache
def table() -> Table:
    """The utility table, loaded once per process."""
    with TABLE_FILE.open("rb") as handle:
        data = tomllib.load(handle)
    utilities: dict[str, dict[str, object]] = data.get("utilities", {})
    flags = {
        name: {
            flag: FlagEntry(ValueKind.REQUIRED if spec.get("value") else ValueKind.NONE, str(spec["meaning"]))
            for flag, spec in entries.items()
        }
        for name, entries in data.get("flags", {}).items()
    }
    return Table(
        summaries={name: str(spec["summary"]) for name, spec in utilities.items() if spec.get("summary")},
        builtins=frozenset(name for name, spec in utilities.items() if spec.get("builtin")),
        help_safe=frozenset(name for name, spec in utilities.items() if spec.get("help")),
        flags=flags,
    )


def _documentation(argv: list[str], **env: str) -> str:
    """The stdout of a documentation command, or '' when it fails, hangs or is missing."""
    environ = {**os.environ, "PAGER": "cat", "MANPAGER": "cat", "TERM": "dumb", "COLUMNS": "1000", **env}
    environ.pop("MAN_KEEP_FORMATTING", None)
    try:
        done = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=_TIMEOUT_S, env=environ, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout[:_MAX_OUTPUT].decode("utf-8", "replace")


@functools.cache
def whatis(name: str) -> str | None:
    """The man page's one-line summary of `name`, preferring command sections; None without one."""
    binary = shutil.which("whatis")
    if binary is None or not _PLAIN_NAME.match(name):
        return None
    best: tuple[int, str] | None = None
    for line in _documentation([binary, name]).splitlines():
        match = _WHATIS_LINE.match(line.strip())
        if match and match.group(1) == name and match.group(2) in _SECTIONS:
            rank = _SECTIONS.index(match.group(2))
            if best is None or rank < best[0]:
                best = (rank, first_sentence(match.group(3)))
    return best[1] if best else None


@functools.cache
def _help_entries(name: str, userland: Userland) -> dict[str, FlagEntry]:
    path = shutil.which(name)
    if userland is not Userland.GNU or name not in table().help_safe or path is None:
        return {}
    return parse_entries(_documentation([path, "--help"], LC_ALL="C"))


@functools.cache
def _man_entries(name: str) -> dict[str, FlagEntry]:
    binary = shutil.which("man")
    if binary is None or not _PLAIN_NAME.match(name):
        return {}
    return parse_entries(_documentation([binary, name], MANWIDTH="1000"))


@dataclass(frozen=True)
class UtilityDocs:
    """The documentation of one utility, read lazily: --help first, the man page when it lacks a flag."""

    name: str
    userland: Userland = Userland.GNU

    @property
    def builtin(self) -> bool:
        return self.name in table().builtins

    @property
    def installed(self) -> bool:
        return self.builtin or (bool(_PLAIN_NAME.match(self.name)) and shutil.which(self.name) is not None)

    def summary(self) -> tuple[str | None, DocSource]:
        """The one-line summary: whatis, else the table; the table first for builtins (their man page is the shell's)."""
        known = table().summaries.get(self.name)
        if not self.builtin and (line := whatis(self.name)):
            return line, DocSource.MAN
        return (known, DocSource.TABLE) if known else (None, DocSource.NONE)

    def _sources(self) -> Iterator[tuple[DocSource, dict[str, FlagEntry]]]:
        """Each source's entries, each read only when the ones before it lacked what was asked."""
        if self.builtin:
            return
        yield DocSource.HELP, _help_entries(self.name, self.userland)
        yield DocSource.MAN, _man_entries(self.name)
        yield DocSource.TABLE, table().flags.get(self.name, {})

    def flag(self, flag: str) -> FlagDoc | None:
        """What the documentation says about `flag`, from the first source that knows it."""
        for source, entries in self._sources():
            if (entry := entries.get(flag)) is not None:
                return FlagDoc(entry.value, entry.meaning, source)
        return None

    def long_single_dash(self) -> bool:
        """Whether the utility spells whole-word options with one dash (`find -name`), so `-xyz` is one option.

        Several such words must be documented: grep's `-NUM` or one odd entry is not the style.
        """
        words = {flag for _, entries in self._sources() for flag in entries if _SINGLE_DASH_WORD.match(flag)}
        return len(words) >= 3
