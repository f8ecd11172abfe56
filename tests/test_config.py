"""Settings: precedence of flags, environment, user file and defaults; the config commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.cli.main import main
from pipeline.errors import CaroError, ExitCode
from pipeline.settings import KEYS, Layer, load_settings, set_user_value


def test_defaults_define_every_key(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "none.toml", environ={})
    assert set(settings.values) == set(KEYS)
    assert all(layer is Layer.DEFAULT for layer in settings.layers.values())
    assert settings["safety"] == "moderate" and settings["telemetry.enabled"] is False


def test_precedence_is_flag_then_env_then_user_then_default(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    set_user_value(config, "safety", "strict")
    set_user_value(config, "output", "yaml")
    set_user_value(config, "telemetry.enabled", "true")
    env = {"CARO_OUTPUT": "json", "CARO_SHELL": "zsh"}
    settings = load_settings(config, flags={"shell": "bash"}, environ=env)
    assert (settings["shell"], settings.layers["shell"]) == ("bash", Layer.FLAG)
    assert (settings["output"], settings.layers["output"]) == ("json", Layer.ENV)
    assert (settings["safety"], settings.layers["safety"]) == ("strict", Layer.USER)
    assert (settings["telemetry.enabled"], settings.layers["telemetry.enabled"]) == (True, Layer.USER)
    assert (settings["backend"], settings.layers["backend"]) == ("llama_cpp", Layer.DEFAULT)


def test_nested_keys_are_stored_as_toml_tables(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    set_user_value(config, "telemetry.enabled", "yes")
    assert "[telemetry]" in config.read_text() and "enabled = true" in config.read_text()


def test_unknown_keys_in_the_user_file_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('colour = "red"\n')
    with pytest.raises(CaroError, match="unknown keys: colour"):
        load_settings(config, environ={})


def test_config_commands_round_trip(capsys, caro_home: Path) -> None:
    assert main(["config", "set", "safety", "strict"]) == 0
    assert main(["config", "get", "safety"]) == 0
    assert capsys.readouterr().out.strip() == "strict"
    assert main(["config", "show", "--output", "json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["safety"] == {"value": "strict", "source": "user", "env": "CARO_SAFETY", "help": KEYS["safety"].help}
    assert main(["config", "path"]) == 0
    assert capsys.readouterr().out.strip() == str(caro_home / "config.toml")
    assert main(["config", "reset", "-y"]) == 0
    assert (caro_home / "config.toml.bak").exists() and not (caro_home / "config.toml").exists()
    assert main(["config", "get", "safety"]) == 0
    assert capsys.readouterr().out.strip() == "moderate"


def test_config_flag_points_at_another_file(capsys, tmp_path: Path) -> None:
    other = tmp_path / "other.toml"
    assert main(["config", "set", "--config", str(other), "shell", "dash"]) == 0
    assert 'shell = "dash"' in other.read_text()
    assert main(["config", "get", "--config", str(other), "shell"]) == 0
    assert capsys.readouterr().out.strip() == "dash"


def test_the_user_safety_level_reaches_the_pipeline(capsys) -> None:
    assert main(["config", "set", "safety", "strict"]) == 0
    capsys.readouterr()
    assert main(["check", "--output", "json", "rm -rf ./build"]) == ExitCode.NEEDS_CONFIRMATION
    assert json.loads(capsys.readouterr().out)["action"] == "confirm"


def test_reset_without_a_terminal_needs_yes(capsys, caro_home: Path, monkeypatch) -> None:
    import io

    assert main(["config", "set", "safety", "strict"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["config", "reset"]) == ExitCode.DECLINED
    assert (caro_home / "config.toml").exists()


def test_the_api_key_is_never_printed(capsys, monkeypatch) -> None:
    monkeypatch.setenv("CARO_VLLM_API_KEY", "sk-secret-1234")
    assert main(["config", "get", "vllm.api_key"]) == 0
    assert main(["config", "show"]) == 0
    assert main(["config", "show", "--output", "json"]) == 0
    assert main(["config", "set", "vllm.api_key", "sk-other-5678"]) == 0
    captured = capsys.readouterr()
    assert "sk-secret" not in captured.out + captured.err and "sk-other" not in captured.out + captured.err
    assert "****" in captured.out
