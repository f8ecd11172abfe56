"""Typed slot recognisers: each reads a bounded window of tokens and yields a rendered value.

A recogniser looks at most a few tokens ahead of each position, so finding every hit of a
slot is linear in the number of tokens. Values that come from the user (names, search text,
paths) are rendered with `shlex.quote`; values the recogniser builds itself (`+100M`,
`-mtime -7`) are made only of characters that need no quoting. The recognisers live in
`measures` (size, time, count, port) and `names` (everything named); this module is the
registry the table uses.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.static import measures, names
from pipeline.static.slot_types import FORMS, SlotHit, SlotSpec, SlotType, SlotValue, is_int
from pipeline.static.tokens import Token

__all__ = ["CLAIM_ORDER", "FORMS", "SlotHit", "SlotSpec", "SlotType", "SlotValue", "default_value", "find_hits"]

_RECOGNISERS: dict[SlotType, Callable[[tuple[Token, ...], int, SlotSpec], SlotHit | None]] = {
    SlotType.SIZE: measures.size,
    SlotType.TIME: measures.time,
    SlotType.FILETYPE: names.filetype,
    SlotType.DIRECTORY: names.directory,
    SlotType.COUNT: measures.count,
    SlotType.PORT: measures.port,
    SlotType.TEXT: names.text,
    SlotType.WORD: names.word,
    SlotType.WORDS: names.words,
    SlotType.FILE: names.file,
    SlotType.HOST: names.host,
    SlotType.URL: names.url,
    SlotType.REV: names.rev,
}


# The order in which an intent's slots claim tokens: the most self-evident readings first, so a
# size ("under 10 MB") is never taken for a directory ("under src").
CLAIM_ORDER: dict[SlotType, int] = {
    t: n
    for n, t in enumerate(
        [SlotType.TEXT, SlotType.URL, SlotType.PORT, SlotType.SIZE, SlotType.TIME, SlotType.FILETYPE,
         SlotType.COUNT, SlotType.DIRECTORY, SlotType.FILE, SlotType.HOST, SlotType.REV, SlotType.WORD, SlotType.WORDS]
    )
}


def find_hits(spec: SlotSpec, tokens: tuple[Token, ...]) -> tuple[SlotHit, ...]:
    """Every place the slot's recogniser reads a value, best (lowest rank, leftmost) first."""
    recognise = _RECOGNISERS[spec.type]
    hits = [hit for i in range(len(tokens)) if (hit := recognise(tokens, i, spec)) is not None]
    return tuple(sorted(hits, key=lambda h: (h.rank, h.start)))


def default_value(spec: SlotSpec) -> SlotValue | None:
    """The slot's default as a value (table authors write it already in shell form)."""
    if spec.default is None:
        return None
    if spec.type is SlotType.COUNT and is_int(spec.default):
        amount = int(spec.default)
        return SlotValue(spec.default, {"": str(amount), "plus1": str(amount + 1)})
    return SlotValue(spec.default, {form: spec.default for form in FORMS[spec.type]})
