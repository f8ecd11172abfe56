"""Options shared by several commands, declared once; each help text names its environment variable."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pipeline.settings import OutputFormat
from pipeline.values import SafetyLevel, Shell

OutputOpt = Annotated[
    Optional[OutputFormat],
    typer.Option("--output", "-o", case_sensitive=False, help="Output format: plain, json or yaml. [env: CARO_OUTPUT]"),
]
ShellOpt = Annotated[
    Optional[Shell],
    typer.Option("--shell", case_sensitive=False, help="Target shell (default: from $SHELL, else sh). [env: CARO_SHELL]"),
]
SafetyOpt = Annotated[
    Optional[SafetyLevel],
    typer.Option("--safety", case_sensitive=False, help="Safety level: strict, moderate or permissive. [env: CARO_SAFETY]"),
]
ConfigOpt = Annotated[
    Optional[Path],
    typer.Option("--config", help="User config file to read and write instead of the default one. [env: CARO_CONFIG]"),
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def sub_app(help_text: str) -> typer.Typer:
    """A command group (`caro config`, `caro model`, ...) with caro's help and error conventions."""
    return typer.Typer(
        help=help_text,
        add_completion=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
