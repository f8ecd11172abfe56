"""Wrong static answers users saw (issue 12 finding 14, issue 13), each pinned by a test that failed before the fix."""

from __future__ import annotations

import pytest

from pipeline.equivalence import difference
from pipeline.static.table import StaticTable
from pipeline.values import Platform, Shell, Userland

GNU = Platform("linux", Userland.GNU, Shell.BASH)
BSD = Platform("macos", Userland.BSD, Shell.BASH)


@pytest.fixture(scope="module")
def table() -> StaticTable:
    return StaticTable.default()


@pytest.mark.parametrize(
    ("request_", "command"),
    [
        # finding 14: the word check `forbid = ["zip"]` did not see bundle.zip's extension.
        ("list the contents of bundle.zip", "unzip -l bundle.zip"),
        ("show what's inside backup.zip", "unzip -l backup.zip"),
        ("unzip bundle.zip", "unzip bundle.zip"),
        ("extract bundle.zip", "unzip bundle.zip"),
        ("list the contents of logs.tar.bz2", "tar -tjf logs.tar.bz2"),
        ("list the contents of data.tar.xz", "tar -tJf data.tar.xz"),
        ("list the contents of backup.tar.gz", "tar -tzf backup.tar.gz"),
        ("extract logs.tar.bz2", "tar -xjf logs.tar.bz2"),
        ("decompress report.gz", "gunzip report.gz"),
        ("show the contents of report.gz without extracting", "gzip -dc report.gz"),
        # finding 14: "running" containers are `docker ps`, not every container.
        ("list all running docker containers", "docker ps"),
        ("show all running containers", "docker ps"),
        ("list all docker containers", "docker ps -a"),
        ("show running and stopped containers", "docker ps -a"),
        # issue 13: answers that did another task.
        ("stash my changes", "git stash"),
        ("list my stashes", "git stash list"),
        ("what is listening on port 8080", "lsof -i :8080"),
        ("show the open files of process 1234", "lsof -p 1234"),
        ("show memory usage of process 2345", "ps -o pid,rss,vsz,%mem,command -p 2345"),
        ("show disk usage of each folder here", "du -sh */ | sort -rh | head -10"),
        ("find files with spaces in their names", "find . -name '* *'"),
        ("most common line in fruits.txt", "sort fruits.txt | uniq -c | sort -rn | head -n 1"),
        ("list the contributors", "git shortlog -sn HEAD"),
        ("search commit messages for fix", "git log -i --oneline --grep=fix"),
    ],
)
def test_answers_that_were_wrong(table: StaticTable, request_: str, command: str | None) -> None:
    match = table.match(request_, GNU)
    if command is None:
        assert match is None, match.command
        return
    assert match is not None, request_
    assert difference(match.command, command) is None, match.command


def test_forbidden_words_see_file_extensions(table: StaticTable) -> None:
    for request_ in ("list the contents of bundle.zip", "extract bundle.zip", "list the contents of a.tar.bz2"):
        match = table.match(request_, GNU)
        assert match is not None and not match.command.startswith("tar -tzf") and not match.command.startswith("tar -xzf")


def test_bsd_gets_the_same_archive_answers(table: StaticTable) -> None:
    assert table.match("list the contents of bundle.zip", BSD).command == "unzip -l bundle.zip"
    assert table.match("list the contents of logs.tar.bz2", BSD).command == "tar -tjf logs.tar.bz2"


@pytest.mark.parametrize("request_", ["compress directory", "archive directory", "pack directory", "compress a folder"])
def test_the_verb_is_never_the_folders_name(table: StaticTable, request_: str) -> None:
    """issue 13: "compress directory" gave `tar -czf compress.tar.gz compress/`, the verb taken for a name."""
    match = table.match(request_, GNU)
    assert match is None or "compress" not in match.command.split()[-1] and "archive/" not in match.command, match.command


def test_a_named_folder_still_fills_the_slot(table: StaticTable) -> None:
    for request_, folder in [("compress the logs directory", "logs"), ("compress src folder", "src"), ("archive of logs", "logs")]:
        match = table.match(request_, GNU)
        assert match is not None, request_
        assert difference(match.command, f"tar -czf {folder}.tar.gz {folder}/") is None, match.command


@pytest.mark.parametrize(
    ("request_", "command"),
    [
        ("print the 3rd line of logs/app.log", "sed -n '3p' logs/app.log"),
        ("print the 10th line of notes.txt", "sed -n '10p' notes.txt"),
        ("show the 21st line of a.txt", "sed -n '21p' a.txt"),
        ("print the 2nd column of data/people.csv", "cut -d, -f2 data/people.csv"),
    ],
)
def test_numeric_ordinals_are_numbers(table: StaticTable, request_: str, command: str) -> None:
    """"print the 3rd line of logs/app.log" went to the model, which answered `tail -n 3` and then
    `head -n 3`; "the third line" was always the table's `sed -n '3p'`."""
    match = table.match(request_, GNU)
    assert match is not None, request_
    assert difference(match.command, command) is None, match.command
