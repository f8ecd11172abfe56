"""Helpers the commands share: settings from flags, reading text from words or stdin, writing data."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from pipeline.errors import usage_error
from pipeline.settings import OutputFormat, Settings, load_settings

# Enough to hold the longest text the parse stage accepts, in any UTF-8 encoding of it; more
# than that is never read, so a huge pipe cannot exhaust memory.
_STDIN_LIMIT = 4 * 128 * 1024 + 4


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


def read_text(words: list[str] | None, prompt: str | None = None, *, what: str = "request") -> str:
    """The text from -p, from the words, or from stdin when it is piped.

    Undecodable bytes are kept as surrogates so the parse stage reports them as invalid UTF-8.
    """
    if prompt is not None and words:
        raise usage_error(f"give the {what} either as words or with -p, not both")
    if prompt is not None:
        return prompt
    if words:
        return " ".join(words)
    if sys.stdin is None or sys.stdin.isatty():
        raise usage_error(f"no {what} given", hint='caro "find python files modified last week"')
    data = sys.stdin.buffer.read(_STDIN_LIMIT)
    return data.decode("utf-8", errors="surrogateescape")


def emit_data(data: dict[str, Any], fmt: OutputFormat) -> None:
    """Write one data object to stdout as JSON or YAML."""
    if fmt is OutputFormat.YAML:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()
