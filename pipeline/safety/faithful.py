"""Whether tree-sitter's reading of a command is bash's: plain text, or bash's own answer.

Plain text (words, simple quotes, `$NAME`, pipes and lists, simple redirects) is read the same
by both parsers, so it needs no second opinion. Anything else is printed back by bash
(pipeline/shell/oracle.py) and both readings are compared as lists of simple commands: words
after quote removal and redirects. When bash cannot be asked (not installed, or text too long),
text with the constructs where the parsers have been seen to differ is left unchecked, which
the validator treats as "not understood".
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import Enum

from pipeline.shell.oracle import RESERVED, Verdict, bash_reading, plain
from pipeline.shell.parse import parse_script
from pipeline.shell.script import Script

_HEREDOCS = frozenset({"<<", "<<-"})


class Faithfulness(str, Enum):
    """How the tree-sitter reading compares with bash's."""

    SAME = "same"  # plain text, or bash reads the same commands
    DIFFERS = "differs"  # bash runs other commands than the tree-sitter reading shows
    REJECTED = "rejected"  # bash would not parse it although tree-sitter did
    UNCHECKED = "unchecked"  # bash could not be asked and the text has fragile constructs


@dataclass(frozen=True)
class Check:
    """The comparison for one text; `canonical` is bash's form when it differs."""

    verdict: Faithfulness
    canonical: str = ""


def faithfulness(text: str, script: Script, *, ask_bash: bool = True) -> Check:
    """Compare tree-sitter's reading of `text` (parsed as `script`) with bash's."""
    if is_plain(text, script):
        return Check(Faithfulness.SAME)
    if ask_bash:
        reading = bash_reading(text)
        if reading.verdict is Verdict.READ:
            canonical = parse_script(reading.canonical, printed=True)
            if commands_of(script) == commands_of(canonical):
                return Check(Faithfulness.SAME)
            return Check(Faithfulness.DIFFERS, reading.canonical)
        if reading.verdict is Verdict.REJECTED:
            return Check(Faithfulness.SAME if not script.ok else Faithfulness.REJECTED)
    return Check(Faithfulness.UNCHECKED if fragile(text, script) else Faithfulness.SAME)


def is_plain(text: str, script: Script) -> bool:
    """Text both parsers read alike: plain syntax, parsed cleanly, no reserved word as a command."""
    return script.ok and not script.braces and plain(text) and not any(c.argv[:1] and c.argv[0] in RESERVED for c in script.commands)


def fragile(text: str, script: Script) -> bool:
    """Constructs where tree-sitter-bash has been seen to read differently from bash."""
    return (
        not script.ok
        or "\\\n" in text
        or "<<" in text
        or "\r" in text
        or not text.isascii()
        or bool(script.arithmetic)
        or any(c.argv[:1] in (("coproc",), ("time",)) for c in script.commands)
    )


def commands_of(script: Script) -> Counter[tuple[tuple[str, ...], tuple[tuple[str, str], ...]]]:
    """Every simple command as words and redirects, in any order (bash re-orders nothing, but prints lists one per line)."""
    found: Counter[tuple[tuple[str, ...], tuple[tuple[str, str], ...]]] = Counter()
    for command in (*script.commands, *script.declarations):
        argv = command.argv
        if argv[:1] == ("coproc",) and argv[1:2] == ("COPROC",):
            argv = argv[:1] + argv[2:]  # bash prints the coprocess's default name
        redirects = tuple((r.op, "" if r.op in _HEREDOCS else r.target) for r in command.redirects)
        found[(argv, redirects)] += 1
    return found
