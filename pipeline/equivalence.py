"""Command equivalence: whether two shell commands do the same thing, up to spelling.

Two commands are equivalent when they run the same utilities in the same pipeline order with
the same effective flags and operands. Spelling that does not change behaviour is ignored:
flag order, bundling (`-la` = `-l -a`), quoting style (`"*.py"` = `'*.py'` = `\\*.py`), long
vs short spellings of common flags (`--recursive` = `-r`), and for `find` the order of its
test primaries. Used by the tests against the shared suites and by `caro eval`.

This is a spelling normaliser, not a shell interpreter: it never expands variables or globs.
"""

from __future__ import annotations

import shlex
from collections import Counter
from dataclasses import dataclass


# Short options that take an argument, per utility; without this `-n 11` would read as a flag
# and an operand, and `-n11` would not equal `-n 11`.
ARG_FLAGS: dict[str, frozenset[str]] = {
    "head": frozenset({"-n", "-c"}),
    "tail": frozenset({"-n", "-c", "-s"}),
    "sort": frozenset({"-k", "-t", "-o", "-S", "-T"}),
    "du": frozenset({"-d", "-B", "-t"}),
    "grep": frozenset({"-e", "-f", "-m", "-A", "-B", "-C", "-d", "-D"}),
    "cut": frozenset({"-d", "-f", "-c", "-b"}),
    "tar": frozenset({"-f", "-C", "-T", "-X"}),
    "ps": frozenset({"-o", "-p", "-u", "-U", "-C", "-g", "-t"}),
    "ping": frozenset({"-c", "-i", "-W", "-w", "-t", "-s"}),
    "lsof": frozenset({"-i", "-p", "-u", "-c", "-s"}),
    "wget": frozenset({"-O", "-o", "-P", "-t", "-T"}),
    "curl": frozenset({"-o", "-X", "-H", "-d", "-u", "-m", "-w"}),
    "xargs": frozenset({"-n", "-I", "-P", "-d"}),
    "awk": frozenset({"-F", "-v", "-f"}),
    "sed": frozenset({"-e", "-f"}),
    "top": frozenset({"-n", "-l", "-o", "-d", "-p", "-s", "-u"}),
    "journalctl": frozenset({"-p", "-n", "-u", "-S", "-U", "-b", "-o", "-t"}),
    "kubectl": frozenset({"-n", "-o", "-l", "-f", "-c"}),
    "docker": frozenset({"-f", "-n", "-a"}),
    "ssh": frozenset({"-p", "-i", "-l", "-L", "-R", "-o"}),
    "nc": frozenset({"-w", "-p", "-s"}),
    "date": frozenset({"-d", "-v", "-r", "-f"}),
    "stat": frozenset({"-c", "-f"}),
    "uniq": frozenset({"-f", "-s", "-w"}),
    "git log": frozenset({"-n"}),
    "smartctl": frozenset({"-d", "-t"}),
    "openssl x509": frozenset(),
}

# Long options whose argument may follow as a separate word (`--since "1 week ago"`).
LONG_ARG_FLAGS: dict[str, frozenset[str]] = {
    "git log": frozenset({"--since", "--until", "--author", "--format", "--pretty", "--grep", "--max-count"}),
    "git for-each-ref": frozenset({"--sort", "--format", "--count"}),
    "grep": frozenset({"--include", "--exclude", "--exclude-dir", "--regexp", "--max-count"}),
    "head": frozenset({"--lines", "--bytes"}),
    "tail": frozenset({"--lines", "--bytes"}),
    "du": frozenset({"--max-depth", "--block-size"}),
    "sort": frozenset({"--key", "--field-separator", "--output"}),
    "kubectl": frozenset({"--namespace", "--output", "--selector"}),
    "journalctl": frozenset({"--priority", "--lines", "--unit", "--since", "--until"}),
    "ps": frozenset({"--sort"}),
}

_COMMON_LONG = {
    "--recursive": "-r", "--force": "-f", "--verbose": "-v", "--human-readable": "-h",
    "--all": "-a", "--reverse": "-r",
}

# Long spellings mapped to the short flag they equal, for the utilities caro writes most.
FLAG_ALIASES: dict[str, dict[str, str]] = {
    "grep": {
        "--recursive": "-r", "--dereference-recursive": "-R", "--ignore-case": "-i",
        "--line-number": "-n", "--files-with-matches": "-l", "--extended-regexp": "-E",
        "--only-matching": "-o", "--invert-match": "-v", "--count": "-c", "--word-regexp": "-w",
        "--fixed-strings": "-F", "--regexp": "-e", "--max-count": "-m", "--with-filename": "-H",
    },
    "ls": {"--all": "-a", "--almost-all": "-A", "--human-readable": "-h", "--reverse": "-r",
           "--directory": "-d", "--recursive": "-R"},
    "du": {"--human-readable": "-h", "--summarize": "-s", "--max-depth": "-d", "--all": "-a",
           "--total": "-c", "--one-file-system": "-x"},
    "df": {"--human-readable": "-h", "--all": "-a"},
    "sort": {"--reverse": "-r", "--numeric-sort": "-n", "--human-numeric-sort": "-h",
             "--unique": "-u", "--key": "-k", "--field-separator": "-t", "--ignore-case": "-f",
             "--output": "-o"},
    "head": {"--lines": "-n", "--bytes": "-c"},
    "tail": {"--lines": "-n", "--bytes": "-c", "--follow": "-f"},
    "wc": {"--lines": "-l", "--words": "-w", "--bytes": "-c", "--chars": "-m"},
    "uniq": {"--count": "-c", "--repeated": "-d", "--unique": "-u", "--ignore-case": "-i"},
    "tar": {"--create": "-c", "--extract": "-x", "--gzip": "-z", "--verbose": "-v", "--file": "-f",
            "--list": "-t", "--bzip2": "-j", "--xz": "-J", "--directory": "-C"},
    "cp": {"--recursive": "-r", "--force": "-f", "--verbose": "-v", "--interactive": "-i"},
    "mv": {"--force": "-f", "--verbose": "-v", "--interactive": "-i"},
    "rm": {"--recursive": "-r", "--force": "-f", "--verbose": "-v", "--interactive": "-i"},
    "mkdir": {"--parents": "-p", "--verbose": "-v"},
    "curl": {"--remote-name": "-O", "--location": "-L", "--silent": "-s", "--output": "-o",
             "--head": "-I", "--include": "-i", "--fail": "-f"},
    "wget": {"--continue": "-c", "--quiet": "-q", "--output-document": "-O"},
    "free": {"--human": "-h"},
    "uname": {"--all": "-a", "--kernel-release": "-r"},
    "kubectl": {"--namespace": "-n", "--output": "-o", "--selector": "-l"},
    "journalctl": {"--priority": "-p", "--lines": "-n", "--unit": "-u", "--follow": "-f"},
    "cut": {"--delimiter": "-d", "--fields": "-f"},
    "chmod": dict(_COMMON_LONG),
    "chown": dict(_COMMON_LONG),
}

# Flags that change how output is shown in a terminal, not what a command does or prints.
IGNORED_FLAGS: dict[str, frozenset[str]] = {
    "systemctl": frozenset({"--no-pager"}),
    "journalctl": frozenset({"--no-pager"}),
    "git": frozenset({"--no-pager"}),
}

_SEPARATORS = frozenset({"|", "||", "&&", ";", "&", "|&", ";;"})
_REDIRECTS = frozenset({">", ">>", "<", ">&", "<&", "&>", "&>>", "<<", "<<<", ">|"})
_FIND_ARITY = {
    "-name": 1, "-iname": 1, "-type": 1, "-size": 1, "-mtime": 1, "-mmin": 1, "-atime": 1,
    "-amin": 1, "-ctime": 1, "-cmin": 1, "-newer": 1, "-user": 1, "-group": 1, "-perm": 1,
    "-path": 1, "-ipath": 1, "-wholename": 1, "-regex": 1, "-iregex": 1, "-links": 1,
    "-maxdepth": 1, "-mindepth": 1, "-fstype": 1, "-inum": 1, "-samefile": 1, "-printf": 1,
    "-fprint": 1, "-uid": 1, "-gid": 1, "-lname": 1, "-ilname": 1, "-used": 1, "-newermt": 1,
}
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
# Actions have side effects or produce output, so their relative order matters; tests do not.
_FIND_ACTIONS = frozenset({"-print", "-print0", "-ls", "-delete", "-prune", "-quit", "-fls", "-printf", "-fprint"})
_FIND_ACTIONS = _FIND_ACTIONS | _FIND_EXEC


@dataclass(frozen=True)
class _Simple:
    """One simple command reduced to what matters for equivalence."""

    utility: str
    flags: tuple[tuple[str, str], ...]  # sorted multiset of (flag, argument or "")
    operands: tuple[str, ...]  # in order: operand order matters (`cp a b` vs `cp b a`)
    redirects: tuple[tuple[str, str], ...]


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _segments(tokens: list[str]) -> tuple[list[list[str]], list[str]]:
    """Simple commands and the operators between them.

    shlex drops the backslash of `\\;`, so a `;` that ends a pending `find -exec` is taken as
    the terminator find sees, not as a command separator.
    """
    segments: list[list[str]] = [[]]
    operators: list[str] = []
    pending_exec = False
    for tok in tokens:
        current = segments[-1]
        if current and current[0] == "find" and tok in _FIND_EXEC:
            pending_exec = True
        elif pending_exec and tok in {";", "+"}:
            pending_exec = False
            current.append(tok)
            continue
        if tok in _SEPARATORS and not pending_exec:
            operators.append(tok)
            segments.append([])
            continue
        current.append(tok)
    return [s for s in segments if s], operators


def _split_redirects(words: list[str]) -> tuple[list[str], tuple[tuple[str, str], ...]]:
    out: list[str] = []
    redirects: list[tuple[str, str]] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _REDIRECTS and i + 1 < len(words):
            fd = ""
            if out and out[-1].isdigit():
                fd = out.pop()
            redirects.append((fd + word, words[i + 1]))
            i += 2
            continue
        out.append(word)
        i += 1
    return out, tuple(sorted(redirects))


def _canonical_flag(utility: str, flag: str) -> str:
    return FLAG_ALIASES.get(utility, {}).get(flag, flag)


def _generic(utility: str, args: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """Flags and operands of a utility with getopt-style options."""
    arg_flags = ARG_FLAGS.get(utility, frozenset())
    long_args = LONG_ARG_FLAGS.get(utility, frozenset())
    flags: list[tuple[str, str]] = []
    operands: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if arg == "--":
            operands.extend(args[i:])
            break
        if arg.startswith("--") and len(arg) > 2:
            name, eq, value = arg.partition("=")
            if not eq and name in long_args and i < len(args):
                value = args[i]
                i += 1
            flags.append((_canonical_flag(utility, name), value))
            continue
        if arg.startswith("-") and len(arg) > 1 and not arg[1:].isdigit():
            letters = arg[1:]
            for pos, letter in enumerate(letters):
                flag = "-" + letter
                if flag in arg_flags:
                    value = letters[pos + 1 :]
                    if not value and i < len(args):
                        value = args[i]
                        i += 1
                    flags.append((_canonical_flag(utility, flag), value))
                    break
                flags.append((_canonical_flag(utility, flag), ""))
            continue
        if arg.startswith("-") and arg[1:].isdigit() and utility in {"head", "tail"}:
            flags.append(("-n", arg[1:]))  # `head -20` is the historical spelling of `head -n 20`
            continue
        operands.append(arg)
    return flags, operands


def _find(args: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """find's paths (in order) and its expression: tests as a multiset, actions in order."""
    paths: list[str] = []
    i = 0
    while i < len(args) and not (args[i].startswith("-") or args[i] in {"(", "!", "\\("}):
        paths.append(args[i])
        i += 1
    expr = args[i:]
    if "-o" in expr or "-or" in expr:
        # With alternation the grouping carries meaning: compare the expression as written.
        return [("expr", " ".join(expr))], paths or ["."]
    terms: list[tuple[str, str]] = []
    actions: list[str] = []
    negate = ""
    j = 0
    while j < len(expr):
        tok = expr[j]
        j += 1
        if tok in {"-a", "-and"}:
            continue
        if tok in {"!", "-not"}:
            negate = "!"
            continue
        if tok == "(":
            depth, start = 1, j
            while j < len(expr) and depth:
                depth += {"(": 1, ")": -1}.get(expr[j], 0)
                j += 1
            terms.append((negate + "(", " ".join(expr[start : j - 1])))
            negate = ""
            continue
        if tok in _FIND_EXEC:
            start = j
            while j < len(expr) and expr[j] not in {";", "+"}:
                j += 1
            end = expr[j] if j < len(expr) else ""
            actions.append(f"{tok} {' '.join(expr[start:j])} {end}")
            j += 1
            continue
        arity = _FIND_ARITY.get(tok, 0)
        value = " ".join(expr[j : j + arity])
        j += arity
        if tok in _FIND_ACTIONS:
            actions.append(f"{tok} {value}".strip())
        else:
            terms.append((negate + tok, value))
        negate = ""
    flags = terms + [(f"action{n}", a) for n, a in enumerate(actions)]
    # GNU find defaults to `.`; BSD requires it. Treat the omission as `.` for comparison.
    return flags, paths or ["."]


def _grep(args: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    flags, operands = _generic("grep", args)
    names = {f for f, _ in flags}
    has_pattern_flag = "-e" in names or "-f" in names
    if "-i" in names:
        # Case is irrelevant to a case-insensitive search, so compare patterns folded.
        if has_pattern_flag:
            flags = [(f, v.lower()) if f == "-e" else (f, v) for f, v in flags]
        elif operands:
            operands = [operands[0].lower(), *operands[1:]]
    recursive = "-r" in names or "-R" in names
    if recursive and len(operands) == (0 if has_pattern_flag else 1):
        operands.append(".")  # GNU grep -r searches `.` when given no file
    return flags, operands


# Utilities for which `dir/` and `dir` name the same thing to act on (`tar -czf a.tgz src/` packs
# what `... src` packs). Not cp, mv or rsync: there the trailing slash changes where things go.
_DIR_SLASH_SAME = frozenset({"tar", "zip", "du", "ls", "grep", "chmod", "chown", "chgrp", "rm", "rmdir", "mkdir", "tree", "stat", "wc"})
# date(1)'s composite conversions, spelled out (`date +%F` prints what `date +%Y-%m-%d` prints).
_DATE_COMPOSITES = {"%F": "%Y-%m-%d", "%T": "%H:%M:%S", "%D": "%m/%d/%y", "%R": "%H:%M"}


def _date_format(word: str) -> str:
    for short, spelled in _DATE_COMPOSITES.items():
        word = word.replace(short, spelled)
    return word


def _simple(words: list[str]) -> _Simple:
    words, redirects = _split_redirects(words)
    if not words:
        return _Simple("", (), (), redirects)
    utility, args = words[0], [w for w in words[1:] if w not in IGNORED_FLAGS.get(words[0], frozenset())]
    if utility == "find":
        flags, operands = _find(args)
    elif utility == "grep":
        flags, operands = _grep(args)
    elif utility == "tar" and args and not args[0].startswith("-"):
        flags, operands = _generic("tar", ["-" + args[0], *args[1:]])  # `tar czf` = `tar -czf`
    elif utility == "git" and args:
        # The subcommand is part of the utility's identity: `git log` and `git diff` differ.
        flags, operands = _generic("git " + args[0], args[1:])
        utility = "git " + args[0]
    else:
        flags, operands = _generic(utility, args)
    if utility in _DIR_SLASH_SAME:
        operands = [o.rstrip("/") if len(o) > 1 and o.endswith("/") and o.strip("/") else o for o in operands]
    if utility == "date":
        operands = [_date_format(o) if o.startswith("+") else o for o in operands]
    if utility in {"ls", "du"} and not operands:
        operands = ["."]  # both default to the current directory
    if utility in {"head", "tail"} and not any(f == "-n" for f, _ in flags) and not any(
        f in {"-c", "-f", "-F"} for f, _ in flags
    ):
        flags.append(("-n", "10"))
    return _Simple(utility, tuple(sorted(flags)), tuple(operands), redirects)


def _parse(command: str) -> tuple[list[_Simple], list[str]]:
    segments, operators = _segments(_tokens(command))
    return [_simple(s) for s in segments], operators


def difference(a: str, b: str) -> str | None:
    """Why two commands are not equivalent, or None when they are."""
    try:
        left, left_ops = _parse(a)
        right, right_ops = _parse(b)
    except ValueError as exc:  # unbalanced quotes
        return f"cannot tokenise: {exc}"
    if len(left) != len(right):
        return f"{len(left)} simple commands vs {len(right)}"
    if left_ops != right_ops:
        return f"operators {left_ops} vs {right_ops}"
    for n, (x, y) in enumerate(zip(left, right)):
        if x.utility != y.utility:
            return f"command {n + 1}: utility {x.utility!r} vs {y.utility!r}"
        if Counter(x.flags) != Counter(y.flags):
            only_x = sorted(set(x.flags) - set(y.flags))
            only_y = sorted(set(y.flags) - set(x.flags))
            return f"command {n + 1} ({x.utility}): flags {only_x} vs {only_y}"
        if x.operands != y.operands:
            return f"command {n + 1} ({x.utility}): operands {list(x.operands)} vs {list(y.operands)}"
        if x.redirects != y.redirects:
            return f"command {n + 1} ({x.utility}): redirections differ"
    return None


def equivalent(a: str, b: str) -> bool:
    """Whether two commands do the same thing, ignoring flag order, bundling and quoting style."""
    return difference(a, b) is None
