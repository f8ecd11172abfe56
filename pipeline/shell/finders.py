"""What `find` walks and what it runs: its roots, its filters, its -exec commands."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.shell.words import DYNAMIC

FOUND_MARK = f"{DYNAMIC}$__CARO_FOUND{DYNAMIC}"  # stands for each path find finds (`{}`)
_EXEC = frozenset({"-exec", "-execdir", "-ok", "-okdir"})
# Tests that narrow what find matches; -type, -maxdepth, -xdev and friends do not.
_FILTERS = frozenset({"-name", "-iname", "-path", "-ipath", "-wholename", "-iwholename", "-regex", "-iregex", "-lname", "-ilname", "-newer", "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin", "-size", "-user", "-group", "-uid", "-gid", "-perm", "-empty", "-inum", "-links", "-samefile", "-nouser", "-nogroup"})


def find_roots(argv: Sequence[str]) -> tuple[str, ...]:
    """The paths `find` starts from (`.` when none is given)."""
    roots: list[str] = []
    for word in argv[1:]:
        if word.startswith("-") or word in ("(", "!", ")"):
            break
        roots.append(word)
    return tuple(roots or ["."])


def find_filtered(argv: Sequence[str]) -> bool:
    """Whether `find` narrows what it matches by name, path, time, size or owner."""
    depth = 0
    for word in argv[1:]:
        if word in _EXEC:
            depth += 1
        elif word in (";", "+") and depth:
            depth -= 1
        elif not depth and word in _FILTERS:
            return True
    return False


def find_paths(argv: Sequence[str]) -> tuple[str, ...]:
    """What `find` walks, as glob words: `find / -name x` finds things in `/*`."""
    return tuple(p.rstrip("/") + "/*" if p.rstrip("/") else "/*" for p in find_roots(argv))


def find_exec(argv: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """Commands `find` runs through -exec/-execdir/-ok/-okdir, with FOUND_MARK for `{}`."""
    spawned: list[tuple[str, ...]] = []
    i, n = 1, len(argv)
    while i < n:
        if argv[i] in _EXEC:
            j = i + 1
            while j < n and argv[j] not in (";", "+"):
                j += 1
            words = tuple(FOUND_MARK if w == "{}" else w.replace("{}", FOUND_MARK) for w in argv[i + 1 : j])
            if words:
                spawned.append(words)
            i = j + 1
        else:
            i += 1
    return tuple(spawned)


def found_words(argv: Sequence[str]) -> tuple[str, ...]:
    """Words for what find acts on: `ROOT/*` (everything under it), or `ROOT/found` when it filters by name."""
    filtered = find_filtered(argv)
    words = []
    for root in find_roots(argv):
        base = root.rstrip("/")
        words.append(f"{base}/found" if filtered and base and base not in ("~", "/home", "/Users") else f"{base}/*")
    return tuple(words)


def without_exec(argv: Sequence[str]) -> list[str]:
    """`find`'s words without its -exec ... ; parts (their words are another command's)."""
    kept: list[str] = []
    skipping = False
    for word in argv:
        if skipping:
            skipping = word not in (";", "+")
            continue
        if word in _EXEC:
            skipping = True
            kept.append(word)
            continue
        kept.append(word)
    return kept
