"""The token stream a request is matched on: words, paths, quoted strings and symbols.

The scanner is a single left-to-right pass; every regular expression here runs over one
whitespace-delimited chunk and has no nested quantifiers, so tokenising is linear in the
length of the request.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import Enum


class TokenKind(str, Enum):
    """What a token is, which decides which slot recognisers may read it."""

    WORD = "word"  # letters and digits: "python", "100mb", "c++", "what's"
    PATH = "path"  # kept whole: "/var/log", "~/src", "*.log", "file.txt", "example.com", ":8080"
    QUOTED = "quoted"  # the text between matching quotes, verbatim
    SYMBOL = "symbol"  # ">", "<"


@dataclass(frozen=True)
class Token:
    """One token: its text as written (for slot values) and its folded form (for matching)."""

    text: str
    norm: str
    kind: TokenKind


_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "`": "`"}
_TRAILING = ",.;:!?)]}"
_LEADING = "([{"
# A chunk is kept whole when it looks like a path, glob, file name, host, address or port.
# ...and IPv4 addresses (10.0.0.1), versions (v2.0, python3.11) and names like x.7z.
_PATHLIKE = re.compile(
    r"^(?:[/~*]|\.{1,2}/|\.[A-Za-z0-9]|:\d)|[/*@]|[A-Za-z0-9]\.[A-Za-z]|^\d+\.\d+\.\d|^[A-Za-z][A-Za-z0-9]*\.\d|[A-Za-z]\.\d+[A-Za-z]"
)
# snake_case names stay one word (node_modules); the group is bounded by the underscore.
_WORDS = re.compile(r"\d+(?:\.\d+)?[A-Za-z]*|[^\W_]+(?:_[^\W_]+)*(?:'[^\W_]+)?(?:\+\+|#)?|[<>]")


def _script(char: str) -> str:
    """The script class of a character, so unspaced CJK text splits where the script changes."""
    if char.isascii():
        return "latin"
    name = unicodedata.name(char, "")
    for script in ("CJK", "HIRAGANA", "KATAKANA", "HANGUL"):
        if name.startswith(script):
            return script
    return "latin" if char.isalnum() else "other"


def _split_scripts(word: str) -> list[str]:
    if word.isascii():
        return [word]
    parts: list[str] = []
    start = 0
    for i in range(1, len(word)):
        # The prolonged sound mark belongs to the katakana word it follows.
        if word[i] != "\u30fc" and _script(word[i]) != _script(word[i - 1]):
            parts.append(word[start:i])
            start = i
    parts.append(word[start:])
    return parts


def _chunk_tokens(chunk: str) -> list[Token]:
    while chunk and chunk[-1] in _TRAILING and chunk not in {".", ".."}:
        chunk = chunk[:-1]
    while chunk and chunk[0] in _LEADING:
        chunk = chunk[1:]
    if not chunk:
        return []
    if chunk[0] in "<>" and len(chunk) > 1 and chunk[1] not in "<>":
        return [Token(chunk[0], chunk[0], TokenKind.SYMBOL), *_chunk_tokens(chunk[1:])]
    if chunk in {".", ".."} or _PATHLIKE.search(chunk):
        return [Token(chunk, chunk.lower(), TokenKind.PATH)]
    tokens: list[Token] = []
    for match in _WORDS.finditer(chunk.replace("\u2019", "'")):
        for part in _split_scripts(match.group()):
            kind = TokenKind.SYMBOL if part in {"<", ">"} else TokenKind.WORD
            tokens.append(Token(part, part.lower(), kind))
    return tokens


def tokenize(request: str) -> tuple[Token, ...]:
    """The tokens of a request, in order."""
    tokens: list[Token] = []
    unclosed: set[str] = set()  # quote characters with no closer left: never search for them again
    i, n = 0, len(request)
    while i < n:
        char = request[i]
        if char.isspace():
            i += 1
            continue
        closer = _QUOTES.get(char)
        if closer is not None and closer not in unclosed:
            end = request.find(closer, i + 1)
            if end == -1:
                unclosed.add(closer)
            else:
                text = request[i + 1 : end]
                if text.strip():
                    tokens.append(Token(text, text.lower(), TokenKind.QUOTED))
                i = end + 1
                continue
        j = i
        while j < n and not request[j].isspace():
            j += 1
        chunk = request[i:j]
        if closer is not None:
            chunk = chunk[1:]
        tokens.extend(_chunk_tokens(chunk))
        i = j
    return tuple(tokens)
