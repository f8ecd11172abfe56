"""The static matcher: words not substrings, specificity, slots, refusals, platforms, robustness."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.equivalence import equivalent
from pipeline.static.table import StaticTable, default_table_paths
from pipeline.values import Platform, Shell, StaticMatch, Userland

GNU = Platform("linux", Userland.GNU, Shell.BASH)
BSD = Platform("macos", Userland.BSD, Shell.ZSH)


@pytest.fixture(scope="module")
def table() -> StaticTable:
    return StaticTable.load(default_table_paths())


def _cmd(table: StaticTable, request: str, platform: Platform = GNU) -> str | None:
    match = table.match(request, platform)
    return match.command if match else None


# ---- words, not substrings --------------------------------------------------------------


def test_sizes_match_whole_tokens(table: StaticTable) -> None:
    assert _cmd(table, "find files over 10MB") == "find . -type f -size +10M"
    assert _cmd(table, "find files over 1GB") == "find . -type f -size +1G"


def test_log_does_not_match_login(table: StaticTable) -> None:
    assert "*.log" in (_cmd(table, "find log files") or "")
    assert "*.log" not in (_cmd(table, "show last logins") or "")


def test_py_does_not_match_happy(table: StaticTable) -> None:
    assert _cmd(table, "find py files") == "find . -type f -name '*.py'"
    assert _cmd(table, "find happy files") is None


# ---- specificity ------------------------------------------------------------------------


def test_more_specific_entry_wins(table: StaticTable) -> None:
    assert _cmd(table, "python files modified today") == "find . -type f -name '*.py' -mtime 0"
    assert _cmd(table, "files modified today") == "find . -type f -mtime 0"
    sorted_ = table.match("disk usage by directory sorted", GNU)
    plain = table.match("disk usage by directory", GNU)
    assert sorted_ is not None and plain is not None
    assert sorted_.intent_id == "disk.usage_by_directory_sorted"
    assert plain.intent_id == "disk.usage_by_directory"
    assert _cmd(table, "list hidden files") == "ls -d .*"
    assert _cmd(table, "list files") == "ls -la"


# ---- slots ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        ("find files over 100MB", "-size +100M"),
        ("find files larger than 1 gigabyte", "-size +1G"),
        ("find files bigger than 500k", "-size +500k"),
        ("find files > 2G", "-size +2G"),
        ("find files under 10 MB", "-size -10M"),
        ("find files smaller than 1kb", "-size -1k"),
        ("find files over 1.5GB", "-size +1536M"),
        ("find files modified today", "-mtime 0"),
        ("find files modified yesterday", "-mtime 1"),
        ("find files modified last week", "-mtime -7"),
        ("find files modified in the last week", "-mtime -7"),
        ("find files modified this week", "-mtime -7"),
        ("find files modified in the last 3 days", "-mtime -3"),
        ("find files modified in the last hour", "-mmin -60"),
        ("find files modified in the last 30 minutes", "-mmin -30"),
        ("find files modified last month", "-mtime -30"),
        ("find files older than 30 days", "-mtime +30"),
        ("find PDF files", "-name '*.pdf'"),
        ("find *.log files", "-name '*.log'"),
        ("find shell scripts", "-name '*.sh'"),
        ("find c++ files", "-name '*.cpp'"),
        ("find yaml files", "-iname '*.yml'"),
        ("find images", "-iname '*.png'"),
        ("find python files in Downloads", "find ~/Downloads "),
        ("find python files under src", "find src "),
        ("find python files in /var/log", "find /var/log "),
        ("find python files here", "find . "),
        ("find python files in the current directory", "find . "),
        ("find python files in my home directory", "find ~ "),
        ("show top 5 memory consuming processes", "head -n 6"),
        ("show 3 largest files", "head -n 3"),
        ("what is using port 3000", "lsof -i :3000"),
        ("which process is on port 8080", ":8080"),
        ("what process is using :5432", ":5432"),
        ('search for "foo bar" in code', "'foo bar'"),
        ("search for 'TODO' in code", "TODO"),
        ("search for the word error in code", "error"),
        ("find files containing TODO", "grep -rl TODO ."),
        ("show last 20 lines of app.log", "tail -n 20 app.log"),
    ],
)
def test_slot_rendering(table: StaticTable, request_: str, fragment: str) -> None:
    command = _cmd(table, request_)
    assert command is not None, request_
    assert fragment in command


def test_slot_values_are_reported(table: StaticTable) -> None:
    match = table.match("find python files modified in the last 7 days in Downloads", GNU)
    assert isinstance(match, StaticMatch)
    assert match.slots == {"type": "python", "time": "last 7 days", "dir": "~/Downloads"}
    assert match.category == "files"


@pytest.mark.parametrize(
    "text",
    ["$(reboot)", "`id`", "a; ls", "x' ; echo 'y", "it's", "a|b", "$HOME", "*"],
)
def test_user_text_is_quoted_for_the_shell(table: StaticTable, text: str) -> None:
    quote = "'" if '"' in text or "'" not in text else '"'
    command = _cmd(table, f"find files containing {quote}{text}{quote}")
    assert command is not None
    words = shlex.split(command)
    assert words[:2] == ["grep", "-rl"] and words[2] == text  # the text is one literal word


def test_directory_with_spaces_is_quoted(table: StaticTable) -> None:
    command = _cmd(table, "find python files in '/tmp/my dir/'")
    assert command is not None and shlex.split(command)[1] == "/tmp/my dir/"


# ---- refusals ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "request_",
    [
        "delete all log files",
        "delete everything in the current directory",
        "remove all backup files from database directory",
        "fix permissions on the app directory",
        "delete all evicted pods in production",
        "find python files and delete them",
        "find python files and compress them",
        "search for files containing 'rm -rf'",
        "echo 'chmod 777' to test script",
        "kill the process on port 3000",
        "clean up docker images and volumes that are not being used",
        "format the disk",
        "overwrite file.txt with zeros",
        "list files then shred them",
        "compile my rust project",
    ],
)
def test_destructive_or_unexplained_requests_get_no_match(table: StaticTable, request_: str) -> None:
    assert table.match(request_, GNU) is None
    assert table.match(request_, BSD) is None


# ---- platforms --------------------------------------------------------------------------


def test_gnu_and_bsd_variants(table: StaticTable) -> None:
    assert _cmd(table, "show top 10 memory consuming processes", BSD) == "ps aux -m | head -n 11"
    assert _cmd(table, "show disk usage by directory", BSD) == "du -h -d 1"
    assert _cmd(table, "show octal permissions of notes.txt", GNU) == "stat -c '%a %n' notes.txt"
    assert _cmd(table, "show octal permissions of notes.txt", BSD) == "stat -f '%Lp %N' notes.txt"
    assert _cmd(table, "show yesterday's date", BSD) == "date -v-1d +%Y-%m-%d"
    assert _cmd(table, "how much memory is free", BSD) == "vm_stat"
    assert _cmd(table, "show network interfaces", BSD) == "ifconfig"


def test_gnu_linux_only_entries_do_not_match_on_bsd(table: StaticTable) -> None:
    assert _cmd(table, "show last 100 system errors", GNU) == "journalctl -p err -n 100"
    bsd = _cmd(table, "show last 100 system errors", BSD)
    assert bsd is None or "journalctl" not in bsd
    assert _cmd(table, "show failed services", BSD) is None
    assert _cmd(table, "find duplicate files", BSD) is None


# ---- confidence, purity, robustness ----------------------------------------------------


def test_confidence_reflects_how_much_is_explained(table: StaticTable) -> None:
    terse = table.match("python files modified today", GNU)
    chatty = table.match("could you please show me all of the python files that were modified today", GNU)
    assert terse is not None and chatty is not None
    assert terse.command == chatty.command
    assert 0.5 <= chatty.confidence < terse.confidence <= 1.0


def test_matching_is_pure(table: StaticTable) -> None:
    first = [table.match(r, GNU) for r in ("list files", "find large files", "show disk usage")]
    table.match("find python files in Downloads modified today over 1GB", BSD)
    again = [table.match(r, GNU) for r in ("list files", "find large files", "show disk usage")]
    assert first == again


def test_case_and_punctuation_do_not_matter(table: StaticTable) -> None:
    assert _cmd(table, "FIND PYTHON FILES!") == _cmd(table, "find python files")
    assert _cmd(table, "show disk usage by directory, sorted.") == _cmd(table, "show disk usage by directory sorted")


@pytest.mark.parametrize(
    "request_",
    [
        "find large " + "x" * 100_000,
        "find " + "over " * 20_000 + "100MB",
        "'" * 100_000,
        "\"a" * 50_000,
        "in the last " * 10_000,
        "a" * 100_000,
        "日本語" * 30_000,
        "find files containing " + "'x' " * 25_000,
    ],
)
def test_long_adversarial_requests_return(table: StaticTable, request_: str) -> None:
    # No timing assert: the bound is structural (MAX_REQUEST_CHARS, single-token regexes);
    # this proves the pathological inputs terminate with a sane answer.
    assert table.match(request_, GNU) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_none_or_a_parsable_command(request_: str) -> None:
    table = _TABLE
    match = table.match(" ".join(request_.split()), GNU)
    if match is not None:
        shlex.split(match.command)
        assert 0.5 <= match.confidence <= 1


_TABLE = StaticTable.default()


# ---- loading ----------------------------------------------------------------------------


def test_user_entry_replaces_default(tmp_path: Path) -> None:
    user = tmp_path / "mine.toml"
    user.write_text(
        '[[intent]]\nid = "files.list"\ndomain = "files"\nsummary = "Mine"\n'
        'require = [["list"], ["files"]]\ncommand = "ls -lah"\n',
        encoding="utf-8",
    )
    table = StaticTable.load([*default_table_paths(), user])
    assert _cmd(table, "list files") == "ls -lah"
    assert sum(i.id == "files.list" for i in table.intents) == 1


@pytest.mark.parametrize(
    "body",
    [
        'id = "bad.one"\ndomain = "nowhere"\nsummary = "x"\nrequire = [["a"]]\ncommand = "ls"',
        'id = "bad.one"\ndomain = "files"\nsummary = "x"\nrequire = [["{nope}"]]\ncommand = "ls"',
        'id = "bad.one"\ndomain = "files"\nsummary = "x"\nrequire = [["a"]]\ncommand = "ls {{nope}}"',
        'id = "bad.one"\ndomain = "files"\nsummary = "x"\nrequire = [["a"]]\ncommand = "echo \'open"',
        'id = "bad.one"\ndomain = "files"\nsummary = "x"\nrequire = [["a"]]\nslots = { d = { type = "directory", default = "$(id)" } }\ncommand = "ls {{d}}"',
        'id = "bad.one"\ndomain = "files"\nsummary = "x"\nrequire = [["a"]]',
        'id = "bad.one"\ndomain = "files"\nsummary = "x"\nrequire = [["a"]]\ncommand = "ls"\nsurprise = 1',
    ],
)
def test_bad_entries_raise_value_error_naming_file_and_id(tmp_path: Path, body: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[[intent]]\n" + body + "\n", encoding="utf-8")
    with pytest.raises(ValueError) as info:
        StaticTable.load([path])
    assert str(path) in str(info.value) and "bad.one" in str(info.value)


def test_unreadable_toml_raises_value_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[[intent]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="broken.toml"):
        StaticTable.load([path])


def test_equivalence_of_rendered_commands_with_suite_spelling(table: StaticTable) -> None:
    command = _cmd(table, "find python files modified last week")
    assert command is not None and equivalent(command, 'find . -name "*.py" -type f -mtime -7')
