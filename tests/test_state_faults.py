"""Unusable state (issue 12, finding 2): each is a CaroError with its code, never an internal error.

Here at the library level; tests/test_faults.py runs the same faults as real processes, on real
read-only and full file systems.
"""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.errors import CaroError, ExitCode, os_reason, state_unwritable
from pipeline.paths import state_paths
from pipeline.settings import load_settings, set_user_value, unset_user_values


def _user_config(content: bytes) -> Path:
    """The user config file under this test's CARO_HOME, holding `content`."""
    config = state_paths().config_file
    config.parent.mkdir(parents=True)
    config.write_bytes(content)
    return config


def test_a_config_file_that_is_not_utf8_is_a_config_error(caro_home: Path) -> None:
    config = _user_config(b'safety = "strict"\n# caf\xe9\n')  # Latin-1, as an old editor saves it
    with pytest.raises(CaroError) as caught:
        load_settings(config)
    assert caught.value.code == "config_invalid" and caught.value.exit_code is ExitCode.ERROR
    assert caught.value.message == "the user config file is not UTF-8 text"
    assert "caro config reset" in (caught.value.hint or "")


def test_a_config_file_that_is_not_utf8_gives_a_json_error_under_output_json(caro_home: Path, capsys) -> None:
    config = _user_config(b"\xff\xfe\x00s")
    assert main(["check", "--output", "json", "ls"]) == ExitCode.ERROR
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["code"] == "config_invalid" and captured.err == ""
    assert config.read_bytes() == b"\xff\xfe\x00s"  # the user's file is left as it was


def test_caro_home_naming_a_file_means_no_settings_and_writes_say_why(tmp_path: Path, monkeypatch, capsys) -> None:
    home = tmp_path / "not-a-folder"
    home.write_text("x")
    monkeypatch.setenv("CARO_HOME", str(home))
    settings = load_settings(state_paths().config_file)  # no user layer: the defaults
    assert settings["safety"] == "moderate"
    assert main(["check", "ls -la"]) == ExitCode.SUCCESS  # needs no state, so it works
    capsys.readouterr()
    with pytest.raises(CaroError) as caught:
        set_user_value(state_paths().config_file, "safety", "strict")
    assert caught.value.code == "config_unwritable"
    assert caught.value.message == "the user config file cannot be written: a file stands where its folder should be; nothing was changed"
    assert caught.value.hint == "CARO_HOME must name a folder, or be unset"
    assert home.read_text() == "x"


def test_a_failed_config_write_leaves_no_tmp_file_and_the_old_file(caro_home: Path) -> None:
    config = _user_config(b'safety = "moderate"\n')
    # A folder where the temporary file goes makes the write fail after the folder was made.
    config.with_suffix(".toml.tmp").mkdir()
    with pytest.raises(CaroError) as caught:
        set_user_value(config, "safety", "strict")
    assert caught.value.code == "config_unwritable"
    assert config.read_text() == 'safety = "moderate"\n'


def test_reset_that_cannot_move_the_file_is_a_config_error(caro_home: Path) -> None:
    config = _user_config(b'safety = "strict"\n')
    config.with_suffix(".toml.bak").mkdir()
    (config.with_suffix(".toml.bak") / "occupied").write_text("")  # a non-empty folder cannot be replaced
    with pytest.raises(CaroError) as caught:
        unset_user_values(config)
    assert caught.value.code == "config_unwritable" and config.read_text() == 'safety = "strict"\n'


@pytest.mark.parametrize(
    ("number", "reason", "hint"),
    [
        (errno.ENOSPC, "the disk is full", "free some space on the disk that holds X"),
        (errno.EROFS, "it is read-only", "make X writable, or point CARO_HOME at a writable folder"),
        (errno.EACCES, "it is read-only", "make X writable, or point CARO_HOME at a writable folder"),
        (errno.ENOTDIR, "a file stands where its folder should be", "CARO_HOME must name a folder, or be unset"),
        (errno.EIO, "input/output error", "check X"),
    ],
)
def test_os_errors_become_reasons_without_paths(number: int, reason: str, hint: str) -> None:
    error = OSError(number, "ignored" if number != errno.EIO else "Input/output error", "/home/alice/secret")
    assert os_reason(error) == reason
    caro_error = state_unwritable(error, "thing", code="c", where="X")
    assert caro_error.message == f"the thing cannot be written: {reason}" and caro_error.hint == hint
    assert "alice" not in caro_error.message + (caro_error.hint or "")
