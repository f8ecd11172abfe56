"""The first line of the CSV and TSV files a request names, for the model's prompt.

A small model told "sum the amount column of data/sales.csv" cannot see which column `amount`
is: it guesses a number, or splits on whitespace (`awk '{print $4}'` without `-F,`). The first
line of the file tells it both, so the prompt carries it, numbered (`4 amount`) with the
delimiter said in words, for the files the request names: a path as written (`data/sales.csv`),
a bare name that is one listed file one level down (`sales.csv`), or, for "the csv file", the
only CSV listed.

This is the one place where caro reads a file's contents for the prompt (`pipeline/workdir.py`
lists names only), so the reading is bounded and careful: at most `MAX_FILES` files and
`MAX_BYTES` bytes of each, regular files only (checked before opening and again on the open
descriptor), opened without blocking (a FIFO named `x.csv` never stalls a request), never
outside the working directory (a symbolic link that leads out of it is not followed), decoded
as UTF-8 with undecodable bytes dropped, control and format characters removed. Any error means
no header for that file; nothing here raises. The header line is file content: like the
request, it is a value of one request, never logged, stored or put into a message, and it goes
to a server on another machine only where the names may (the `table_headers` node gets none
when `folder_names` is None). A line that reads as data rather than column names is not shown
at all: only its delimiter and its number of fields are.
"""

from __future__ import annotations

import csv
import os
import re
import stat
from dataclasses import dataclass, replace
from enum import Enum

from pipeline.static.tokens import TokenKind, tokenize
from pipeline.workdir import FolderListing

MAX_FILES = 3
MAX_BYTES = 256
MAX_COLUMNS = 20
MAX_FIELD_CHARS = 24
TABLE_EXTENSIONS = (".csv", ".tsv")
# A field made of digits and number or date punctuation (`34`, `-1.5`, `2024-01-03`, `12:30`) is
# data: a first line holding one is a row, not column names.
_DATA_FIELD = re.compile(r"[-+]?[\d.,:/ _-]*\d[\d.,:/ _-]*")
_WHITESPACE = re.compile(r"\s+")
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0)


class Delimiter(str, Enum):
    """The field separators recognised (Excel in many locales writes `;`)."""

    COMMA = ","
    TAB = "\t"
    SEMICOLON = ";"

    @property
    def words(self) -> str:
        return {"\t": "tab-separated", ",": "comma-separated", ";": "semicolon-separated"}[self.value]


@dataclass(frozen=True, repr=False)
class TableHeader:
    """What the first line of one named CSV/TSV file says: its delimiter and, when it is a header, the column names."""

    path: str  # as the request names it (or as listed), relative to the working directory
    delimiter: Delimiter
    columns: tuple[str, ...]  # the first line's fields, cleaned, at most MAX_COLUMNS; () when the line is data
    field_count: int  # fields seen in the first line (a lower bound when `cut`)
    cut: bool  # the line had more fields than shown, or was longer than MAX_BYTES
    said: tuple[int, ...] = ()  # the numbers (from 1) of the columns the request names ("the amount column")

    @property
    def has_header(self) -> bool:
        return bool(self.columns)

    def __repr__(self) -> str:
        # File content and a path: kept out of any repr that a traceback or a debugger might print.
        return f"TableHeader(<{self.field_count} fields>)"


def named_tables(request: str, cwd: str, listing: FolderListing) -> tuple[str, ...]:
    """The CSV/TSV files the request names, as paths relative to `cwd`, in the order named, at most MAX_FILES."""
    listed = listing.with_extension(TABLE_EXTENSIONS)
    found: list[str] = []
    kinds_said: set[str] = set()
    for token in tokenize(request):
        if token.kind is TokenKind.WORD and token.norm in ("csv", "tsv"):
            kinds_said.add("." + token.norm)
        elif token.kind in (TokenKind.PATH, TokenKind.QUOTED) and token.norm.endswith(TABLE_EXTENSIONS):
            path = _as_relative(token.text, cwd, listed)
            if path is not None and path not in found:
                found.append(path)
    if not found and kinds_said:
        lone = [name for name in listed if name.lower().endswith(tuple(kinds_said))]
        if len(lone) == 1:
            found.append(lone[0])
    return tuple(found[:MAX_FILES])


def _as_relative(written: str, cwd: str, listed: tuple[str, ...]) -> str | None:
    """The path a request's word names, relative to `cwd`; None for globs, home paths, paths
    outside `cwd`, and a bare name that is no file here and not exactly one listed file."""
    text = written
    while text.startswith("./"):
        text = text[2:]
    name = os.path.basename(text)
    if "*" in text or "?" in text or text.startswith("~") or not name or (name.startswith(".") and name.count(".") == 1):
        return None
    if os.path.isabs(text):
        try:
            root = os.path.realpath(cwd)
            inside = os.path.relpath(os.path.realpath(text), root)
        except (OSError, ValueError):
            return None
        return None if inside == ".." or inside.startswith("../") else text
    if "/" in text or os.path.lexists(os.path.join(cwd, text)):
        return text  # as written: what the shell would open from the working directory
    matches = [path for path in listed if path.rsplit("/", 1)[-1] == text]
    return matches[0] if len(matches) == 1 else None


def first_bytes(cwd: str, path: str) -> bytes | None:
    """Up to MAX_BYTES of a regular file inside `cwd` (resolved, links included), or None."""
    try:
        root = os.path.realpath(cwd)
        target = os.path.realpath(os.path.join(root, path))
        if target == root or os.path.commonpath([root, target]) != root:
            return None
        before = os.stat(target)
        if not stat.S_ISREG(before.st_mode):
            return None  # a FIFO, a device, a folder: never opened
        fd = os.open(target, _OPEN_FLAGS)
        try:
            after = os.fstat(fd)
            # Replaced between the check and the open (by a FIFO, say): leave it.
            if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
                return None
            return os.read(fd, MAX_BYTES)
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return None


def _clean(field: str) -> str:
    # Whitespace (tabs, line separators) becomes one space; what is left unprintable (control,
    # format and bidirectional characters) is dropped, so nothing in the line can hide the rest.
    text = "".join(c for c in _WHITESPACE.sub(" ", field) if c.isprintable()).strip()
    return text if len(text) <= MAX_FIELD_CHARS else text[: MAX_FIELD_CHARS - 3] + "..."


def _delimiter(line: str, path: str) -> Delimiter:
    """The separator the line uses most (outside double quotes); the extension's own on a tie or none."""
    preferred = Delimiter.TAB if path.lower().endswith(".tsv") else Delimiter.COMMA
    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {d: unquoted.count(d.value) for d in (preferred, *Delimiter)}
    best = max(counts, key=lambda d: counts[d])  # the first of equals: the preferred one
    return best if counts[best] else preferred


def parse_header(path: str, raw: bytes) -> TableHeader | None:
    """The header a file's first bytes hold; None for an empty first line."""
    text = raw.decode("utf-8", errors="ignore").removeprefix("\ufeff")
    ends = [i for i in (text.find("\n"), text.find("\r")) if i >= 0]
    # No line end within MAX_BYTES: the last field is probably cut in the middle.
    whole = bool(ends) or len(raw) < MAX_BYTES
    line = text[: min(ends)] if ends else text
    if not line.strip():
        return None
    delimiter = _delimiter(line, path)
    try:
        fields = next(csv.reader([line], delimiter=delimiter.value))
    except (csv.Error, StopIteration):
        fields = line.split(delimiter.value)
    if not whole and len(fields) > 1:
        fields = fields[:-1]
    cleaned = [_clean(field) for field in fields]
    cut = not whole or len(cleaned) > MAX_COLUMNS
    named = any(cleaned) and not any(_DATA_FIELD.fullmatch(field) for field in cleaned)
    return TableHeader(path, delimiter, tuple(cleaned[:MAX_COLUMNS]) if named else (), len(cleaned), cut)


def columns_said(request: str, columns: tuple[str, ...]) -> tuple[int, ...]:
    """The numbers (from 1) of the columns whose names the request uses, plurals too (`cities` for
    `city`); a name said only as part of a longer one (`name` in "first name") does not count."""
    words = request.lower()
    spans: dict[int, list[tuple[int, int]]] = {}
    for number, column in enumerate(columns, 1):
        name = column.lower().replace("_", " ")
        if len(name) < 2:
            continue
        forms = [re.escape(name) + "(?:s|es)?", *([re.escape(name[:-1]) + "ies"] if name.endswith("y") else [])]
        found = [m.span() for m in re.finditer(r"(?<![\w-])(?:" + "|".join(forms) + r")(?![\w-])", words)]
        if found:
            spans[number] = found
    every = [(number, span) for number, found in spans.items() for span in found]

    def inside_another(number: int, span: tuple[int, int]) -> bool:
        return any(o != number and s <= span[0] and span[1] <= e and e - s > span[1] - span[0] for o, (s, e) in every)

    return tuple(n for n, found in spans.items() if not all(inside_another(n, span) for span in found))


def table_headers_for(request: str, cwd: str, listing: FolderListing) -> tuple[TableHeader, ...]:
    """The headers of the CSV/TSV files the request names (those that can be read), with the columns it names."""
    headers = []
    for path in named_tables(request, cwd, listing):
        raw = first_bytes(cwd, path)
        header = parse_header(path, raw) if raw else None
        if header is not None:
            headers.append(replace(header, said=columns_said(request, header.columns)))
    return tuple(headers)


def header_lines(header: TableHeader) -> tuple[str, ...]:
    """The prompt lines for a file: its delimiter and numbered columns, then which field each
    column the request names is. The second line is what moves a small model: measured on the
    development set's CSV rows, the columns alone changed nothing (the nearest retrieved example's
    column number won); with the note beside them, 8 of 17 against 5 without (docs/quality.md)."""
    lines = [header_line(header)]
    if header.said:
        fields = ", ".join(f"{header.columns[n - 1]} is field {n}" for n in header.said)
        lines.append(f"Note: in {_shown(header.path)} ({header.delimiter.words}, line 1 is the header): {fields}")
    return tuple(lines)


def _shown(path: str) -> str:
    return f"'{path}'" if " " in path else path


def header_line(header: TableHeader) -> str:
    """One prompt line for a file: its delimiter and its numbered columns (`4 amount`), so the model writes `$4` or `-k4`."""
    shown = _shown(header.path)
    if not header.has_header:
        more = "at least " if header.cut else ""
        return f"{shown} is {header.delimiter.words} with {more}{header.field_count} fields a line; its first line is data, not a header."

    def column(number: int, name: str) -> str:
        return f'{number} "{name}"' if not name or "," in name else f"{number} {name}"

    columns = ", ".join(column(n, name) for n, name in enumerate(header.columns, 1))
    return f"Columns of {shown} ({header.delimiter.words}, first line is a header): {columns}{', ...' if header.cut else ''}"
