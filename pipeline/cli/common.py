"""Helpers the commands share: settings from flags, reading text from words or stdin, writing data."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from pipeline.cli.text import read_text  # noqa: F401  (the commands' one way to read text)
from pipeline.settings import OutputFormat, Settings, load_settings


def config_path(flag: Path | None) -> Path:
    """The user config file: --config, then CARO_CONFIG, then the one under CARO_HOME/platform folders."""
    if flag is not None:
        return flag
    if os.environ.get("CARO_CONFIG"):
        return Path(os.environ["CARO_CONFIG"])
    from pipeline.paths import state_paths

    return state_paths().config_file


def settings_from(config: Path | None, **flags: Any) -> Settings:
    """Effective settings with the given flags on top (None flags are not set)."""
    values = {k: (v.value if hasattr(v, "value") else v) for k, v in flags.items() if v is not None}
    return load_settings(config_path(config), flags=values)


def data_text(data: dict[str, Any], fmt: OutputFormat) -> str:
    """One data object as JSON (one line) or YAML text."""
    if fmt is OutputFormat.YAML:
        import yaml

        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return json.dumps(data, ensure_ascii=False) + "\n"


def emit_data(data: dict[str, Any], fmt: OutputFormat) -> None:
    """Write one data object to stdout as JSON or YAML."""
    sys.stdout.write(data_text(data, fmt))
    sys.stdout.flush()
