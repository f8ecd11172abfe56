"""Safety rules as data: loading `configs/safety_rules.toml` (and user files) into a RuleSet.

The schema is documented at the top of configs/safety_rules.toml; matching a rule against one
command is pipeline/safety/matching.py. A rule file may also hold allow entries ([allow.NAME],
configs/safety_allow.toml), wrappers ([wrapper.NAME], configs/wrappers.toml) and option
spellings ([utility.NAME]), and `include` other files.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.safety.allow import AllowEntry, AllowList, entry_from
from pipeline.safety.flags import DEFAULT_SPEC, UtilitySpec
from pipeline.safety.matching import Rule, Subject
from pipeline.safety.targets import Target
from pipeline.shell.unwrap import Wrapper, default_wrappers, interpreter, wrappers_from
from pipeline.values import Category, Risk

__all__ = ["SHAPES", "Rule", "RuleSet", "Subject", "default_rules_path"]
SHAPES = frozenset(
    {
        "fork_bomb", "background_loop", "unparsable", "too_deep", "shell_out", "differential", "unchecked", "hidden_characters",
        "arithmetic_code", "download_run", "reverse_shell", "fetched_code", "decoded_code", "split_word", "secret_socket",
    }
)
_SOURCES = ("operands", "first_operand", "last_operand", "sources", "after_first", "found", "redirect_out", "redirect_in")
_RULE_KEYS = frozenset(
    {
        "id", "category", "risk", "message", "utility", "subcommand", "flags_all", "flags_any", "flags_none",
        "targets", "target_from", "operands_any", "operands_none", "args_any", "args_none", "operands_min",
        "operands_max", "privileged", "script_input", "fed_by", "fed_targets", "shape", "allow", "enabled", "pipeline_any",
        "assignments_any", "via", "reads",
    }
)
_SPEC_KEYS = frozenset({"aliases", "takes_value", "short_flags", "cluster", "max_options", "subcommands"})


@dataclass(frozen=True)
class RuleSet:
    """All rules in force, indexed by utility name, plus how each utility spells its options."""

    rules: tuple[Rule, ...]
    specs: Mapping[str, UtilitySpec] = field(default_factory=dict)
    allow: AllowList = field(default_factory=AllowList)
    wrappers: Mapping[str, Wrapper] = field(default_factory=default_wrappers)

    def __post_init__(self) -> None:
        by_name: dict[str, list[Rule]] = {}
        prefixed: list[tuple[str, Rule]] = []
        generic: list[Rule] = []
        shapes: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.shape:
                shapes.setdefault(rule.shape, []).append(rule)
            elif not rule.utility:
                generic.append(rule)
            for name in rule.utility:
                if name.endswith("*"):
                    prefixed.append((name[:-1], rule))
                else:
                    by_name.setdefault(name, []).append(rule)
        object.__setattr__(self, "_by_name", {k: tuple(v) for k, v in by_name.items()})
        object.__setattr__(self, "_prefixed", tuple(prefixed))
        object.__setattr__(self, "_generic", tuple(generic))
        object.__setattr__(self, "_named", {})
        object.__setattr__(self, "_generic_needs", tuple((r, frozenset(r.needs)) for r in generic))
        object.__setattr__(self, "_shapes", {k: tuple(v) for k, v in shapes.items()})

    def for_utility(self, name: str) -> tuple[Rule, ...]:
        """The rules that can match a command with this name: its own, prefixed and generic ones."""
        own: tuple[Rule, ...] = self._by_name.get(name, ())  # type: ignore[attr-defined]
        extra = tuple(r for p, r in self._prefixed if name.startswith(p))  # type: ignore[attr-defined]
        return own + extra + self._generic  # type: ignore[attr-defined]

    def candidates(self, subject: Subject) -> list[Rule]:
        """The rules worth matching against a subject: its utility's, and the generic ones whose
        preconditions it has (a redirect, input it runs, sudo, assignments). Matching all of them
        is the same verdict; skipping the rest keeps thousands of commands fast."""
        inv = subject.invocation
        named = self._named.get(inv.name)  # type: ignore[attr-defined]
        if named is None:
            own: tuple[Rule, ...] = self._by_name.get(inv.name, ())  # type: ignore[attr-defined]
            named = own + tuple(r for p, r in self._prefixed if inv.name.startswith(p))  # type: ignore[attr-defined]
            if len(self._named) < 4096:  # type: ignore[attr-defined]
                self._named[inv.name] = named  # type: ignore[attr-defined]
        have = {
            n
            for n, present in (
                ("redirect_out", subject.redirect_out), ("redirect_in", subject.redirect_in), ("script_input", inv.script_input),
                ("privileged", inv.privileged), ("assignments", subject.assignments), ("fed", subject.fed_by),
            )
            if present
        }
        return [*named, *(r for r, needs in self._generic_needs if needs <= have)]  # type: ignore[attr-defined]

    def for_utility_only(self, name: str) -> tuple[Rule, ...]:
        """The rules written for this utility by name (not the generic ones)."""
        return self._by_name.get(name, ())  # type: ignore[attr-defined]

    def for_shape(self, shape: str) -> tuple[Rule, ...]:
        """The rules that fire for a structural shape such as a fork bomb."""
        return self._shapes.get(shape, ())  # type: ignore[attr-defined]

    def spec(self, name: str) -> UtilitySpec:
        """How the named utility spells its options (defaults when the rule files do not say)."""
        found = self.specs.get(name)
        return found if found is not None else self.specs.get(interpreter(name), DEFAULT_SPEC)

    @classmethod
    def load(cls, paths: Sequence[Path]) -> RuleSet:
        """Rules, allow entries, wrappers and option specs from TOML files in order.

        A file's `include = ["other.toml"]` (relative to it) is read first. A later rule with the
        same id, or allow entry or wrapper with the same name, replaces the earlier one.
        """
        rules: dict[str, Rule] = {}
        specs: dict[str, UtilitySpec] = {}
        allow: dict[str, AllowEntry] = {}
        wrappers: dict[str, Wrapper] = dict(default_wrappers())
        for path, data in _with_includes(paths):
            for name, table in (data.get("allow") or {}).items():
                allow[name] = entry_from(name, table, path.name)
            wrappers.update(wrappers_from(data.get("wrapper") or {}, path.name))
            for name, table in (data.get("utility") or {}).items():
                specs[name] = _spec(table, path, name)
            entries = data.get("rule") or []
            if not isinstance(entries, list):
                raise ValueError(f"{path.name}: `rule` must be an array of tables ([[rule]])")
            for number, entry in enumerate(entries, start=1):
                if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or not entry["id"]:
                    raise ValueError(f"{path.name}: rule #{number} has no string `id`")
                if entry.get("enabled", True) is False:
                    rules.pop(entry["id"], None)
                    continue
                rules[entry["id"]] = _rule(entry, path)
        return cls(rules=tuple(rules.values()), specs=specs, allow=AllowList(allow), wrappers=wrappers)


def _with_includes(paths: Sequence[Path]) -> list[tuple[Path, dict[str, object]]]:
    """Each file and its data, with its `include` list read before it (one level, each file once)."""
    ordered: dict[Path, dict[str, object]] = {}
    for path in paths:
        data = _read(path)
        included = data.get("include") or []
        if not isinstance(included, list) or not all(isinstance(i, str) for i in included):
            raise ValueError(f"{path.name}: `include` must be a list of file names")
        for name in included:
            extra = path.parent / name
            if extra not in ordered:
                ordered[extra] = _read(extra)
        ordered.setdefault(path, data)
    return list(ordered.items())


def default_rules_path() -> Path:
    """The rule file shipped with caro: configs/safety_rules.toml at the project root."""
    return Path(__file__).resolve().parents[2] / "configs" / "safety_rules.toml"


def _read(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ValueError(f"{path.name}: cannot read rule file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: not valid TOML ({exc})") from None


def _spec(table: object, path: Path, name: str) -> UtilitySpec:
    where = f"{path.name}: utility {name!r}"
    if not isinstance(table, dict) or set(table) - _SPEC_KEYS:
        raise ValueError(f"{where}: expected a table with keys {sorted(_SPEC_KEYS)}")
    aliases = table.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in aliases.items()):
        raise ValueError(f"{where}: `aliases` must map option strings to option strings")
    short_flags = table.get("short_flags")
    max_options = table.get("max_options")
    subcommands = table.get("subcommands", 0)
    if short_flags is not None and not isinstance(short_flags, str):
        raise ValueError(f"{where}: `short_flags` must be a string of option letters")
    if max_options is not None and (not isinstance(max_options, int) or max_options < 0):
        raise ValueError(f"{where}: `max_options` must be a non-negative integer")
    if not isinstance(subcommands, int) or subcommands < 0:
        raise ValueError(f"{where}: `subcommands` must be a non-negative integer")
    return UtilitySpec(
        aliases=dict(aliases),
        takes_value=frozenset(_strings(table.get("takes_value", []), f"{where}: takes_value")),
        short_flags=short_flags,
        cluster=bool(table.get("cluster", True)),
        max_options=max_options,
        subcommands=subcommands,
    )


def _rule(entry: dict[str, object], path: Path) -> Rule:
    rid = str(entry["id"])
    where = f"{path.name}: rule {rid!r}"
    unknown = set(entry) - _RULE_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("category", "risk", "message"):
        if not isinstance(entry.get(key), str) or not str(entry[key]).strip():
            raise ValueError(f"{where}: `{key}` is required and must be a non-empty string")
    try:
        category = Category(entry["category"])
    except ValueError:
        raise ValueError(f"{where}: unknown category; use one of {[c.value for c in Category]}") from None
    try:
        risk = Risk.parse(str(entry["risk"]))
    except KeyError:
        raise ValueError(f"{where}: unknown risk; use safe, moderate, high or critical") from None
    allow = bool(entry.get("allow", False))
    if allow and risk is not Risk.SAFE:
        raise ValueError(f"{where}: an allow rule must have risk = \"safe\"")
    shape = entry.get("shape")
    if shape is not None and shape not in SHAPES:
        raise ValueError(f"{where}: unknown shape; use one of {sorted(SHAPES)}")
    utility = _strings(entry.get("utility", []), f"{where}: utility")
    target_from = _strings(entry.get("target_from", ["operands"]), f"{where}: target_from")
    for source in target_from:
        if source not in _SOURCES and not source.startswith(("value:", "key:")):
            raise ValueError(f"{where}: unknown target_from {source!r}")
    targets = _strings(entry.get("targets", []), f"{where}: targets")
    fed_targets = _strings(entry.get("fed_targets", []), f"{where}: fed_targets")
    reads = _strings(entry.get("reads", []), f"{where}: reads")
    try:
        target_set = frozenset(Target(t) for t in targets)
        fed_set = frozenset(Target(t) for t in fed_targets)
        reads_set = frozenset(Target(t) for t in reads)
    except ValueError:
        raise ValueError(f"{where}: unknown target class; use one of {[t.value for t in Target]}") from None
    return Rule(
        id=rid,
        category=category,
        risk=risk,
        message=str(entry["message"]).strip(),
        utility=tuple(u.lower() for u in utility),
        subcommand=tuple(_strings(entry.get("subcommand", []), f"{where}: subcommand")),
        flags_all=frozenset(_strings(entry.get("flags_all", []), f"{where}: flags_all")),
        flags_any=frozenset(_strings(entry.get("flags_any", []), f"{where}: flags_any")),
        flags_none=frozenset(_strings(entry.get("flags_none", []), f"{where}: flags_none")),
        targets=target_set,
        target_from=tuple(target_from),
        operands_any=_patterns(entry.get("operands_any", []), where, "operands_any"),
        operands_none=_patterns(entry.get("operands_none", []), where, "operands_none"),
        args_any=_patterns(entry.get("args_any", []), where, "args_any"),
        args_none=_patterns(entry.get("args_none", []), where, "args_none"),
        operands_min=_int(entry.get("operands_min"), where),
        operands_max=_int(entry.get("operands_max"), where),
        privileged=_bool(entry.get("privileged"), where),
        script_input=_bool(entry.get("script_input"), where),
        fed_by=frozenset(_strings(entry.get("fed_by", []), f"{where}: fed_by")),
        fed_targets=fed_set,
        pipeline_any=frozenset(_strings(entry.get("pipeline_any", []), f"{where}: pipeline_any")),
        assignments_any=_patterns(entry.get("assignments_any", []), where, "assignments_any"),
        via=frozenset(_strings(entry.get("via", []), f"{where}: via")),
        reads=reads_set,
        shape=shape if isinstance(shape, str) else None,
        allow=allow,
        source=path.name,
    )


def _strings(value: object, where: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a string or a list of strings")
    return list(value)


def _patterns(value: object, where: str, key: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for text in _strings(value, f"{where}: {key}"):
        try:
            compiled.append(re.compile(text))
        except re.error as exc:
            raise ValueError(f"{where}: invalid regex in {key} ({exc.msg} at position {exc.pos})") from None
    return tuple(compiled)


def _int(value: object, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{where}: operands_min/operands_max must be non-negative integers")
    return value


def _bool(value: object, where: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise ValueError(f"{where}: privileged/script_input must be true or false")

