"""What a command line knows as it runs: variables it set, where `cd` took it, what it downloaded.

`x=/etc; rm -rf $x` deletes /etc and `cd / && rm -rf *` deletes everything: judging each simple
command alone misses both. A Scope is filled in source order, so each command is judged with
the values that hold when it runs. Where the value is not certain (a `cd` that may fail or runs
in a subshell), every possibility is kept and the worst one decides.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from pipeline.safety.flags import Options
from collections.abc import Sequence

from pipeline.shell.script import Assignment, Redirect
from pipeline.shell.unwrap import Invocation
from pipeline.shell.words import DYNAMIC, is_dynamic

UNKNOWN_DIR = f"{DYNAMIC}$__CARO_CWD{DYNAMIC}"  # a directory only known when the command runs
_VARIABLE = re.compile(f"{DYNAMIC}\\$([A-Za-z_][A-Za-z0-9_]*){DYNAMIC}")
_SHELL_VARS = frozenset({"SHELL", "BASH", "0"})
MAX_CWDS = 8  # directories tracked per line; past that the directory is unknown
DOWNLOADERS = frozenset({"curl", "wget", "fetch", "aria2c", "http", "https", "lwp-download", "axel"})
_WORD = re.compile(r"[^/?#]+")


@dataclass
class Scope:
    """Variables, working directories and downloaded files at one point of a command line."""

    cwds: list[str | None]
    home: str | None
    values: dict[str, str] = field(default_factory=dict)  # last static value of each variable
    history: dict[str, list[str]] = field(default_factory=dict)  # every value assigned, static or not
    downloads: set[str] = field(default_factory=set)  # names of files written by downloaders
    choices: dict[str, list[str]] = field(default_factory=dict)  # the values a loop variable takes in turn
    scripts: dict[str, str] = field(default_factory=dict)  # files this line wrote with known text

    def assign(self, assignment: Assignment) -> None:
        value = assignment.value
        self.history.setdefault(assignment.name, []).append(value)
        if assignment.choice:
            if is_dynamic(value):
                self.choices.pop(assignment.name, None)
                self.values.pop(assignment.name, None)
                return
            self.values.pop(assignment.name, None)
            self.choices.setdefault(assignment.name, []).append(value)
            return
        self.choices.pop(assignment.name, None)
        if is_dynamic(value):
            self.values.pop(assignment.name, None)
        else:
            self.values[assignment.name] = value

    def resolve(self, argv: tuple[str, ...]) -> tuple[str, ...]:
        """`argv` with every variable whose value the line itself set replaced by that value."""
        if not any(DYNAMIC in w for w in argv):
            return argv
        out: list[str] = []
        for position, word in enumerate(argv):
            if DYNAMIC not in word:
                out.append(word)
                continue
            whole = _VARIABLE.fullmatch(word)
            looped = [m.group(1) for m in _VARIABLE.finditer(word) if m.group(1) in self.choices]
            if looped:  # a loop variable: every value it takes, as if each iteration were written out
                out.extend(word.replace(f"{DYNAMIC}${looped[0]}{DYNAMIC}", choice) for choice in self.choices[looped[0]])
                continue
            value = self._value(whole.group(1), position == 0) if whole else None
            separators = " \t\n" + self.values.get("IFS", "")
            if whole and value is not None and any(ch in value for ch in separators):
                # Unquoted or not, the words it may split into are judged (IFS included).
                out.extend(w for w in re.split("[" + re.escape(separators) + "]+", value) if w)
                continue
            out.append(_VARIABLE.sub(lambda m: self._known(m, position == 0), word))
        return tuple(out)

    def _value(self, name: str, command_word: bool) -> str | None:
        if name in self.values:
            return self.values[name]
        if name == "HOME" and self.home:
            return self.home
        if name == "PWD" and len(self.cwds) == 1 and self.cwds[0] and DYNAMIC not in self.cwds[0]:
            return self.cwds[0]
        if command_word and name in _SHELL_VARS:
            return "sh"  # `curl x | $SHELL`: a shell, whichever it is
        return None

    def _known(self, match: re.Match[str], command_word: bool) -> str:
        value = self._value(match.group(1), command_word)
        return match.group() if value is None else value

    def change_directory(self, inv: Invocation) -> None:
        """Follow `cd DIR`, `pushd DIR` and `popd`: later relative paths may be inside any of them."""
        if inv.name not in ("cd", "pushd", "popd", "chdir"):
            return
        operands = [w for w in inv.argv[1:] if not w.startswith("-") or w == "-"]
        target = operands[0] if operands else ("~" if inv.name != "popd" else None)
        new: list[str | None] = []
        for cwd in self.cwds:
            new.append(self._join(cwd, target))
        for directory in new:
            if directory not in self.cwds:
                self.cwds.append(directory)
        if len(self.cwds) > MAX_CWDS:
            self.cwds[:] = [UNKNOWN_DIR]

    def _join(self, cwd: str | None, target: str | None) -> str:
        if target is None or target == "-" or is_dynamic(target):
            return UNKNOWN_DIR
        if target == "~" or target.startswith("~/"):
            return posixpath.normpath((self.home or "/home/~") + target[1:])
        if target.startswith("/"):
            return posixpath.normpath(target)
        if cwd is None or DYNAMIC in cwd:
            return UNKNOWN_DIR
        return posixpath.normpath(posixpath.join(cwd, target))

    def note_download(self, inv: Invocation, options: Options, redirect_out: tuple[str, ...]) -> None:
        """Remember the files a downloader writes: `-o FILE`, `-O` (the URL's name), `> FILE`."""
        if inv.name not in DOWNLOADERS:
            return
        values = options.values
        names = [*values.get("-o", ()), *values.get("-O", ()), *values.get("--output-document", ()), *redirect_out]
        by_url = "-O" in options.flags if inv.name == "curl" else not values.get("-O")
        if by_url or "--remote-name" in options.flags:
            names.extend(_url_name(w) for w in options.operands if "://" in w)
        for name in names:
            if name and name != "-":
                self.downloads.add(posixpath.basename(name.rstrip("/")))

    def note_script(self, inv: Invocation, redirects: Sequence[Redirect], written: tuple[str, ...]) -> None:
        """Remember what `echo TEXT > f`, `printf TEXT > f` and `cat > f <<EOF` write, in case `f` is run next."""
        if not written:
            return
        text = None
        if inv.name in ("echo", "printf"):
            text = " ".join(w for w in inv.argv[1:] if not w.startswith("-")).replace("\\n", "\n")
        elif inv.name in ("cat", "tee"):
            text = next((r.target for r in redirects if r.op in ("<<", "<<-", "<<<")), None)
        if text is not None and not is_dynamic(text):
            for name in written:
                self.scripts[posixpath.basename(name)] = text

    def script_text(self, inv: Invocation) -> tuple[str, ...]:
        """The text of a file this line wrote, when the command runs it (`sh f`, `./f`, `. f`)."""
        names = [w for w in (inv.script_file, inv.program) if w]
        return tuple(self.scripts[n] for n in (posixpath.basename(w) for w in names) if n in self.scripts)

    def downloaded(self, word: str | None) -> bool:
        """Whether `word` names a file this line downloaded."""
        return word is not None and posixpath.basename(word) in self.downloads


def _url_name(url: str) -> str:
    path = url.split("://", 1)[1].split("?", 1)[0].split("#", 1)[0]
    parts = [p for p in path.split("/")[1:] if p]
    return parts[-1] if parts else "index.html"
