"""Tier 1, known harmless: the allow-list (configs/safety_allow.toml) and the check against it.

A simple command is harmless when its utility (and subcommand) has an `[allow.NAME]` entry,
every option it uses is one the entry lists, what it writes is inside the working directory or
/tmp, and every word is known before it runs (or the entry says no word can make it harmful).
`understood` returns None for such a command and otherwise the reason, in words a user can act
on; the engine turns a reason into a "not understood" finding that needs confirmation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipeline.safety.targets import Target
from pipeline.shell.unwrap import INPUT_MARK
from pipeline.shell.words import CMDSUB_MARK, DYNAMIC, PROCSUB_MARK, is_dynamic

# What a harmless write may never touch, whatever the entry allows.
FORBIDDEN_WRITES = frozenset(
    {
        Target.ROOT, Target.HOME, Target.SYSTEM_DIR, Target.SYSTEM_PATH, Target.ESSENTIAL, Target.SUDOERS, Target.DEVICE,
        Target.NET_DEVICE, Target.DYNAMIC, Target.DYNAMIC_ROOT, Target.SECRET, Target.REMOTE, Target.URL,
        Target.STARTUP, Target.ACCESS, Target.HISTORY,
    }
)
DEFAULT_WRITE_TARGETS = frozenset({Target.LOCAL, Target.TMP})
REDIRECT_TARGETS = frozenset({Target.LOCAL, Target.TMP, Target.PSEUDO_DEVICE})
_ENTRY_KEYS = frozenset({"why", "flags", "deny_flags", "operands", "operands_all", "operands_none", "writes", "write_targets", "dynamic", "code"})
_SHOWABLE = re.compile(r"[A-Za-z0-9._+:@%=-]{1,40}(?: [A-Za-z0-9._+:@%=-]{1,40}){0,2}")
_VARIABLE = re.compile(f"{DYNAMIC}\\$([A-Za-z_][A-Za-z0-9_]{{0,31}}){DYNAMIC}")
CODE_KINDS = frozenset({"python", "perl", "ruby", "node", "php", "lua", "awk", "sed", "jq"})


@dataclass(frozen=True)
class AllowEntry:
    """One `[allow.NAME]` table: when this utility (or `utility subcommand`) is harmless."""

    name: str
    why: str
    any_flag: bool = False  # flags = "*": every option is harmless (minus deny_flags)
    flags: frozenset[str] = frozenset()
    deny_flags: frozenset[str] = frozenset()
    max_operands: int | None = None
    operands_all: tuple[re.Pattern[str], ...] = ()
    operands_none: tuple[re.Pattern[str], ...] = ()
    writes: tuple[str, ...] = ()  # operand sources it writes to (see Subject.words_from)
    write_targets: frozenset[Target] = DEFAULT_WRITE_TARGETS
    dynamic: bool = False  # a word known only at run time cannot make it harmful
    code: str | None = None  # its script or inline code is judged by pipeline/safety/code.py


@dataclass(frozen=True)
class AllowList:
    """Every allow entry, by `utility` or `utility subcommand...`."""

    entries: Mapping[str, AllowEntry] = field(default_factory=dict)

    def lookup(self, name: str, subcommand: Sequence[str]) -> tuple[AllowEntry | None, int]:
        """The most specific entry for a command, and how many subcommand words it used."""
        for used in range(len(subcommand), -1, -1):
            key = " ".join((name, *subcommand[:used]))
            entry = self.entries.get(key)
            if entry is not None:
                return entry, used
        return None, 0

    def knows(self, name: str) -> bool:
        """Whether some entry starts with this utility."""
        return name in self.entries or any(k.startswith(name + " ") for k in self.entries)


def entry_from(name: str, table: object, source: str) -> AllowEntry:
    """One entry from its TOML table; ValueError naming the file and the entry when malformed."""
    where = f"{source}: allow {name!r}"
    if not isinstance(table, dict):
        raise ValueError(f"{where}: expected a table")
    unknown = set(table) - _ENTRY_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    why = table.get("why")
    if not isinstance(why, str) or not why.strip():
        raise ValueError(f"{where}: `why` is required: say why this is harmless")
    flags = table.get("flags", [])
    any_flag = flags == "*"
    if not any_flag and (not isinstance(flags, list) or not all(isinstance(f, str) for f in flags)):
        raise ValueError(f"{where}: `flags` must be \"*\" or a list of options")
    operands = table.get("operands", "*")
    if operands != "*" and (not isinstance(operands, int) or isinstance(operands, bool) or operands < 0):
        raise ValueError(f"{where}: `operands` must be \"*\" or a maximum count")
    code = table.get("code")
    if code is not None and code not in CODE_KINDS:
        raise ValueError(f"{where}: unknown `code`; use one of {sorted(CODE_KINDS)}")
    try:
        targets = frozenset(Target(t) for t in table.get("write_targets", [t.value for t in DEFAULT_WRITE_TARGETS]))
    except ValueError:
        raise ValueError(f"{where}: unknown write target; use one of {[t.value for t in Target]}") from None
    if targets & FORBIDDEN_WRITES:
        raise ValueError(f"{where}: write_targets may not include {sorted(t.value for t in targets & FORBIDDEN_WRITES)}")
    try:
        all_patterns = tuple(re.compile(p) for p in table.get("operands_all", []))
        none_patterns = tuple(re.compile(p) for p in table.get("operands_none", []))
    except re.error as exc:
        raise ValueError(f"{where}: invalid regex ({exc.msg})") from None
    writes = tuple(table.get("writes", []))
    return AllowEntry(
        name=name,
        why=why.strip(),
        any_flag=any_flag,
        flags=frozenset(flags) if not any_flag else frozenset(),
        deny_flags=frozenset(table.get("deny_flags", [])),
        max_operands=None if operands == "*" else operands,
        operands_all=all_patterns,
        operands_none=none_patterns,
        writes=writes,
        write_targets=targets,
        dynamic=bool(table.get("dynamic", any_flag and not writes)),
        code=code,
    )


def shown(word: str) -> str:
    """A short, safe way to name a word in a message: `$a`, `rm`, or a description; never a path."""
    variable = _VARIABLE.fullmatch(word)
    if variable:
        return f"`${variable.group(1)}`"
    if word.startswith(CMDSUB_MARK):
        return "the output of `$(...)`"
    if word.startswith(PROCSUB_MARK):
        return "`<(...)`"
    if INPUT_MARK in word:
        return "what xargs reads"
    if is_dynamic(word):
        found = _VARIABLE.search(word)
        return f"`${found.group(1)}`" if found else "a value computed when it runs"
    if "/" not in word and _SHOWABLE.fullmatch(word):
        return f"`{word}`"
    return "this command"
