"""`caro config get|set|show|path|reset`: the user's TOML settings file."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from pipeline.cli.common import config_path, emit_data, settings_from
from pipeline.cli.options import ConfigOpt, OutputOpt, YesOpt, sub_app
from pipeline.errors import CaroError, ExitCode
from pipeline.settings import OutputFormat

config_app = sub_app("Read and change settings (flags > CARO_* environment > user file > defaults).")

KeyArg = Annotated[str, typer.Argument(help="A setting name, e.g. safety or telemetry.enabled.")]


def _shown(key: str, value: Any) -> Any:
    """The value as printed: secrets are masked, so a shared terminal or log never shows them."""
    return ("****" if value else "") if key.endswith("api_key") else value


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or "-"
    return str(value)


@config_app.command("get")
def get(key: KeyArg, output: OutputOpt = None, config: ConfigOpt = None) -> int:
    """Print the effective value of one setting."""
    from pipeline.settings import check_key

    check_key(key)
    settings = settings_from(config)
    value = _shown(key, settings[key])
    fmt = output or settings.output
    if fmt is OutputFormat.PLAIN:
        sys.stdout.write(_plain(value) + "\n")
    else:
        emit_data({"key": key, "value": list(value) if isinstance(value, tuple) else value, "source": settings.layers[key].value}, fmt)
    return 0


@config_app.command("set")
def set_(key: KeyArg, value: Annotated[str, typer.Argument(help="The new value.")], config: ConfigOpt = None) -> int:
    """Store a setting in the user config file (validated first)."""
    from pipeline.settings import set_user_value

    stored = set_user_value(config_path(config), key, value)
    sys.stderr.write(f"caro: {key} = {_plain(_shown(key, stored))}\n")
    return 0


@config_app.command("show")
def show(output: OutputOpt = None, config: ConfigOpt = None) -> int:
    """Print every setting with its effective value and where it came from."""
    from pipeline.settings import KEYS

    settings = settings_from(config)
    fmt = output or settings.output
    if fmt is OutputFormat.PLAIN:
        width = max(map(len, KEYS))
        for name in KEYS:
            sys.stdout.write(f"{name:<{width}}  {_plain(_shown(name, settings[name])):<12}  ({settings.layers[name].value})\n")
    else:
        emit_data(
            {
                name: {
                    "value": list(settings[name]) if isinstance(settings[name], tuple) else _shown(name, settings[name]),
                    "source": settings.layers[name].value,
                    "env": spec.env_var,
                    "help": spec.help,
                }
                for name, spec in KEYS.items()
            },
            fmt,
        )
    return 0


@config_app.command("path")
def path(config: ConfigOpt = None) -> int:
    """Print the path of the user config file (it may not exist yet)."""
    sys.stdout.write(f"{config_path(config)}\n")
    return 0


@config_app.command("reset")
def reset(yes: YesOpt = False, config: ConfigOpt = None) -> int:
    """Remove the user config file (kept as config.toml.bak), back to the defaults."""
    from pipeline.settings import unset_user_values

    target = config_path(config)
    if not target.exists():
        sys.stderr.write("caro: no user config file; the defaults are in use\n")
        return 0
    if not yes:
        if sys.stdin is None or not sys.stdin.isatty():
            raise CaroError("reset needs confirmation", code="declined", exit_code=ExitCode.DECLINED, hint="pass -y")
        sys.stderr.write("Reset all settings to the defaults? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return int(ExitCode.DECLINED)
    unset_user_values(target)
    sys.stderr.write("caro: settings reset to the defaults (the old file is kept as config.toml.bak)\n")
    return 0
