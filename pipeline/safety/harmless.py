"""Whether one command is known harmless (tier 1), and if not, the reason a user can act on.

The check is the allow-list's: utility and subcommand known, every option listed, every word
known before it runs (or harmless whatever it holds), writes only inside the working directory
or /tmp, no script file caro cannot see, no inline code caro cannot read, and no variable set
that changes what other programs run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.safety.allow import DEFAULT_WRITE_TARGETS, FORBIDDEN_WRITES, REDIRECT_TARGETS, AllowEntry, AllowList, shown
from pipeline.safety.rules import Subject
from pipeline.safety.targets import Target
from pipeline.shell.unwrap import INTERPRETERS, SHELLS, interpreter
from pipeline.shell.words import is_dynamic

# Programs run by path from these folders are the system's own; any other path is a program
# caro has never seen (`./rm` is not rm).
STANDARD_BINS = ("/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/", "/usr/local/sbin/", "/opt/homebrew/bin/", "/usr/libexec/")
# Variables that change what other programs load or run, or what the shell records.
SENSITIVE = re.compile(
    r"(LD_\w+|DYLD_\w+|PATH|BASH_ENV|ENV|PROMPT_COMMAND|IFS|PS4|SHELLOPTS|BASHOPTS|GLOBIGNORE|GIT_\w+|EDITOR|VISUAL|PAGER|"
    r"MANPAGER|LESSOPEN|LESSCLOSE|PYTHON\w+|NODE_OPTIONS|NODE_PATH|PERL5\w+|PERLLIB|RUBYOPT|RUBYLIB|HIST\w+|BROWSER|"
    r"\w*ASKPASS|HOSTALIASES|RESOLV_\w+|SSL_\w+|\w+_proxy|\w+_PROXY)"
)
NETWORK_SENDERS = frozenset({"ssh", "nc", "ncat", "netcat", "socat", "telnet", "scp", "sftp", "mail", "mailx", "sendmail", "curl", "wget"})
DECLARERS = frozenset({"export", "declare", "typeset", "local", "readonly", "env"})
SAFE_MODULES = frozenset({"json.tool", "calendar", "this", "uuid", "platform", "sysconfig", "timeit", "tabnanny", "py_compile", "tokenize", "pydoc", "site", "zipfile", "tarfile", "gzip", "base64", "quopri", "filecmp", "unicodedata", "webbrowser"})


def understood(subject: Subject, allow: AllowList, *, functions: Iterable[str] = (), code_reason: str | None = None) -> str | None:
    """None when the command is known harmless; otherwise why caro cannot call it so."""
    inv = subject.invocation
    if not inv.argv:
        return None
    name = inv.name
    if is_dynamic(name):
        return f"caro cannot tell what {shown(name)} runs"
    if inv.program is not None and not inv.program.startswith(STANDARD_BINS) and name not in functions:
        return "It runs a program by its path, outside the system's own folders; caro cannot see what it does"
    if name in functions:
        return None  # the function's body is judged where it is defined
    options = subject.options
    words = (*options.subcommand, *options.operands)  # `systemctl status x`: a subcommand parsed as operands
    entry, used = allow.lookup(name, words[:3])
    if entry is None:
        if words and allow.knows(name):
            return f"caro does not know what {shown(name)} {shown(words[0])} does, so it cannot call it harmless"
        return f"caro does not know what {shown(name)} does, so it cannot call it harmless"
    if not used and words and entry.max_operands == 0:
        return f"caro does not know what {shown(name)} {shown(words[0])} does, so it cannot call it harmless"
    base = allow.entries.get(name) if used else None
    reason = _flags(entry, base, subject) or _words(entry, subject, words[used:]) or _writes(entry, subject)
    if reason is None and name in DECLARERS:
        reason = assignments_ok(w for w in inv.argv[1:] if "=" in w)
    if reason is None and name == "git":
        reason = _git_settings(inv.argv[1:])
    if reason:
        return reason
    if entry.code is not None and code_reason is not None:
        return code_reason
    family = interpreter(name)
    if inv.script_file is not None and (family in SHELLS or family in INTERPRETERS or name in ("source", ".")):
        return "It runs a script file; caro cannot see what the script does"
    if inv.script_input:
        return "It runs code from its input or from text built when it runs, which caro cannot see"
    if inv.module is not None and inv.module not in SAFE_MODULES:
        if inv.module != "venv" or not all(write_ok(subject, w, DEFAULT_WRITE_TARGETS) for w in options.operands[1:]):
            return f"It runs the Python module {shown(inv.module)}, which caro does not know"
    if name in NETWORK_SENDERS and subject.fed_by:
        return "It sends what the commands before it print to another machine"
    return None


def _flags(entry: AllowEntry, base: AllowEntry | None, subject: Subject) -> str | None:
    name = entry.name
    for flag in sorted(subject.options.flags):
        if entry.any_flag and flag not in entry.deny_flags:
            continue
        if flag in entry.flags or (base is not None and flag in base.flags and flag not in entry.deny_flags):
            continue
        return f"caro does not know {shown(name)} with the option {shown(flag)} to be harmless"
    return None


def _words(entry: AllowEntry, subject: Subject, operands: tuple[str, ...]) -> str | None:
    args = subject.invocation.argv[1:]
    if not entry.dynamic:
        for word in args:
            if is_dynamic(word):
                return f"caro cannot tell what {shown(word)} holds here, so it cannot call this harmless"
    if entry.max_operands is not None and len(operands) > entry.max_operands:
        return f"caro knows {shown(entry.name)} as harmless only with at most {entry.max_operands} operand(s)"
    if entry.operands_all and not all(any(p.fullmatch(w) for p in entry.operands_all) for w in operands):
        return f"caro does not know {shown(entry.name)} with these operands to be harmless"
    if entry.operands_none and any(p.fullmatch(w) for p in entry.operands_none for w in operands):
        return f"caro does not know {shown(entry.name)} with these operands to be harmless"
    return None


_RESTRICTIVE = re.compile(r"0?[0-7]00|[ugoa]*-[rwxXst]+(?:,[ugoa]*-[rwxXst]+)*|go=|og=|u=r?w?x?")


def _writes(entry: AllowEntry, subject: Subject) -> str | None:
    operands = subject.options.operands
    if entry.name == "chmod" and operands and _RESTRICTIVE.fullmatch(operands[0]):
        # Taking permissions away exposes nothing: `chmod 600 ~/.ssh/id_rsa` is what ssh asks for.
        allowed = entry.write_targets | {Target.SECRET, Target.ACCESS, Target.ABSOLUTE}
        if all(not subject.classes([w]) & (FORBIDDEN_WRITES - {Target.SECRET, Target.ACCESS}) for w in operands[1:]):
            return None if all(subject.classes([w]) & allowed for w in operands[1:]) else _outside(entry)
    for source in entry.writes:
        source, _, condition = source.partition("@")
        if condition and condition not in subject.options.flags:
            continue
        words = [w for w in subject.words_from(source) if w]  # BSD `sed -i ''`: an empty suffix, not a file
        if not words and source == "last_operand":
            continue
        for word in words:
            if not write_ok(subject, word, entry.write_targets):
                return _outside(entry)
    return None


# git settings that only change how git looks or who commits; any other key may name a program.
_GIT_HARMLESS = ("color.", "user.name", "user.email", "advice.", "log.", "format.", "column.", "core.quotepath", "core.autocrlf", "init.defaultbranch", "pull.rebase", "pull.ff", "push.default", "push.autosetupremote", "i18n.", "merge.conflictstyle", "diff.renames", "diff.algorithm", "diff.colormoved", "branch.sort", "tag.sort", "status.", "fetch.prune", "rebase.autostash", "help.autocorrect")


def _git_settings(args: tuple[str, ...]) -> str | None:
    """`git -c KEY=VALUE ...` and `git config KEY VALUE`: only keys that cannot run anything."""
    keys = [args[i + 1].split("=", 1)[0] for i, w in enumerate(args[:-1]) if w == "-c"]
    if "config" in args:
        rest = [w for w in args[args.index("config") + 1 :] if not w.startswith("-")]
        if len(rest) >= 2:
            keys.append(rest[0])
    for key in keys:
        if not key.lower().startswith(_GIT_HARMLESS):
            return f"caro does not know what the git setting {shown(key)} does; some settings name a program to run"
    return None


def _outside(entry: AllowEntry) -> str:
    return f"{shown(entry.name)} writes outside the working directory and /tmp here; caro asks before that"


def write_ok(subject: Subject, word: str, allowed: frozenset[Target]) -> bool:
    """Whether writing `word` stays inside what `allowed` names and never touches a forbidden class."""
    classes = subject.classes([word])
    return not classes & FORBIDDEN_WRITES and bool(classes & allowed)


def redirects_ok(subject: Subject) -> str | None:
    """Why the command's output redirects are not harmless, or None."""
    for target in subject.redirect_out:
        if not write_ok(subject, target, REDIRECT_TARGETS):
            return "It writes (with >) outside the working directory and /tmp; caro asks before that"
    return None


def assignments_ok(words: Iterable[str]) -> str | None:
    """Why `NAME=value` assignments are not harmless (a variable that changes other programs), or None."""
    for word in words:
        name = word.split("=", 1)[0]
        if SENSITIVE.fullmatch(name):
            return f"It sets {shown(name)}, which changes what other programs load or run"
    return None
