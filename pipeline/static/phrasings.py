"""The static table's intents phrased as requests: each intent's phrasing variants as examples.

A variant takes, for each of the intent's required groups, one of its alternatives in turn
(`size` then `space`, ...), and fills the intent's slots with realistic values: files and
folders as `{{kind}}` names (so the request's own names replace them when the example is
shown), sizes, times, counts and the rest as fixed phrases. A variant is kept only when the
table reads it back as the same intent, so every example's command is one the table gives;
the command is rendered by the table itself, for the names the example is shown with.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pipeline.static.examples import Example, SlotKind, fill, render_request, slot_kinds
from pipeline.static.schema import Intent
from pipeline.static.slot_types import SlotSpec, SlotType
from pipeline.static.table import StaticTable
from pipeline.static.vocab import FILLERS
from pipeline.values import Platform

VARIANTS_PER_INTENT = 2
_TRIES = 5
_KINDS = {SlotType.WORD: "word", SlotType.WORDS: "word", SlotType.TEXT: "text", SlotType.HOST: "host", SlotType.URL: "url"}
# An absolute path to a file with an extension (`/var/log/nginx/access.log`): a sample, not a name.
_SAMPLE_FILE = re.compile(r"(?<![\w.])/(?:[\w.-]+/)+[\w-]+\.[a-z]{2,4}\b")
_NAMES = frozenset({SlotType.FILE, SlotType.DIRECTORY, SlotType.HOST, SlotType.URL, SlotType.WORD, SlotType.WORDS, SlotType.TEXT})
# Phrases for the slot types that are not names of files or folders (the table reads them all).
_PHRASES: dict[SlotType, tuple[str, ...]] = {
    SlotType.SIZE: ("over 20MB", "larger than 500k"),
    SlotType.TIME: ("in the last 3 days", "modified today"),
    SlotType.FILETYPE: ("markdown", "*.conf"),
    SlotType.COUNT: ("8", "12"),
    SlotType.PORT: ("port 5432", "port 9090"),
    SlotType.TEXT: ("'timeout'", "'retry limit'"),
    SlotType.WORD: ("redis", "worker"),
    SlotType.WORDS: ("redis", "worker"),
    SlotType.HOST: ("db.internal.net", "10.1.2.3"),
    SlotType.URL: ("https://downloads.example.net/tool.tar.gz", "https://api.example.org/v1/status"),
    SlotType.REV: ("3f2a9c1", "HEAD~2"),
}


def _file_kind(spec: SlotSpec, kinds: Mapping[str, SlotKind]) -> str | None:
    """The kind of name a file slot takes: the one whose extensions cover the slot's, else any file."""
    if not spec.ext:
        return "file"
    wanted = tuple(f".{e}" for e in spec.ext)
    for kind in kinds.values():
        if kind.ext and any(w.endswith(kind.ext) or w in kind.ext for w in wanted):
            return kind.name
    return None  # an extension no kind has: a literal name


def _slot_phrase(spec: SlotSpec, variant: int, kinds: Mapping[str, SlotKind]) -> str:
    if spec.type is SlotType.DIRECTORY:
        return "in the {{dir}} folder"  # the table reads a bare word as a folder only so
    if spec.type is SlotType.FILE:
        kind = _file_kind(spec, kinds)
        value = "{{%s}}" % kind if kind else f"archive.{spec.ext[0]}"
    elif spec.type in _KINDS:  # names a request's words can fill (`show processes of {{word}}`)
        value = "{{%s}}" % _KINDS[spec.type]
    else:
        value = _PHRASES[spec.type][variant % 2]
    if spec.type in (SlotType.WORD, SlotType.WORDS):
        if spec.after:
            return f"{spec.after[0]} {value}"
        return f"{value} {spec.before[0]}" if spec.before else f"'{value}'"
    if spec.type in (SlotType.FILE, SlotType.TEXT, SlotType.COUNT) and spec.after:
        return f"{spec.after[0]} {value}"
    return value


def _phrase(intent: Intent, variant: int, kinds: Mapping[str, SlotKind]) -> str:
    parts: list[str] = []
    used: set[str] = set()
    for group in intent.require:
        alternative = group[variant % len(group)]
        if alternative[0].startswith("{"):
            name = alternative[0][1:-1]
            used.add(name)
            parts.append(_slot_phrase(intent.slot(name), variant, kinds))
        else:
            parts.append(" ".join(alternative))
    for spec in intent.slots:
        # A name the command would hold (a default file, host or word) must be in the request;
        # every other variant shows the other optional slots too (a folder, a count).
        if spec.name not in used and (variant % 2 or (spec.default is not None and spec.type in _NAMES)):
            parts.append(_slot_phrase(spec, variant, kinds))
    return " ".join(parts)


def _names_from_request(intent: Intent, filled: set[str]) -> bool:
    """Whether every name in the command comes from the request: no default file, host, word or
    folder other than `.` was written in for a slot the request left empty."""
    return all(
        spec.name in filled or spec.default is None or spec.type not in _NAMES or spec.default == "."
        for spec in intent.slots
    )


def _vocabulary(intent: Intent) -> frozenset[str]:
    words = set(intent.summary.lower().split()) | set(intent.words)
    for group in intent.require:
        for alternative in group:
            words.update(w for w in alternative if not w.startswith("{"))
    return frozenset(words - FILLERS)


def table_examples(table: StaticTable, platform: Platform) -> list[Example]:
    """Up to VARIANTS_PER_INTENT phrasings of each intent that applies to the platform, each read back by the table."""
    kinds = slot_kinds()
    examples: list[Example] = []
    for intent in table.intents:
        kept: list[str] = []
        for variant in range(_TRIES):
            template = _phrase(intent, variant, kinds)
            probe = Example(template, None, f"table:{intent.id}", intent=intent.id)
            match = table.match(render_request(probe, fill(probe, (), kinds)), platform)
            if match is None or match.intent_id != intent.id or not _names_from_request(intent, set(match.slots)):
                continue
            if _SAMPLE_FILE.search(match.command):
                continue  # a sample file written into the command (the nginx log): the model would copy it
            if template not in kept:
                kept.append(template)
            if len(kept) == VARIANTS_PER_INTENT:
                break
        vocabulary = _vocabulary(intent)
        examples.extend(Example(t, None, f"table:{intent.id}", intent=intent.id, words=vocabulary) for t in kept)
    return examples


def render_table_example(
    example: Example, named: Sequence[str], table: StaticTable, platform: Platform, said: str = ""
) -> tuple[str, str] | None:
    """The example as (request, command) with the request's names (`named`, and those `said` puts in
    the example's places), as the table answers it; None if it no longer reads so."""
    for names, words in ((named, said), ((), "")):  # the request's names, else the pool's (read back when the corpus was built)
        request = render_request(example, fill(example, names, request=words))
        match = table.match(request, platform)
        if match is not None and match.intent_id == example.intent:
            return request, match.command
    return None
