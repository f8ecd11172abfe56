"""Slots: the parts of a command the user must fill in (`cat <file>`, `cp -p <source> <dest>`).

A request that names no file ("show file contents", "copy a file keeping its attributes") has
no honest complete answer: any name caro wrote would be invented. The answer is then a
template whose slots say what goes where, the way manual pages and tldr write them. A slot is
a lowercase word in angle brackets standing as a whole word (or the start of one, as in
`<name>.txt`): `<file>`, `<dir>`, `<pattern>`, `<search-term>`.

In shell syntax `<file>` is two redirections, so a template never runs as it stands: caro
shows it and says what to fill in (`pipeline.execute.decide`), and the linters and the safety
validator read each slot as an operand they cannot see (`opaque`), as they read `"$VAR"`.
Only caro's own answers (the table's, the model's) have slots; a command the user typed or
pasted is judged as the shell would read it.

Light on purpose: the client imports it to decide whether a command may run.
"""

from __future__ import annotations

import re

# A slot stands alone: after the start, a space, a quote, `=`, `:`, `@` or `/` (`--file=<file>`, `user@<host>`, `logs/<file>`),
# and before the end, a space, a quote, `/`, `.`, `,`, `;`, `|`, `&` or `)`. A here-document (`<<EOF>`),
# process substitution (`<(...)`) and comparisons (`a<b>c`) are not slots.
SLOT = re.compile(r"(?:(?<=^)|(?<=[\s'\"=:@/]))<([a-z][a-z0-9]*(?:[-_][a-z0-9]+)*)>(?=$|[\s'\"/.,;|&)])")

_MAX_NAME = 24


def slots(command: str | None) -> tuple[str, ...]:
    """The names of the slots in `command`, in order of first appearance, each once."""
    if not command or "<" not in command:
        return ()
    names = (m.group(1) for m in SLOT.finditer(command) if len(m.group(1)) <= _MAX_NAME)
    return tuple(dict.fromkeys(names))


def variable(name: str) -> str:
    """The shell variable that stands for slot `name` when a slot is read as shell."""
    return "CARO_SLOT_" + re.sub(r"[^a-z0-9]", "_", name).upper()


def _quoting(command: str) -> list[str]:
    """The quote in force before each character of `command`: "", "'" or '"'."""
    states, quote, escaped = [], "", False
    for ch in command:
        states.append(quote)
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote == "" and ch in "'\"":
            quote = ch
        elif ch == quote:
            quote = ""
    return states


def opaque(command: str) -> str:
    """`command` with each slot written as a quoted variable, an operand no checker can see
    through: `cat <file>` is read as `cat "$CARO_SLOT_FILE"` (and `'<dir>'` as `''"$CARO_SLOT_DIR"''`)."""
    if "<" not in command:
        return command
    quoting = _quoting(command)

    def expansion(match: re.Match[str]) -> str:
        if len(match.group(1)) > _MAX_NAME:
            return match.group(0)
        name = variable(match.group(1))
        quote = quoting[match.start()]
        if quote == '"':
            return f"${{{name}}}"
        if quote == "'":  # close the single quotes around it, or it would be read as literal text
            return f"'\"${{{name}}}\"'"
        return f'"${{{name}}}"'

    return SLOT.sub(expansion, command)


def filled(command: str, values: dict[str, str]) -> str:
    """`command` with each slot written as its value in `values`, quoted for where it stands
    (`cat <file>` with file=`my notes.txt`: `cat 'my notes.txt'`; inside quotes, as it is)."""
    import shlex

    quoting = _quoting(command)

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            return match.group(0)
        return values[name] if quoting[match.start()] else shlex.quote(values[name])

    return SLOT.sub(value, command)


def as_slot(command: str, word: str, name: str) -> str:
    """`command` with each unquoted shell word `word` (also as ./word or word/) written as the
    slot <name>: `awk '{print $1}' text` becomes `awk '{print $1}' <file>`; quoted text and
    longer words that contain it (`text.txt`, `$text`) are left as they are."""
    return replace_word(command, word, f"<{name}>")


def replace_word(command: str, word: str, replacement: str) -> str:
    """`command` with each unquoted shell word `word` (also as ./word or word/) written as `replacement`."""
    quoting = _quoting(command)
    pattern = re.compile(r"(?<![^\s;|&()])(?:\./)?" + re.escape(word) + r"/?(?![^\s;|&()])")
    return pattern.sub(lambda m: m.group(0) if quoting[m.start()] else replacement, command)


def fill_in_text(names: tuple[str, ...]) -> str:
    """`<file>`, `<source> and <dest>`, `<a>, <b> and <c>`: the slots as a user reads them."""
    shown = [f"<{name}>" for name in names]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]
