"""Options of a command normalised per utility, so `-rf`, `-r -f`, `-fr` and `--recursive --force` agree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class UtilitySpec:
    """How one utility spells its options; read from `[utility.NAME]` tables in rule files."""

    aliases: Mapping[str, str] = field(default_factory=dict)  # "--recursive" -> "-r"; "-s=KILL" -> "-9"
    takes_value: frozenset[str] = frozenset()  # options whose value is the next word ("-n", "--signal")
    short_flags: str | None = None  # when set, a `-xyz` word is split only if every letter is listed
    cluster: bool = True  # False: `-name`, `-delete` (find) or `-KILL` (kill) are single options
    max_options: int | None = None  # after this many options every word is an operand (kill -9 -1)
    subcommands: int = 0  # leading operands that name a subcommand (git push, docker system prune)


DEFAULT_SPEC = UtilitySpec()


@dataclass(frozen=True)
class Options:
    """A command's arguments split into normalised flags, their values and operands."""

    flags: frozenset[str]
    values: Mapping[str, tuple[str, ...]]
    operands: tuple[str, ...]
    subcommand: tuple[str, ...] = ()


def parse_options(args: Sequence[str], spec: UtilitySpec = DEFAULT_SPEC) -> Options:
    """Split the words after a command name into flags (with values) and operands."""
    flags: set[str] = set()
    values: dict[str, list[str]] = {}
    operands: list[str] = []
    subcommand: list[str] = []
    seen = 0
    i, n = 0, len(args)

    def add(option: str, value: str | None) -> None:
        nonlocal seen
        seen += 1
        if value is not None:
            option = spec.aliases.get(f"{option}={value}", option)
        option = spec.aliases.get(option, option)
        flags.add(option)
        if value is not None:
            values.setdefault(option, []).append(value)

    while i < n:
        word = args[i]
        i += 1
        if word == "--":
            operands.extend(args[i:])
            break
        if len(subcommand) < spec.subcommands and not word.startswith("-"):
            subcommand.append(word)
            continue
        if len(word) < 2 or word[0] != "-" or (spec.max_options is not None and seen >= spec.max_options):
            operands.append(word)
            continue
        if word.startswith("--"):
            key, eq, value = word.partition("=")
            if eq:
                add(key, value)
            elif key in spec.takes_value and i < n:
                add(key, args[i])
                i += 1
            else:
                add(key, None)
            continue
        if not spec.cluster or word in spec.aliases or word in spec.takes_value:
            if word in spec.takes_value and i < n:
                add(word, args[i])
                i += 1
            else:
                add(word, None)
            continue
        letters = word[1:]
        if spec.short_flags is not None and any(ch not in spec.short_flags for ch in letters):
            operands.append(word)  # `chmod -x file`: a mode, not options
            continue
        for pos, ch in enumerate(letters):
            option = "-" + ch
            if option in spec.takes_value:
                rest = letters[pos + 1 :]
                if rest:
                    add(option, rest)
                elif i < n:
                    add(option, args[i])
                    i += 1
                else:
                    add(option, None)
                break
            add(option, None)
    return Options(
        flags=frozenset(flags),
        values={k: tuple(v) for k, v in values.items()},
        operands=tuple(operands),
        subcommand=tuple(subcommand),
    )
