"""Text for a terminal that cannot hide anything: control and invisible characters made visible.

A command holding `ESC [2K` (erase line), a carriage return, a right-to-left override or a
zero-width space shows one thing on a terminal and runs another: `touch X; \\e[2K\\e[1Gls -la`
prints as `ls -la`. `printable` spells every such character as a visible escape (`\\e`, `\\r`,
`\\u202e`), so what is printed is what runs. Newline and tab are kept: they hide nothing.
`hidden_characters` names the kinds present, for the safety validator, which asks before such a
command runs. JSON output keeps the exact text; only plain terminal output goes through here.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["hidden_characters", "printable"]

_NAMED = {"\x1b": "\\e", "\r": "\\r", "\x00": "\\0", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\v": "\\v"}
# Characters that draw nothing or look like something else, beyond the Unicode categories
# handled below: Hangul fillers (letters that render blank), variation selectors, the combining
# grapheme joiner, the Mongolian vowel separator, Khmer inherent vowels.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u034f\u180e\u17b4\u17b5")
_CANDIDATES = re.compile(r"[^\t\n\x20-\x7e]")  # fast path: plain printable ASCII needs no look-up


def _kind(ch: str) -> str | None:
    """Why `ch` must be escaped ('control', 'invisible', 'bidi', 'space'), or None."""
    if ch in "\t\n":
        return None
    code = ord(ch)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return "control"
    if code < 0x7F:
        return None
    if ch in _BLANK_LETTERS or 0xFE00 <= code <= 0xFE0F or 0xE0100 <= code <= 0xE01EF:
        return "invisible"
    category = unicodedata.category(ch)
    if category == "Cf":
        if 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069 or code in (0x200E, 0x200F, 0x061C):
            return "bidi"
        return "invisible"  # zero-width space/joiners, soft hyphen, BOM, tags ...
    if category in ("Zl", "Zp", "Cs", "Co", "Cn"):
        return "invisible"
    if category == "Zs":
        return "space"  # a space that is not U+0020 does not split shell words
    return None


def hidden_characters(text: str) -> frozenset[str]:
    """The kinds of characters in `text` that a terminal would not show as written."""
    kinds: set[str] = set()
    for match in _CANDIDATES.finditer(text):
        kind = _kind(match.group())
        if kind is not None:
            kinds.add(kind)
    return frozenset(kinds)


def _escape(ch: str) -> str:
    named = _NAMED.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    if code <= 0x9F:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """`text` with every control or invisible character written as a visible escape."""
    if not _CANDIDATES.search(text):
        return text
    return _CANDIDATES.sub(lambda m: _escape(m.group()) if _kind(m.group()) else m.group(), text)
