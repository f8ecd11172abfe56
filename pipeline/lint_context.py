"""Checks that need the request and the working directory, not just the command.

A small model invents paths (`/var/log/app-2.log` for `logs/app-2.log`, `data_directory` for
`data`), adds installs and `sudo` nobody asked for, and, asked to repair a command, can answer
a different question altogether (`sudo apt-get install docker-compose` for "convert all png
images here to jpg"). These checks see that from the request, the command and the folder the
command will run in; they read names only (a bounded walk of the working directory), never
file contents.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator, Sequence

from pipeline.equivalence import ARG_FLAGS

# Utilities whose operands are files or folders that must already exist (inputs), and those
# that write their last operand (cp, mv, ...). Other utilities' operands are not judged: git's
# operands are refs, docker's live in containers, curl's are URLs.
_READERS = frozenset(
    "cat head tail less more wc sort uniq cut paste tac nl file stat du ls cd md5sum sha1sum sha256sum shasum "
    "base64 od xxd strings diff cmp comm join column jq yq zcat gzcat bzcat xzcat gunzip bunzip2 unxz gzip bzip2 "
    "xz realpath readlink tree source . iconv dos2unix unix2dos".split()
)
_COPIERS = frozenset({"cp", "mv", "ln", "install", "rsync"})
_PATTERN_FIRST = frozenset({"grep", "egrep", "fgrep", "zgrep", "rg", "sed", "awk", "gawk", "mawk"})
_FIND_VALUE_TESTS = frozenset({
    "-name", "-iname", "-path", "-ipath", "-wholename", "-regex", "-iregex", "-type", "-size", "-mtime", "-mmin",
    "-atime", "-amin", "-ctime", "-cmin", "-user", "-group", "-perm", "-maxdepth", "-mindepth", "-printf",
    "-newermt", "-fstype", "-links", "-inum", "-uid", "-gid", "-lname", "-ilname", "-used",
})
_FIND_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
_PACKAGE_INSTALL = re.compile(
    r"\b(?:apt-get|apt|aptitude|yum|dnf|zypper|pacman|apk|brew|port|snap|pip3?|npm|gem|cargo)\s+(?:\S+\s+)*?"
    r"(?:install|add|-S\b|i\b)"
)
_ASKS_TO_INSTALL = re.compile(r"\b(?:install|installing|setup|set up|sudo|root|admin|upgrade|update|package)\b", re.I)
_WALK_LIMIT = 3000


def find_exec_unterminated(argv: Sequence[str]) -> bool:
    """Whether a find command has an -exec (or -execdir, -ok) with no `;` or `{} +` to end it."""
    i = 0
    while i < len(argv):
        if argv[i] in _FIND_EXEC:
            j = i + 1
            while j < len(argv) and not (argv[j] == ";" or (argv[j] == "+" and argv[j - 1] == "{}")):
                j += 1
            if j >= len(argv):
                return True
            i = j
        i += 1
    return False


def _operands(argv: Sequence[str]) -> list[str]:
    """The non-option words of a command, leaving out the values of options that take one."""
    takes_value = ARG_FLAGS.get(argv[0], frozenset())
    out: list[str] = []
    skip = False
    ended = False
    for word in argv[1:]:
        if skip:
            skip = False
            continue
        if not ended and word == "--":
            ended = True
            continue
        if not ended and word.startswith("-") and word != "-":
            skip = word in takes_value
            continue
        out.append(word)
    return out


def input_paths(argv: Sequence[str]) -> list[str]:
    """The words of a simple command that name files or folders it reads (so they must exist)."""
    name = argv[0]
    if name == "find":
        roots = []
        for word in argv[1:]:
            if word.startswith("-") or word in {"(", "!", "\\("}:
                break
            roots.append(word)
        newer = [argv[i + 1] for i, w in enumerate(argv[:-1]) if w in {"-newer", "-anewer", "-cnewer"}]
        return roots + newer
    if name in _PATTERN_FIRST:
        has_script = any(w in {"-e", "-f"} or w.startswith(("--regexp", "--file", "--expression")) for w in argv[1:])
        operands = [w for w in _operands(argv) if not (name.endswith("awk") and "=" in w)]
        return operands if has_script else operands[1:]
    if name in _COPIERS:
        return _operands(argv)[:-1]
    if name in _READERS:
        return _operands(argv)
    if name in {"chmod", "chown", "chgrp"}:  # the mode or owner first (chmod -x FILE: the mode looks like an option)
        minus_mode = name == "chmod" and any(_CHMOD_MINUS_MODE.match(w) for w in argv[1:])
        return _operands(argv)[0 if minus_mode else 1 :]
    if name == "tar":
        flags = argv[1] if len(argv) > 1 else ""
        if ("x" in flags or "t" in flags) and "c" not in flags.lstrip("-"):
            archive = next((w for w in argv[2:] if not w.startswith("-")), None)
            return [archive] if archive else []
        if "c" in flags.lstrip("-") and not flags.startswith("--"):
            return _tar_sources(argv)
        return []
    if name == "unzip":
        operands = _operands(argv)
        return operands[:1]
    return []


def _tar_sources(argv: Sequence[str]) -> list[str]:
    """What `tar -c` packs: its operands less the archive (the first one where `f` comes in a
    bundle such as -czf or czf). Nothing where -C or -T decides where sources are read from."""
    if any(w in {"-C", "-T", "--directory", "--files-from"} or w.startswith(("--directory=", "--files-from=")) for w in argv[2:]):
        return []
    flags = argv[1]
    operands = _operands(argv)
    if not flags.startswith("-"):
        operands = operands[1:]  # the old style: `tar czf archive.tgz dir`, the first word is the flags
    if "f" in flags.lstrip("-") and flags != "-f":
        operands = operands[1:]
    return operands


def copy_onto_itself(argv: Sequence[str]) -> str | None:
    """Why `cp NAME .` (or mv, ln) fails: a name with no folder is already in `.`, so the copy
    would land on the file itself."""
    name = os.path.basename(argv[0]) if argv else ""
    if name not in {"cp", "mv", "ln"}:
        return None
    operands = _operands(argv)
    if len(operands) < 2 or operands[-1] not in {".", "./"}:
        return None
    if any("/" in source.rstrip("/") for source in operands[:-1]):
        return None
    return f"{name} to . puts the file where it already is: name the destination, or write a slot such as <dest>"


_MAKEFILES = ("Makefile", "makefile", "GNUmakefile")


def make_problem(argv: Sequence[str], cwd: str) -> str | None:
    """Why `make` cannot do anything here (no makefile, or -f naming something that is not one)."""
    given = [argv[i + 1] for i, w in enumerate(argv[:-1]) if w in {"-f", "--file", "--makefile"}]
    given += [w.split("=", 1)[1] for w in argv[1:] if w.startswith(("--file=", "--makefile="))]
    for name in given:
        base = os.path.basename(name)
        if "*" in name or not ("akefile" in base or base.endswith(".mk")):
            return f"make -f expects a makefile, not {name}"
    if not given and not any(os.path.isfile(os.path.join(cwd, m)) for m in _MAKEFILES):
        return "there is no Makefile here for make to run"
    return None


# Nouns a request uses for a thing it does not name ("sort file contents", "compare two files"):
# a command whose operand is one of them (`sort file`) has made the name up.
_GENERIC_NOUNS = frozenset(
    "file files filename directory directories dir folder folders text pattern path name source dest destination target".split()
)

_FOLDER_NOUNS = frozenset("directory directories dir folder folders".split())


def _named(path: str, request: str) -> bool:
    """Whether the request names this path (as written, or without a leading ./ or trailing /);
    a generic noun ("file", "directory") names nothing."""
    bare = path.removeprefix("./").rstrip("/")
    if bare.lower() in _GENERIC_NOUNS:
        return False
    words = {w.strip("\"'`,;:()[]{}").removeprefix("./").rstrip("/") for w in request.split()}
    return bare in words or path in words


def _suggestion(missing: str, cwd: str) -> str | None:
    """A file or folder below the working directory with the same last name, if there is one."""
    return next(_same_name(missing, cwd), None)


def _only_one(missing: str, cwd: str) -> str | None:
    """The one file or folder below the working directory with this last name, or None (none, or several)."""
    found = list(itertools.islice(_same_name(missing, cwd), 2))
    return found[0] if len(found) == 1 else None


def _same_name(missing: str, cwd: str) -> Iterator[str]:
    """The files and folders below the working directory (three levels, names only) with the same last name."""
    target = os.path.basename(missing.rstrip("/"))
    if not target:
        return
    seen = 0
    for dirpath, dirnames, filenames in os.walk(cwd):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in {"node_modules", "__pycache__"})
        for name in sorted(dirnames + filenames):
            seen += 1
            if name == target:
                yield os.path.relpath(os.path.join(dirpath, name), cwd)
        if seen > _WALK_LIMIT:
            return
        if os.path.relpath(dirpath, cwd).count(os.sep) >= 2:
            dirnames[:] = []  # three levels deep is enough to find what a request meant


def missing_paths(argvs: Sequence[Sequence[str]], inputs: Sequence[str], request: str, cwd: str) -> Iterator[str]:
    """Messages for the input paths that do not exist in `cwd` and that the request does not name.

    `argvs` are the simple commands (unwrapped), `inputs` the targets of `<` redirections.
    """
    for path in _missing(argvs, inputs, request, cwd):
        hint = _suggestion(path, cwd)
        yield f"{path} does not exist here" + (
            f"; did you mean {hint}?" if hint else f"; use a name from the request or the working directory, or a slot such as <{_slot_for(path)}>"
        )


def invented_nouns(argvs: Sequence[Sequence[str]], inputs: Sequence[str], request: str, cwd: str) -> dict[str, str]:
    """The input paths that are a generic noun of the request's ("text", "directory") and exist
    nowhere, each with the slot that says what belongs there: {"text": "file"}."""
    out: dict[str, str] = {}
    for path in _missing(argvs, inputs, request, cwd):
        bare = path.removeprefix("./").rstrip("/")
        if bare.lower() in _GENERIC_NOUNS and _suggestion(path, cwd) is None:
            out[bare] = _slot_for(path)
    return out


def _slot_for(path: str) -> str:
    """The slot that stands for a made-up input path: `directory` for a folder noun, else `file`."""
    return "directory" if path.removeprefix("./").rstrip("/").lower() in _FOLDER_NOUNS else "file"


def _missing(argvs: Sequence[Sequence[str]], inputs: Sequence[str], request: str, cwd: str) -> Iterator[str]:
    """The input paths that do not exist in `cwd` and that the request does not name, each once."""
    candidates: list[str] = list(inputs)
    for argv in argvs:
        if argv:
            candidates.extend(input_paths(argv))
    reported: set[str] = set()
    for path in candidates:
        if not path or "\0" in path or path in reported or any(c in path for c in "*?[{$`") or path == "-":
            continue
        if "://" in path or path.startswith(("/dev/", "/proc/")):
            continue
        full = os.path.join(cwd, os.path.expanduser(path))
        if os.path.lexists(full):
            continue
        # A name the request gives is the user's, unless it is plainly a file further down
        # ("make deploy.sh readable" where only scripts/deploy.sh exists).
        if _named(path, request) and ("/" in path or _only_one(path, cwd) is None):
            continue
        reported.add(path)
        yield path


def elsewhere(argvs: Sequence[Sequence[str]], inputs: Sequence[str], request: str, cwd: str) -> dict[str, str]:
    """The names the request gives that are not here but are one file or folder further down:
    {"deploy.sh": "scripts/deploy.sh"}."""
    out: dict[str, str] = {}
    for path in _missing(argvs, inputs, request, cwd):
        if _named(path, request) and (found := _only_one(path, cwd)) is not None:
            out[path] = found
    return out


def unasked_install(command: str, privileged: bool, request: str) -> str | None:
    """Why the command installs software or asks for root when the request did not, or None."""
    if _ASKS_TO_INSTALL.search(request):
        return None
    if _PACKAGE_INSTALL.search(command):
        return "the command installs software, which the request did not ask for"
    if privileged:
        return "the command runs with sudo, which the request did not ask for"
    return None


_WORD = re.compile(r"[a-z0-9][a-z0-9_-]*")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower().replace(".", " ")))


def task_drift(request: str, first: str, repaired: str) -> str | None:
    """Why a repaired command no longer does what the first one set out to do, or None.

    The anchors are the words of the request that the first command used (file names,
    extensions, numbers, utilities the request named); a repair may fix how, not what, so it
    must keep at least one of them, and may not add an install or sudo the request did not ask for.
    """
    if unasked_install(repaired, repaired.lstrip().startswith(("sudo ", "doas ")), request) and not unasked_install(
        first, first.lstrip().startswith(("sudo ", "doas ")), request
    ):
        return "the repair installs software or adds sudo, which the request did not ask for"
    anchors = (_words(request) & _words(first)) - {"a", "an", "the", "to", "of", "in", "and", "all", "here"}
    if anchors and not anchors & _words(repaired):
        return "the repair dropped everything the request named"
    return None


# Utilities that do nothing useful without an operand (they fail, or, like `touch`, complain),
# and those that would then read the terminal and wait for typing (cat, sort, grep PATTERN ...).
_NEEDS_OPERAND = frozenset(
    "touch mkdir rmdir rm cp mv ln chmod chown chgrp file stat unzip readlink realpath truncate shred".split()
)
_READS_INPUT = frozenset(
    "cat head tail wc sort uniq cut paste tac nl grep egrep fgrep sed awk gawk mawk tr md5sum sha256sum sha1sum "
    "base64 od xxd strings column jq".split()
)
_CHMOD_MINUS_MODE = re.compile(r"^-[rwxXst]+$")
# How many operands a utility needs at the least (a mode, an owner or a pattern comes first).
_LEAST_OPERANDS = {"cp": 2, "mv": 2, "ln": 1, "chmod": 2, "chown": 2, "chgrp": 2}


def _truncate_sized(argv: Sequence[str]) -> bool:
    """Whether `truncate` is told its size (-s SIZE, -r FILE, in any spelling): without it, it fails."""
    for word in argv[1:]:
        if word == "--":
            break
        if word.startswith(("--size", "--reference")):
            return True
        if word.startswith("-") and not word.startswith("--"):
            for letter in word[1:]:  # -cs 0, -s0: the letters before a value's are flags
                if letter in "sr":
                    return True
                if letter not in "co":
                    break
    return False


def operand_problem(argv: Sequence[str], reads_pipe: bool) -> str | None:
    """Why a simple command lacks what it works on: `touch` with no file, `chmod 444` with no file,
    or `cat` / `sort` / `grep PATTERN` with no file and nothing piped or redirected into it."""
    name = os.path.basename(argv[0]) if argv else ""
    operands = _operands(argv) if name in _NEEDS_OPERAND or name in _READS_INPUT else []
    if name == "chmod":  # a mode such as -x or -w looks like an option but is an operand
        operands += [w for w in argv[1:] if _CHMOD_MINUS_MODE.match(w)]
    if name in _NEEDS_OPERAND:
        if len(operands) < _LEAST_OPERANDS.get(name, 1):
            return f"{name} has nothing to work on: name the file from the request, or write a slot such as <file>"
        if name == "truncate" and not _truncate_sized(argv):
            return "truncate needs the new size: add -s SIZE (-s 0 empties the file) or -r FILE"
        return None
    if name not in _READS_INPUT or reads_pipe:
        return None
    if name.endswith("grep") and any(w in {"-r", "-R", "--recursive"} or (w[:1] == "-" and w[1:2] != "-" and "r" in w.lower()) for w in argv[1:]):
        return None  # grep -r with no file searches the working directory
    has_script = any(w in {"-e", "-f"} or w.startswith(("--regexp", "--file", "--expression")) for w in argv[1:])
    files = operands[1:] if name in _PATTERN_FIRST and not has_script else operands
    if name == "tr":
        return "tr reads only its input: pipe or redirect a file into it (tr ... < <file>)"
    if not files:
        return f"{name} has no file to read, so it would wait for typing at the terminal: name the file, or write a slot such as <file>"
    return None


_REQUEST_PATH = re.compile(r"^(?:\.{0,2}/)?[\w.@+-]+(?:/[\w.@+*-]*)*$")
_EXTENSION = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,5}$")
_VERSION = re.compile(r"^v?\d+(?:\.\d+)+$")


def request_paths(request: str, cwd: str | None) -> list[str]:
    """The files and folders a request names: words with a `/` or a file extension, or names that
    exist in the working directory (not versions such as 3.11, nor sentence punctuation)."""
    named: list[str] = []
    for raw in request.split():
        word = raw.strip("\"'`,;:()[]{}!?")
        if word.endswith(".") and not word.endswith(".."):
            word = word.rstrip(".")
        if not word or not _REQUEST_PATH.match(word) or _VERSION.match(word):
            continue
        looks_like = "/" in word or _EXTENSION.search(word) is not None
        if looks_like or (cwd is not None and len(word) > 1 and os.path.lexists(os.path.join(cwd, word))):
            named.append(word)
    return list(dict.fromkeys(named))


def slot_problem(names: Sequence[str], command: str, request: str, cwd: str | None) -> str | None:
    """Why a template's slots are wrong: the request names a file or folder that the command
    leaves out, so a slot stands where that name belongs."""
    if not names:
        return None
    left_out = [p for p in request_paths(request, cwd) if p.removeprefix("./").rstrip("/") not in command]
    if not left_out:
        return None
    return f"the request names {', '.join(left_out)}: use it in place of <{names[0]}>"
