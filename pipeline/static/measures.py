"""Recognisers for quantities: sizes, times, counts and ports.

Each reads at most a few tokens from its position, so a full scan is linear in the tokens.
Values are built here from digits and fixed words, so they need no shell quoting.
"""

from __future__ import annotations

from pipeline.static import vocab
from pipeline.static.slot_types import (
    NUM_UNIT,
    PORT_TOKEN,
    SlotHit,
    SlotSpec,
    SlotValue,
    forms_of,
    is_int,
    number,
    phrase_at,
)
from pipeline.static.tokens import Token

# ---- size -------------------------------------------------------------------------------


def _size_value(sign: str, amount: str, unit_word: str) -> SlotValue | None:
    unit = vocab.SIZE_UNITS.get(unit_word)
    if unit is None:
        return None
    number = float(amount)
    # find's -size takes whole units: express a fraction in the next smaller unit.
    smaller = {"T": "G", "G": "M", "M": "k", "k": "c"}
    while number != int(number) and unit in smaller:
        number, unit = number * 1024, smaller[unit]
    if number <= 0 or number > 10**9:
        return None
    value = f"{sign}{int(number)}{unit}"
    return SlotValue(value, forms_of(**{"": f"-size {value}", "value": value}))


def size(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    norm = tokens[i].norm
    if norm in {"large", "big", "huge"}:
        value = _size_value("+", "100", "m")
        return SlotHit(i, i + 1, value, rank=2) if value else None
    for phrase, sign in vocab.SIZE_MORE.items():
        if not phrase_at(tokens, i, phrase):
            continue
        j = i + len(phrase)
        if j < len(tokens) and (m := NUM_UNIT.match(tokens[j].norm)):
            amount, unit = m.groups()
            end = j + 1
            if not unit and end < len(tokens):
                unit, end = tokens[end].norm, end + 1
            value = _size_value(sign, amount, unit)
            if value:
                return SlotHit(i, end, value, rank=0)
    return None


# ---- time -------------------------------------------------------------------------------


def _time_value(kind: str, amount: int, unit_word: str) -> SlotValue:
    """kind: "within" (the last N units), "older" (more than N units ago) or "day" (N days ago)."""
    unit, minutes, days = vocab.TIME_UNITS[unit_word]
    plural = unit if amount == 1 else unit + "s"
    ago = f"'{amount} {plural} ago'"
    if kind == "day":
        find = f"-mtime {amount}"
        git = "--since=midnight" if amount == 0 else "--since=yesterday --until=midnight"
        journal = "--since today" if amount == 0 else "--since yesterday --until today"
        shown = "today" if amount == 0 else "yesterday"
    else:
        sign = "-" if kind == "within" else "+"
        find = f"-mmin {sign}{amount * minutes}" if minutes else f"-mtime {sign}{amount * days}"
        git = f"--since={ago}" if kind == "within" else f"--until={ago}"
        journal = f"--since {ago}" if kind == "within" else f"--until {ago}"
        span = plural if amount == 1 else f"{amount} {plural}"
        shown = f"{'last' if kind == 'within' else 'older than'} {span}"
    return SlotValue(shown, forms_of(**{"": find, "git": git, "journal": journal}))


def _amount_unit(tokens: tuple[Token, ...], j: int) -> tuple[int, str, int] | None:
    """(amount, unit word, tokens used) for "7 days", "a week", "24h", or a bare "week"."""
    if j >= len(tokens):
        return None
    norm = tokens[j].norm
    if norm in vocab.TIME_UNITS and len(norm) > 1:
        return 1, norm, 1
    amount = number(norm)
    if amount is not None and j + 1 < len(tokens) and tokens[j + 1].norm in vocab.TIME_UNITS:
        return amount, tokens[j + 1].norm, 2
    m = NUM_UNIT.match(norm)
    if m and m.group(2) in vocab.TIME_UNITS and "." not in m.group(1):
        return int(m.group(1)), m.group(2), 1
    return None


def time(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    j = i
    if tokens[j].norm in {"in", "within", "from", "during", "over", "since", "for"}:
        j += 1
        if j < len(tokens) and tokens[j].norm == "the":
            j += 1
    if j >= len(tokens):
        return None
    norm = tokens[j].norm
    if norm in {"today", "yesterday"}:
        return SlotHit(i, j + 1, _time_value("day", 0 if norm == "today" else 1, "day"), rank=0)
    if norm in {"last", "past", "previous", "recent", "this"}:
        got = _amount_unit(tokens, j + 1)
        if got and got[0] > 0:
            return SlotHit(i, j + 1 + got[2], _time_value("within", got[0], got[1]), rank=0)
    if j == i and phrase_at(tokens, i, ("older", "than")):
        got = _amount_unit(tokens, i + 2)
        if got:
            return SlotHit(i, i + 2 + got[2], _time_value("older", got[0], got[1]), rank=0)
    if j == i and phrase_at(tokens, i, ("more", "than")):
        got = _amount_unit(tokens, i + 2)
        end = i + 2 + got[2] if got else 0
        if got and end < len(tokens) and tokens[end].norm in {"ago", "old"}:
            return SlotHit(i, end + 1, _time_value("older", got[0], got[1]), rank=0)
    return None



def count(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    start = i
    if tokens[i].norm in (spec.after or ("top", "first", "last", "latest", "newest", "recent")):
        i += 1
    if i >= len(tokens):
        return None
    amount = number(tokens[i].norm) if tokens[i].norm not in {"a", "an"} else None
    if amount is None or not 0 < amount <= 100000:
        return None
    value = SlotValue(str(amount), {"": str(amount), "plus1": str(amount + 1)})
    return SlotHit(start, i + 1, value, rank=0 if start < i else 1)


def port(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    j, number = i, None
    if tokens[i].norm in {"port", "ports"}:
        j = i + 2 if i + 1 < len(tokens) and tokens[i + 1].norm == "number" else i + 1
        if j < len(tokens):
            norm = tokens[j].norm.lstrip(":")
            number = int(norm) if is_int(norm) and len(norm) <= 5 else None
    elif m := PORT_TOKEN.match(tokens[i].norm):
        number = int(m.group(1))
    if number is None or not 0 < number < 65536:
        return None
    return SlotHit(i, j + 1, SlotValue(str(number), {"": str(number)}), rank=0)
