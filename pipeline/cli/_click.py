"""The click classes that typer runs on.

typer 0.26 and later vendor an adapted click as `typer._click` instead of depending on the
`click` package; older releases use `click`. Error handling needs click's exception classes,
so they are taken from wherever this typer gets them, in this one place. `Exit` and `Abort`
are typer's public ones.
"""

from __future__ import annotations

from typer import Abort, Exit

try:  # typer >= 0.26
    from typer._click.core import Context
    from typer._click.exceptions import ClickException, UsageError
    from typer._click.formatting import HelpFormatter
except ImportError:  # pragma: no cover - typer < 0.26
    from click import Context  # type: ignore[no-redef]
    from click.exceptions import ClickException, UsageError  # type: ignore[no-redef]
    from click.formatting import HelpFormatter  # type: ignore[no-redef]

__all__ = ["Abort", "ClickException", "Context", "Exit", "HelpFormatter", "UsageError"]
