"""Command equivalence: spelling differences are ignored, behavioural differences are not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.equivalence import difference, equivalent

SAME = [
    ("journalctl -u nginx --no-pager", "journalctl -u nginx"),  # paging is not behaviour
    ("systemctl --failed --no-pager", "systemctl --failed"),
    ('find . -name "*.py" -type f -mtime -7', "find . -type f -mtime -7 -name '*.py'"),
    ("find . -name '*.py'", "find . -name \\*.py"),
    ("find -type f", "find . -type f"),
    ("find . -type f -size +1G -exec ls -lh {} \\;", "find . -size +1G -type f -exec ls -lh '{}' ';'"),
    ("ls -la", "ls -l -a"),
    ("ls -la", "ls -al"),
    ("ls -la", "ls -la ."),
    ("grep -r TODO .", "grep --recursive TODO"),
    ("grep -rn 'TODO' --include='*.js' .", 'grep -n -r TODO --include "*.js" .'),
    ("grep -i 'error' /var/log/app.log", "grep --ignore-case ERROR /var/log/app.log"),
    ("du -h --max-depth=1 | sort -hr", "du -h -d 1 | sort -rh"),
    ("ps aux --sort=-%mem | head -n 11", "ps aux --sort=-%mem | head -11"),
    ("tail -n 20 file.txt", "tail --lines=20 file.txt"),
    ("head file.txt", "head -n 10 file.txt"),
    ("tar -czf a.tar.gz src/", "tar czf a.tar.gz src/"),
    ("git log --since='1 week ago' --oneline", 'git log --oneline --since "1 week ago"'),
    ("cut -d ',' -f 1 data.csv", "cut -d, -f1 data.csv"),
    ('for s in a b; do systemctl is-active "$s"; done', "for s in a b; do systemctl is-active $s; done"),
    ("sort file.txt | uniq -c | sort -rn", "sort file.txt | uniq --count | sort -nr"),
    ("tar -czf src.tar.gz src", "tar -czf src.tar.gz src/"),  # the same directory packed
    ("du -sh logs/", "du -sh logs"),
    ("date +%F", "date +%Y-%m-%d"),  # date's composite conversions print the same
    ("date '+%F %T'", "date '+%Y-%m-%d %H:%M:%S'"),
]

DIFFERENT = [
    ("ls -la", "ls -l"),  # different flag
    ("find . -size +10M", "find . -size +100M"),  # different argument
    ("find . -type f", "find . -type d"),
    ("find . -type f -mtime 0", "find /tmp -type f -mtime 0"),  # different operand
    ("cat a", "less a"),  # different utility
    ("cp a b", "cp b a"),  # operand order matters
    ("grep error f", "grep ERROR f"),  # case matters without -i
    ("du -sh */ | sort -rh", "du -sh */"),  # pipeline length
    ("a && b", "a ; b"),  # operators
    ("sort file | uniq", "uniq file | sort"),  # pipeline order
    ("git log --oneline", "git diff --oneline"),  # git subcommand
    ("find . -name x -delete", "find . -name x"),  # actions count
    ("find . -name a -print -delete", "find . -name a -delete -print"),  # action order matters
    ("echo hi > a", "echo hi > b"),  # redirection target
    ("sed -i 's/a/b/g' f", "sed 's/a/b/g' f"),  # in place vs print
    ("rsync -a src/ dst", "rsync -a src dst"),  # rsync's trailing slash copies the contents, not the folder
    ("cp -r src/ dst", "cp -r src dst"),  # kept apart like rsync's
    ("tar -czf a.tgz /", "tar -czf a.tgz ."),  # / is not an empty name
    ("date +%F", "date +%D"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_equivalent_spellings(a: str, b: str) -> None:
    assert difference(a, b) is None
    assert equivalent(b, a)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_commands(a: str, b: str) -> None:
    assert not equivalent(a, b)
    reason = difference(a, b)
    assert reason is not None and reason.strip()


def test_unbalanced_quotes_are_not_equivalent() -> None:
    reason = difference("echo 'oops", "echo oops")
    assert reason is not None and "tokenise" in reason


def test_semicolon_after_find_exec_is_the_terminator_not_a_separator() -> None:
    assert equivalent("find . -exec ls {} \\; ; echo done", "find . -exec ls {} ';' ; echo done")
    assert not equivalent("find . -exec ls {} \\; ; echo done", "find . -exec ls {} \\;")


_PRIMARIES = [("-type", "f"), ("-name", "'*.py'"), ("-mtime", "-7"), ("-size", "+1M"), ("-user", "bob")]


@given(st.permutations(_PRIMARIES))
def test_find_primary_order_never_matters(order: list[tuple[str, str]]) -> None:
    base = "find . " + " ".join(f"{k} {v}" for k, v in _PRIMARIES)
    shuffled = "find . " + " ".join(f"{k} {v}" for k, v in order)
    assert equivalent(base, shuffled)


@given(st.permutations(["-l", "-a", "-h", "-t"]))
def test_ls_flag_order_and_bundling_never_matter(order: list[str]) -> None:
    assert equivalent("ls " + " ".join(order), "ls -" + "".join(f[1] for f in order[::-1]))
