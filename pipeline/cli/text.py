"""The request's text: from -p, from the words, or from stdin when it is piped.

Light on purpose (no settings, no pipeline): the request path of `caro` imports it.
"""

from __future__ import annotations

import sys

from pipeline.errors import usage_error

# Enough to hold the longest text the parse stage accepts, in any UTF-8 encoding of it; more
# than that is never read, so a huge pipe cannot exhaust memory.
STDIN_LIMIT = 4 * 128 * 1024 + 4


def read_text(words: list[str] | None, prompt: str | None = None, *, what: str = "request") -> str:
    """The text from -p, from the words, or from stdin when it is piped.

    Undecodable bytes are kept as surrogates so the parse stage reports them as invalid UTF-8.
    """
    if prompt is not None and words:
        raise usage_error(f"give the {what} either as words or with -p, not both")
    if prompt is not None:
        return prompt
    if words:
        return " ".join(words)
    if sys.stdin is None or sys.stdin.isatty():
        raise usage_error(f"no {what} given", hint='caro "find python files modified last week"')
    data = sys.stdin.buffer.read(STDIN_LIMIT)
    return data.decode("utf-8", errors="surrogateescape")


def stdin_has_text() -> bool:
    """Whether the text can come from stdin (it is piped, not a terminal)."""
    return sys.stdin is not None and not sys.stdin.isatty()
