"""The first line of the CSV/TSV files a request names, in the prompt as numbered columns: which
files are read (named, found in the listing, the only one), how little of them, never a FIFO, a
folder or anything outside the working directory, and only where the folder's names may go."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from nodes.generate import generation_prompt, table_headers
from pipeline.generation_plan import BASELINE_PLAN, DEFAULT_PLAN
from pipeline.headers import (
    MAX_BYTES,
    MAX_COLUMNS,
    MAX_FILES,
    Delimiter,
    columns_said,
    first_bytes,
    header_line,
    header_lines,
    parse_header,
    table_headers_for,
)
from pipeline.service import Caro, RequestOptions
from pipeline.values import Platform, Shell, TextKind, Userland
from pipeline.workdir import folder_listing

GNU = Platform("linux", Userland.GNU, Shell.BASH)
SALES = "date,region,product,amount\n2024-01-03,north,widget,120\n"
PEOPLE = "name,age,city,email\nAlice Smith,34,London,alice@example.com\n"


def _write(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return root


def _headers(root: Path, request: str) -> list[tuple[str, tuple[str, ...]]]:
    return [(h.path, h.columns) for h in table_headers_for(request, str(root), folder_listing(str(root)))]


def test_a_path_as_written_gives_its_numbered_columns(tmp_path: Path) -> None:
    _write(tmp_path, {"data/sales.csv": SALES, "data/people.csv": PEOPLE})
    (header,) = table_headers_for("sum the amount column of data/sales.csv", str(tmp_path), folder_listing(str(tmp_path)))
    assert header.path == "data/sales.csv" and header.delimiter is Delimiter.COMMA and not header.cut
    assert header_line(header) == (
        "Columns of data/sales.csv (comma-separated, first line is a header): 1 date, 2 region, 3 product, 4 amount"
    )
    assert _headers(tmp_path, "join ./data/people.csv with data/sales.csv, then data/people.csv again") == [
        ("data/people.csv", ("name", "age", "city", "email")),
        ("data/sales.csv", ("date", "region", "product", "amount")),
    ]


def test_a_bare_name_is_found_one_level_down_when_it_is_the_only_one(tmp_path: Path) -> None:
    _write(tmp_path, {"data/people.csv": PEOPLE, "data/sales.csv": SALES, "top.tsv": "id\tname\n1\tx\n"})
    assert _headers(tmp_path, "sort people.csv by age") == [("data/people.csv", ("name", "age", "city", "email"))]
    # At the top level the bare name is the file the shell would open; a TSV splits on tabs.
    (tsv,) = table_headers_for("print 'top.tsv' sorted", str(tmp_path), folder_listing(str(tmp_path)))
    assert tsv.path == "top.tsv" and tsv.delimiter is Delimiter.TAB and tsv.columns == ("id", "name")
    assert "(tab-separated, first line is a header): 1 id, 2 name" in header_line(tsv)
    assert _headers(tmp_path, "sort absent.csv by age") == []


def test_two_files_of_the_same_name_name_neither(tmp_path: Path) -> None:
    _write(tmp_path, {"a/x.csv": "p,q\n", "b/x.csv": "r,s\n"})
    assert _headers(tmp_path, "sum column q of x.csv") == []
    assert _headers(tmp_path, "sum column q of a/x.csv") == [("a/x.csv", ("p", "q"))]


def test_the_csv_file_is_the_only_one_listed(tmp_path: Path) -> None:
    _write(tmp_path, {"data/people.csv": PEOPLE, "notes.txt": "x\n"})
    assert _headers(tmp_path, "show the cities in the csv file") == [("data/people.csv", ("name", "age", "city", "email"))]
    assert _headers(tmp_path, "show the cities in the tsv file") == []
    assert _headers(tmp_path, "show the cities of the people") == []  # no file named, no "csv" said
    _write(tmp_path, {"data/sales.csv": SALES})
    assert _headers(tmp_path, "show the cities in the csv file") == []  # which one? none


def test_at_most_three_files_are_read(tmp_path: Path) -> None:
    _write(tmp_path, {f"t{n}.csv": f"a{n},b{n}\n" for n in range(5)})
    request = "merge " + " ".join(f"t{n}.csv" for n in range(5))
    assert [path for path, _ in _headers(tmp_path, request)] == [f"t{n}.csv" for n in range(MAX_FILES)]


def test_a_header_longer_than_the_caps_is_cut_and_says_so(tmp_path: Path) -> None:
    wide = ",".join(f"c{n}" for n in range(40)) + "\n1,2\n"
    long_line = ",".join(f"column_number_{n:03}" for n in range(30)) + "\n"  # ~570 bytes, past MAX_BYTES
    _write(tmp_path, {"wide.csv": wide, "long.csv": long_line, "wordy.csv": "a," + "x" * 60 + "\n"})
    (header,) = table_headers_for("wide.csv", str(tmp_path), folder_listing(str(tmp_path)))
    assert len(header.columns) == MAX_COLUMNS and header.cut and header_line(header).endswith(f"{MAX_COLUMNS} c19, ...")
    (header,) = table_headers_for("long.csv", str(tmp_path), folder_listing(str(tmp_path)))
    # Only the fields wholly within the first MAX_BYTES bytes: the one cut in the middle is left out.
    assert header.cut and header.columns == tuple(f"column_number_{n:03}" for n in range(len(header.columns)))
    assert len(",".join(header.columns)) <= MAX_BYTES and header_line(header).endswith(", ...")
    (header,) = table_headers_for("wordy.csv", str(tmp_path), folder_listing(str(tmp_path)))
    assert header.columns[1] == "x" * 21 + "..." and not header.cut


def test_undecodable_bytes_and_control_characters_are_dropped(tmp_path: Path) -> None:
    raw = "\ufeffna\x00me;\u00e9t\u00e9;  two\t words ;evil\x1b[2J\u202e;x".encode() + b"\xff\xfe\n1;2;3;4;5\n"
    _write(tmp_path, {"odd.csv": raw, "data.csv": b"1,2,3\n4,5,6\n", "blank.csv": b"\n\nname\n", "crlf.csv": b"a;b\r\n"})
    (header,) = table_headers_for("odd.csv", str(tmp_path), folder_listing(str(tmp_path)))
    assert header.delimiter is Delimiter.SEMICOLON
    assert header.columns == ("name", "\u00e9t\u00e9", "two words", "evil[2J", "x")
    line = header_line(header)
    assert line.isprintable() and "\x1b" not in line and "\u202e" not in line and "\ufeff" not in line
    # A first line of data is not shown: only its delimiter and width.
    (data,) = table_headers_for("data.csv", str(tmp_path), folder_listing(str(tmp_path)))
    assert not data.has_header and header_line(data) == "data.csv is comma-separated with 3 fields a line; its first line is data, not a header."
    assert _headers(tmp_path, "blank.csv") == []
    assert _headers(tmp_path, "crlf.csv") == [("crlf.csv", ("a", "b"))]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_like_a_csv_file_is_never_opened_and_never_blocks(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "x.csv")
    _write(tmp_path, {"y.csv": "a,b\n"})
    # In a child process with a time limit: a read that blocks fails the test instead of hanging it.
    code = (
        "import sys; from pipeline.headers import table_headers_for, first_bytes; from pipeline.workdir import folder_listing\n"
        f"root = {str(tmp_path)!r}\n"
        "found = table_headers_for('sum x.csv and the csv file and y.csv', root, folder_listing(root))\n"
        "assert first_bytes(root, 'x.csv') is None\n"
        "print([h.path for h in found])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20, cwd=Path(__file__).parents[1])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['y.csv']"


def test_nothing_outside_the_working_directory_is_read(tmp_path: Path) -> None:
    outside = _write(tmp_path / "outside", {"secret.csv": "password,token\n"})
    work = _write(tmp_path / "work", {"data/real.csv": "a,b\n"})
    (work / "link.csv").symlink_to(outside / "secret.csv")
    (work / "data" / "inner.csv").symlink_to(work / "data" / "real.csv")  # a link that stays inside is fine
    (work / "dirlink").symlink_to(outside, target_is_directory=True)
    for request in ("show link.csv", "show ../outside/secret.csv", f"show {outside / 'secret.csv'}", "show dirlink/secret.csv"):
        assert _headers(work, request) == [], request
    assert first_bytes(str(work), "link.csv") is None and first_bytes(str(work), "../outside/secret.csv") is None
    assert _headers(work, "show inner.csv") == [("data/inner.csv", ("a", "b"))]
    assert _headers(work, f"show {work / 'data/real.csv'}") == [(str(work / "data/real.csv"), ("a", "b"))]


def test_a_folder_named_like_a_csv_file_is_not_read(tmp_path: Path) -> None:
    (tmp_path / "a.csv").mkdir()
    (tmp_path / "a.csv" / "inner.csv").write_text("p,q\n")
    assert _headers(tmp_path, "sum a.csv") == [] and first_bytes(str(tmp_path), "a.csv") is None
    assert first_bytes(str(tmp_path), ".") is None and first_bytes(str(tmp_path), "") is None


def test_the_node_reads_nothing_where_the_names_may_not_go(tmp_path: Path) -> None:
    _write(tmp_path, {"data/sales.csv": SALES})
    listing = folder_listing(str(tmp_path))
    request = "sum the amount column of data/sales.csv"
    assert table_headers(True, request, str(tmp_path), listing)[0].columns[3] == "amount"
    assert table_headers(True, request, str(tmp_path), None) == ()  # names not to be sent: no contents either
    assert table_headers(False, request, str(tmp_path), listing) == ()  # the static path
    assert table_headers(True, request, str(tmp_path), listing, replace(DEFAULT_PLAN, csv_headers=False)) == ()
    assert not BASELINE_PLAN.csv_headers and DEFAULT_PLAN.csv_headers


def test_the_prompt_carries_the_numbered_columns_after_the_shared_prefix(tmp_path: Path) -> None:
    _write(tmp_path, {"data/sales.csv": SALES})
    listing = folder_listing(str(tmp_path))
    request = "sum the amount column of data/sales.csv"
    headers = table_headers(True, request, str(tmp_path), listing)
    prompt = generation_prompt(True, request, GNU, ("awk",), (), (), listing, table_headers=headers)
    assert prompt is not None
    expected = (
        "Columns of data/sales.csv (comma-separated, first line is a header): 1 date, 2 region, 3 product, 4 amount\n"
        "Note: in data/sales.csv (comma-separated, line 1 is the header): amount is field 4"
    )
    assert expected in prompt.context and "amount" not in str(prompt.prefix_messages())
    # After the folder's part, which stays the same for every request made in this folder.
    assert prompt.context.index("data/: sales.csv") < prompt.context.index(expected)
    plain = generation_prompt(True, "list the files", GNU, ("awk",), (), (), listing)
    assert plain is not None and "Columns of" not in plain.context
    assert plain.context == prompt.context.replace("\n" + expected, "")


def test_the_columns_the_request_names_are_found_by_their_words() -> None:
    columns = ("name", "age", "city", "email", "first_name", "x", "box")
    assert columns_said("list the unique cities", columns) == (3,)
    assert columns_said("print the name and email columns", columns) == (1, 4)
    assert columns_said("sort by First Name, then by ages", columns) == (2, 5)
    assert columns_said("the boxes", columns) == (7,)
    # Whole words only; a one-letter column is never "said".
    assert columns_said("velocity of the username, x-ray, emails-old, page", columns) == ()
    header = replace(parse_header("p.csv", b"name,age\n"), said=(2,))  # type: ignore[arg-type]
    assert header_lines(header)[1] == "Note: in p.csv (comma-separated, line 1 is the header): age is field 2"


def _prompt_through_the_dag(caro: Caro, request: str, folder: Path) -> str:
    inputs = caro.inputs(request, TextKind.REQUEST, RequestOptions(working_directory=str(folder)))
    return str(caro.driver.execute(["generation_prompt"], inputs=inputs)["generation_prompt"].messages())


def test_the_dag_wires_the_headers_and_keeps_them_from_a_remote_server(tmp_path: Path) -> None:
    _write(tmp_path, {"data/sales.csv": "zq_col_4417,region,amount\n"})
    request = "sum the amount column of data/sales.csv"
    here = Caro(backend="none")
    assert "1 zq_col_4417, 2 region, 3 amount" in _prompt_through_the_dag(here, request, tmp_path)
    remote = Caro(backend="vllm", llm_settings={"vllm.base_url": "https://gpu.example.com"})
    assert "zq_col_4417" not in _prompt_through_the_dag(remote, request, tmp_path)
    allowed = Caro(backend="vllm", llm_settings={"vllm.base_url": "https://gpu.example.com", "vllm.send_directory_names": True})
    assert "1 zq_col_4417" in _prompt_through_the_dag(allowed, request, tmp_path)


def test_the_node_is_in_the_dag_between_the_names_and_the_prompt(capsys: pytest.CaptureFixture[str]) -> None:
    from pipeline.cli.main import main

    assert main(["dag"]) == 0
    edges = capsys.readouterr().out.replace('"', "")
    for edge in ("folder_names -> table_headers", "task_text -> table_headers", "table_headers -> generation_prompt"):
        assert edge in edges, edge


def test_the_header_is_never_logged_stored_or_printed(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """File content, like the request: a real pipeline run leaves it in no log record, telemetry draft or stderr."""
    _write(tmp_path, {"data/sales.csv": "zq_secret_col_9051,amount\n1,2\n"})
    caplog.set_level(logging.DEBUG)
    handled = Caro(backend="none").run("sum the amount column of data/sales.csv", options=RequestOptions(working_directory=str(tmp_path)))
    records = [record.getMessage() for record in caplog.records]
    assert not any("zq_secret_col_9051" in message for message in records)
    assert "zq_secret_col_9051" not in repr(handled.drafts) and "zq_secret_col_9051" not in repr(handled.result)
    out, err = capfd.readouterr()
    assert "zq_secret_col_9051" not in out + err
    header = table_headers_for("data/sales.csv", str(tmp_path), folder_listing(str(tmp_path)))[0]
    assert "zq_secret" not in repr(header) and "sales" not in repr(header)
    assert (tmp_path / "data/sales.csv").read_text() == "zq_secret_col_9051,amount\n1,2\n"
