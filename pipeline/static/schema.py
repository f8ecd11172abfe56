"""Intent entries of the static table and their loading from TOML (schema: configs/static/README.md)."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pipeline.static.slots import FORMS, SlotSpec, SlotType
from pipeline.values import Userland

# `{{name}}` or `{{name:form}}`; doubled braces keep find's `{}`, awk's `{print}` and jsonpath's
# `{end}` literal.
PLACEHOLDER = re.compile(r"\{\{(\w+)(?::(\w+))?\}\}")
_ID = re.compile(r"^[a-z0-9_]+(?:\.[a-z0-9_]+)*$")
_KEYS = frozenset({"id", "domain", "summary", "require", "words", "forbid", "slots", "command", "gnu", "bsd", "os"})


class Domain(str, Enum):
    """The area of work an intent belongs to; also `StaticMatch.category`."""

    FILES = "files"
    TEXT = "text"
    DISK = "disk"
    PROCESSES = "processes"
    NETWORK = "network"
    GIT = "git"
    ARCHIVES = "archives"
    DOCKER = "docker"
    SYSTEM = "system"
    LOGS = "logs"
    DEVOPS = "devops"
    PACKAGES = "packages"


Alternative = tuple[str, ...]  # words of a phrase, or a single "{slot}" reference


@dataclass(frozen=True)
class Intent:
    """One table entry: the words and slots it needs and the command it renders per userland."""

    id: str
    domain: Domain
    summary: str
    require: tuple[tuple[Alternative, ...], ...]
    words: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]
    forbid: frozenset[str]
    slots: tuple[SlotSpec, ...]
    commands: tuple[tuple[Userland, str], ...]
    os: frozenset[str]
    source: str

    def command_for(self, userland: Userland) -> str | None:
        return dict(self.commands).get(userland)

    def slot(self, name: str) -> SlotSpec:
        return next(s for s in self.slots if s.name == name)


def _fail(path: Path, entry: str, why: str) -> ValueError:
    return ValueError(f"{path}: entry {entry!r}: {why}")


def _strings(raw: object, path: Path, entry: str, key: str) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x.strip() for x in raw):
        raise _fail(path, entry, f"{key!r} must be a list of non-empty strings")
    return [x.strip().lower() for x in raw]


def _slot(name: str, raw: object, path: Path, entry: str) -> SlotSpec:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict) or not set(raw) <= {"type", "after", "before", "default", "ext"}:
        raise _fail(path, entry, f"slot {name!r} must be a type name or a table of type/after/before/default/ext")
    try:
        kind = SlotType(raw.get("type"))
    except ValueError:
        raise _fail(path, entry, f"slot {name!r} has an unknown type") from None
    default = raw.get("default")
    if default is not None:
        if not isinstance(default, str) or not default:
            raise _fail(path, entry, f"slot {name!r}: default must be a non-empty string")
        bare = default[2:] if default.startswith("~/") else default
        if kind is SlotType.FILETYPE:
            bare = bare.replace("*", "x")  # a glob default is meant to expand
        # Defaults go into commands verbatim, so they must need no quoting.
        if default != "~" and shlex.quote(bare) != bare:
            raise _fail(path, entry, f"slot {name!r}: default must be a plain shell word")
    after = tuple(_strings(raw.get("after", []), path, entry, "after"))
    before = tuple(_strings(raw.get("before", []), path, entry, "before"))
    ext = tuple(e.lstrip(".") for e in _strings(raw.get("ext", []), path, entry, "ext"))
    if ext and kind is not SlotType.FILE:
        raise _fail(path, entry, f"slot {name!r}: only a file slot takes 'ext'")
    if default is not None and ext and not default.lower().endswith(tuple("." + e for e in ext)):
        raise _fail(path, entry, f"slot {name!r}: the default must have one of the slot's extensions")
    return SlotSpec(name, kind, after, before, default, ext)


def _require(raw: object, path: Path, entry: str, slot_names: set[str]) -> tuple[tuple[Alternative, ...], ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(path, entry, "'require' must be a non-empty list of groups")
    groups: list[tuple[Alternative, ...]] = []
    for group in raw:
        alts = _strings(group if isinstance(group, list) else [group], path, entry, "require")
        parsed: list[Alternative] = []
        for alt in alts:
            if alt.startswith("{"):
                name = alt.strip("{}")
                if name not in slot_names:
                    raise _fail(path, entry, f"'require' names undeclared slot {name!r}")
                parsed.append(("{" + name + "}",))
            else:
                parsed.append(tuple(alt.split()))
        groups.append(tuple(parsed))
    return tuple(groups)


def _check_template(template: str, slots: dict[str, SlotSpec], path: Path, entry: str) -> None:
    for m in PLACEHOLDER.finditer(template):
        name, form = m.group(1), m.group(2) or ""
        if name not in slots:
            raise _fail(path, entry, f"command names undeclared slot {name!r}")
        if form not in FORMS[slots[name].type]:
            raise _fail(path, entry, f"slot {name!r} has no form {form!r}")
    try:
        shlex.split(PLACEHOLDER.sub("x", template))
    except ValueError:
        raise _fail(path, entry, "command has unbalanced quotes") from None


def parse_intent(raw: object, path: Path) -> Intent:
    """One entry of a table file, validated; ValueError names the file and the entry id."""
    if not isinstance(raw, dict):
        raise _fail(path, "?", "each [[intent]] must be a table")
    entry = str(raw.get("id", "?"))
    if not _ID.match(entry):
        raise _fail(path, entry, "id must be dotted lower-case words")
    if unknown := set(raw) - _KEYS:
        raise _fail(path, entry, f"unknown keys {sorted(unknown)}")
    try:
        domain = Domain(raw.get("domain"))
    except ValueError:
        raise _fail(path, entry, "unknown or missing domain") from None
    slots_raw = raw.get("slots", {})
    if not isinstance(slots_raw, dict):
        raise _fail(path, entry, "'slots' must be a table")
    slots = {name: _slot(name, spec, path, entry) for name, spec in slots_raw.items()}
    require = _require(raw.get("require"), path, entry, set(slots))
    words = _strings(raw.get("words", []), path, entry, "words")
    commands: list[tuple[Userland, str]] = []
    for key, userlands in (("command", (Userland.GNU, Userland.BSD)), ("gnu", (Userland.GNU,)), ("bsd", (Userland.BSD,))):
        template = raw.get(key)
        if template is None:
            continue
        if not isinstance(template, str) or not template.strip():
            raise _fail(path, entry, f"{key!r} must be a non-empty string")
        _check_template(template, slots, path, entry)
        commands.extend((u, template.strip()) for u in userlands)
    if not commands or len({u for u, _ in commands}) != len(commands):
        raise _fail(path, entry, "needs 'command', or 'gnu' and/or 'bsd', without overlap")
    summary = raw.get("summary", "")
    if not isinstance(summary, str) or not summary:
        raise _fail(path, entry, "'summary' must be a non-empty string")
    return Intent(
        id=entry,
        domain=domain,
        summary=summary,
        require=require,
        words=frozenset(w for w in words if " " not in w),
        phrases=tuple(tuple(w.split()) for w in words if " " in w),
        forbid=frozenset(_strings(raw.get("forbid", []), path, entry, "forbid")),
        slots=tuple(slots.values()),
        commands=tuple(commands),
        os=frozenset(_strings(raw.get("os", []), path, entry, "os")),
        source=str(path),
    )


def load_file(path: Path) -> list[Intent]:
    """The intents of one table file, in file order."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read static table: {exc}") from None
    entries = data.get("intent", [])
    if set(data) - {"intent"} or not isinstance(entries, list):
        raise ValueError(f"{path}: a static table holds only [[intent]] entries")
    intents = [parse_intent(raw, path) for raw in entries]
    seen: set[str] = set()
    for intent in intents:
        if intent.id in seen:
            raise _fail(path, intent.id, "duplicate id in the same file")
        seen.add(intent.id)
    return intents
