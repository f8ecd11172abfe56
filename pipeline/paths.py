"""Where caro keeps its state: one variable, CARO_HOME, moves all of it.

Without CARO_HOME the platform's own folders are used (XDG on Linux, ~/Library on macOS).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@dataclass(frozen=True)
class StatePaths:
    """The folders and files that hold caro's state."""

    config_file: Path
    data_dir: Path
    cache_dir: Path
    models_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "telemetry.db"


def state_paths(environ: os._Environ[str] | dict[str, str] | None = None) -> StatePaths:
    """The state locations for this environment (CARO_HOME wins over platform folders)."""
    env = os.environ if environ is None else environ
    home = env.get("CARO_HOME")
    if home:
        root = Path(home).expanduser()
        return StatePaths(
            config_file=root / "config.toml",
            data_dir=root / "data",
            cache_dir=root / "cache",
            models_dir=root / "models",
        )
    import platformdirs  # only when CARO_HOME is not set

    data = Path(platformdirs.user_data_dir("caro", appauthor=False))
    return StatePaths(
        config_file=Path(platformdirs.user_config_dir("caro", appauthor=False)) / "config.toml",
        data_dir=data,
        cache_dir=Path(platformdirs.user_cache_dir("caro", appauthor=False)),
        models_dir=data / "models",
    )
