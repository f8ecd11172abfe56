"""Words of one simple command in plain language: flags with their meanings, and redirections."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence

from pipeline.explain.docs import DocSource, UtilityDocs
from pipeline.explain.helptext import ValueKind
from pipeline.explain.model import Option, Redirection
from pipeline.shell import DYNAMIC, Redirect, is_dynamic, strip_markers

# The parser marks what only the running shell knows as DYNAMIC + `$__CARO_<KIND>` + DYNAMIC;
# each kind is spelt the way a person reads it. Matched by pattern, not by the constants, so a
# new kind in pipeline/shell reads as "…" rather than as an internal name.
_STAND_INS = {"CMDSUB": "$(…)", "PROCSUB": "<(…)", "EXPR": "${…}", "INPUT": "{items from input}", "FOUND": "{}"}
_MARK = re.compile(re.escape(DYNAMIC) + r"\$__CARO_([A-Z]+)" + re.escape(DYNAMIC))
_STRIPPED_MARK = re.compile(r"\$__CARO_([A-Z]+)\b")
_AS_WRITTEN = {"{}": "{}", ";": "\\;", "+": "+"}  # find -exec words that need no quotes (or need \)
_FIND_ACTIONS = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_STREAMS = {0: "input", 1: "output", 2: "errors"}


def _stand_in(match: re.Match[str]) -> str:
    return _STAND_INS.get(match.group(1), "…")


def shown(word: str) -> str:
    """A parsed word as shell text: what only the running shell knows stays `$VAR`, `$(…)`, `${…}`."""
    return strip_markers(_MARK.sub(_stand_in, word))


def readable(text: str) -> str:
    """Shell text re-parsed from a script word (`sh -c '...'`), with the markers' stand-ins spelt as above."""
    return _STRIPPED_MARK.sub(_stand_in, text)


def shown_command(argv: Sequence[str]) -> str:
    """Words as one command line, quoted where the shell would need it (dynamic parts left as they are)."""
    return " ".join(shown(w) if is_dynamic(w) else _AS_WRITTEN.get(w) or shlex.quote(w) for w in argv)


def read_options(argv: Sequence[str], docs: UtilityDocs) -> tuple[tuple[Option, ...], tuple[str, ...]]:
    """The flags (with values and meanings) and the other arguments of `argv` (argv[0] is the utility)."""
    reader = _Reader(list(argv[1:]), docs)
    reader.read()
    return tuple(reader.options), tuple(reader.arguments)


class _Reader:
    """Walks the words after the utility's name, using its documentation to tell values from operands."""

    def __init__(self, words: list[str], docs: UtilityDocs) -> None:
        self.words = words
        self.docs = docs
        self.i = 0
        self.options: list[Option] = []
        self.arguments: list[str] = []

    def _add(self, flag: str, value: str | None = None) -> None:
        doc = self.docs.flag(flag)
        self.options.append(
            Option(flag, shown(value) if value is not None else None, doc.meaning if doc else None, doc.source if doc else DocSource.NONE)
        )

    def _take(self) -> str | None:
        """The next word, as the value of the option just read."""
        if self.i >= len(self.words):
            return None
        self.i += 1
        return self.words[self.i - 1]

    def read(self) -> None:
        ended = False
        while self.i < len(self.words):
            word = self._take() or ""
            if ended or word == "-" or not word.startswith("-") or is_dynamic(word):
                self.arguments.append(shown(word))
            elif word == "--":
                ended = True
                self.options.append(Option("--", None, "end of options: the words after it are arguments", DocSource.TABLE))
            elif self.docs.name == "find" and word in _FIND_ACTIONS:
                end = self.i
                while end < len(self.words) and self.words[end] not in (";", "+"):
                    end += 1
                self._add(word, shown_command(self.words[self.i : end + 1]))
                self.i = end + 1
            elif word.startswith("--"):
                flag, eq, attached = word.partition("=")
                doc = self.docs.flag(flag)
                wants = doc is not None and doc.value is ValueKind.REQUIRED
                self._add(flag, attached if eq else (self._take() if wants else None))
            else:
                self._short(word)

    def _short(self, word: str) -> None:
        """`-x` or `-name` (one option), or `-la` and `-n5` (a cluster of letters, the last may take a value)."""
        doc = self.docs.flag(word)
        if doc is not None or len(word) == 2 or self.docs.long_single_dash():
            self._add(word, self._take() if doc is not None and doc.value is ValueKind.REQUIRED else None)
            return
        letters = word[1:]
        for k, letter in enumerate(letters):
            doc = self.docs.flag("-" + letter)
            if doc is not None and doc.value is not ValueKind.NONE:
                rest = letters[k + 1 :]
                self._add("-" + letter, rest or (self._take() if doc.value is ValueKind.REQUIRED else None))
                return
            self._add("-" + letter)


def _stream(fd: int | None, default: int) -> str:
    number = default if fd is None else fd
    return _STREAMS.get(number, f"descriptor {number}")


def redirection(redirect: Redirect) -> Redirection:
    """A redirection and what it does, in words."""
    op, target, fd = redirect.op, shown(redirect.target), redirect.fd
    out = _stream(fd, 1)
    if op in ("<<", "<<-"):
        lines = len(redirect.target.splitlines())
        meaning = f"reads its {_stream(fd, 0)} from the here-document that follows ({lines} line{'s' if lines != 1 else ''})"
        target = "(here-document)"
    elif op == "<<<":
        meaning = f"reads its {_stream(fd, 0)} from the string {target}"
    elif op == "<":
        meaning = f"reads its {_stream(fd, 0)} from the file {target}"
    elif op == "<>":
        meaning = f"opens the file {target} for reading and writing as its {_stream(fd, 0)}"
    elif op in (">&", "<&") and target == "-":
        meaning = f"closes its {_stream(fd, 1 if op == '>&' else 0)}"
    elif op in (">&", "<&") and target.isdigit():
        meaning = f"sends its {_stream(fd, 1 if op == '>&' else 0)} where its {_stream(int(target), 1)} goes"
    elif op in ("&>", "&>>") or op == ">&":
        both = "output and errors"
        meaning = f"discards its {both}" if target == "/dev/null" else (
            f"appends its {both} to the file {target}" if op == "&>>" else f"writes its {both} to the file {target}, replacing it"
        )
    elif target == "/dev/null" and op in (">", ">>", ">|"):
        meaning = f"discards its {out}"
    elif op == ">>":
        meaning = f"appends its {out} to the file {target}"
    elif op in (">", ">|"):
        force = " even if the shell's noclobber option is set" if op == ">|" else ""
        meaning = f"writes its {out} to the file {target}, replacing it{force}"
    else:
        meaning = f"redirects with {op} to {target}"
    return Redirection(op=op, fd=fd, target=target, meaning=meaning)
