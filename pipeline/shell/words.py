"""Shell words rendered as the shell sees them before expansion, with markers for dynamic parts."""

from __future__ import annotations

import re

import tree_sitter

# Marks the parts of a word only the running shell can know. NUL can never occur in a real
# argument, so a marked word cannot be confused with literal text.
DYNAMIC = "\x00"
CMDSUB_MARK = f"{DYNAMIC}$__CARO_CMDSUB{DYNAMIC}"  # $(...) or backticks
PROCSUB_MARK = f"{DYNAMIC}$__CARO_PROCSUB{DYNAMIC}"  # <(...) or >(...)
EXPR_MARK = f"{DYNAMIC}$__CARO_EXPR{DYNAMIC}"  # ${x:-y}, $((...)) and other computed parts

_DQ_ESCAPABLE = frozenset('$`"\\\n')
_ANSI_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}


def is_dynamic(word: str) -> bool:
    """Whether a rendered word has a part that is only known when the shell runs it."""
    return DYNAMIC in word


def strip_markers(word: str) -> str:
    """The word as shell text again: markers removed, so `$HOME` reads as a variable."""
    return word.replace(DYNAMIC, "")


def render_word(node: tree_sitter.Node, src: bytes) -> str:
    """The text of one word node with quotes removed, escapes resolved and expansions marked."""
    kind = node.type
    text = src[node.start_byte : node.end_byte].decode("utf-8", "replace")
    if kind == "word":
        return _unescape_plain(text)
    if kind == "raw_string":
        return text[1:-1]
    if kind == "number":
        return text
    if kind == "ansi_c_string":
        return _unescape_ansi(text[2:-1])
    if kind in ("string", "translated_string"):
        return _render_parts(node, src, double_quoted=True)
    if kind in ("concatenation", "command_name"):
        return _render_parts(node, src, double_quoted=False)
    if kind == "variable_assignment":
        return _render_parts(node, src, double_quoted=False)
    if kind == "simple_expansion":
        return f"{DYNAMIC}{text}{DYNAMIC}" if len(text) < 128 else EXPR_MARK
    if kind == "expansion":
        return _render_expansion(node, src)
    if kind == "command_substitution":
        return CMDSUB_MARK
    if kind == "process_substitution":
        return PROCSUB_MARK
    if kind == "brace_expression":
        return text
    return EXPR_MARK


def _render_expansion(node: tree_sitter.Node, src: bytes) -> str:
    # `${NAME}` is the same as `$NAME`; anything with an operator is computed.
    children = node.children
    if len(children) >= 3 and children[1].type == "variable_name" and (len(children) == 3 or children[2].type in _VALUE_OPS):
        # `${HOME:?}`, `${HOME:-x}`: the variable's own value whenever it is set.
        name = src[children[1].start_byte : children[1].end_byte].decode("utf-8", "replace")
        return f"{DYNAMIC}${name}{DYNAMIC}"
    return EXPR_MARK


_VALUE_OPS = frozenset({":?", "?", ":-", "-", ":=", "="})


def _render_parts(node: tree_sitter.Node, src: bytes, *, double_quoted: bool) -> str:
    """Concatenate the children of a compound word, keeping the literal text between them."""
    start, end = node.start_byte, node.end_byte
    if double_quoted:
        # Skip `"` or `$"` at the start and `"` at the end.
        start = start + (2 if src[start : start + 1] == b"$" else 1)
        end = max(start, end - 1)
    parts: list[str] = []
    pos = start
    for child in node.children:
        kind = child.type
        if kind in ('"', "$\"") or child.start_byte < pos:
            continue
        if child.start_byte > pos:
            gap = src[pos : child.start_byte].decode("utf-8", "replace")
            parts.append(_unescape_double(gap) if double_quoted else _unescape_plain(gap))
        if kind == "string_content":
            parts.append(_unescape_double(src[child.start_byte : child.end_byte].decode("utf-8", "replace")))
        elif kind == "variable_name":
            parts.append(src[child.start_byte : child.end_byte].decode("utf-8", "replace"))
        elif kind == "=":
            parts.append("=")
        else:
            parts.append(render_word(child, src))
        pos = child.end_byte
    if pos < end:
        gap = src[pos:end].decode("utf-8", "replace")
        parts.append(_unescape_double(gap) if double_quoted else _unescape_plain(gap))
    return "".join(parts)


def _unescape_plain(text: str) -> str:
    """Resolve backslash escapes outside quotes: `\\x` is `x`, backslash-newline disappears."""
    return _unescape(text, None)


def _unescape_double(text: str) -> str:
    """Resolve backslash escapes inside double quotes, where only $ ` \" \\ and newline are special."""
    return _unescape(text, _DQ_ESCAPABLE)


def _unescape(text: str, escapable: frozenset[str] | set[str] | str | None) -> str:
    """`text` with each backslash before an escapable character (any, when None) resolved."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and (escapable is None or text[i + 1] in escapable):
            if text[i + 1] != "\n":
                out.append(text[i + 1])
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _unescape_ansi(text: str) -> str:
    """Decode the body of a `$'...'` string (the common escapes; others are kept as written)."""
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "\\" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt in _ANSI_ESCAPES:
            out.append(_ANSI_ESCAPES[nxt])
            i += 2
        elif nxt == "x":
            digits = _take(text, i + 2, 2, "0123456789abcdefABCDEF")
            out.append(chr(int(digits, 16)) if digits else "\\x")
            i += 2 + len(digits)
        elif nxt in "01234567":
            digits = _take(text, i + 1, 3, "01234567")
            out.append(chr(int(digits, 8)))
            i += 1 + len(digits)
        else:
            out.append(ch + nxt)
            i += 2
    return "".join(out)


def _take(text: str, start: int, limit: int, allowed: str) -> str:
    end = start
    while end < len(text) and end - start < limit and text[end] in allowed:
        end += 1
    return text[start:end]


# tree-sitter-bash 0.25.1's scanner crashes the process on some code points above U+2FFFF
# (e.g. `{` followed by U+E0001; found by the hypothesis test). No shell syntax uses those
# planes (private use, tags), so they are replaced before parsing by a character of the same
# UTF-8 length; lone surrogates likewise. Byte offsets therefore still match the input.
_UNSAFE = re.compile("[\ud800-\udfff\U00030000-\U0010ffff]")


def _safe_char(match: re.Match[str]) -> str:
    return "\ufffd" if match.group() <= "\udfff" else "\U00010000"


def parser_safe(command: str) -> str:
    """`command` with the code points that crash tree-sitter-bash replaced (same UTF-8 length)."""
    return _UNSAFE.sub(_safe_char, command) if _UNSAFE.search(command) else command


_WORD_BREAK = frozenset(" \t\n;&|()<>")


def join_continuations(text: str) -> str:
    """`text` with every backslash-newline removed where bash removes it (outside single quotes and comments).

    Bash joins `r\\<newline>m` into `rm` before it splits words; tree-sitter-bash reads the pair
    as a word break, so `command r\\<newline>m -rf /` would otherwise look like `command r m`.
    """
    if "\\\n" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    quote = ""  # "'", '"' or "$'" while inside that quoting
    while i < n:
        ch = text[i]
        if quote == "'":
            out.append(ch)
            quote = "" if ch == "'" else quote
            i += 1
            continue
        if ch == "\\" and i + 1 < n:
            if text[i + 1] == "\n" and quote != "$'":
                i += 2
                continue
            out.append(text[i : i + 2])
            i += 2
            continue
        if quote:
            if (quote == '"' and ch == '"') or (quote == "$'" and ch == "'"):
                quote = ""
        elif ch == "'":
            quote = "$'" if out and out[-1].endswith("$") else "'"
        elif ch == '"':
            quote = '"'
        elif ch == "#" and (not out or out[-1][-1:] in _WORD_BREAK):
            end = text.find("\n", i)
            end = n if end < 0 else end
            out.append(text[i:end])
            i = end
            continue
        out.append(ch)
        i += 1
    return "".join(out)


MAX_BRACE_WORDS = 256  # a brace expansion yielding more words than this is judged as unknown


def expand_braces(word: str) -> list[str] | None:
    """The words bash's brace expansion makes of an unquoted word (`{/,x}` -> `/`, `x`); None past the limit."""
    found: list[str] = []
    pending = [word]
    while pending:
        current = pending.pop()
        split = _first_brace(current)
        if split is None:
            found.append(current)
            if len(found) > MAX_BRACE_WORDS:
                return None
            continue
        start, end, alternatives = split
        if len(alternatives) > MAX_BRACE_WORDS:
            return None
        pending.extend(current[:start] + alt + current[end + 1 :] for alt in reversed(alternatives))
        if len(pending) > MAX_BRACE_WORDS:
            return None
    return found


def _first_brace(word: str) -> tuple[int, int, list[str]] | None:
    """The first `{...}` of `word` that bash expands: its span and its alternatives."""
    start = word.find("{")
    while start >= 0:
        depth, parts, last = 0, [], start + 1
        for pos in range(start, len(word)):
            ch = word[pos]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    parts.append(word[last:pos])
                    alternatives = parts if len(parts) > 1 else _sequence(parts[0])
                    if alternatives is not None:
                        return start, pos, alternatives
                    break
            elif ch == "," and depth == 1:
                parts.append(word[last:pos])
                last = pos + 1
        start = word.find("{", start + 1)
    return None


_SEQUENCE = re.compile(r"(-?\d+|[A-Za-z])\.\.(-?\d+|[A-Za-z])(?:\.\.(-?\d+))?")


def _sequence(body: str) -> list[str] | None:
    """`1..5`, `a..e` and `0..10..2` as bash expands them; None when `body` is not a sequence."""
    match = _SEQUENCE.fullmatch(body)
    if match is None:
        return None
    first, last, step_text = match.groups()
    step = abs(int(step_text)) if step_text and step_text.lstrip("-").isdigit() and int(step_text) else 1
    if first.lstrip("-").isdigit() and last.lstrip("-").isdigit():
        a, b = int(first), int(last)
        if abs(b - a) // step > MAX_BRACE_WORDS:
            return [first] * (MAX_BRACE_WORDS + 1)  # over the limit: the caller gives up
        values = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
        return [str(v) for v in values]
    if first.isdigit() or last.isdigit():
        return None
    a, b = ord(first), ord(last)
    values = range(a, b + 1, step) if a <= b else range(a, b - 1, -step)
    return [chr(v) for v in values]
