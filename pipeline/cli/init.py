"""`caro init bash|zsh|fish`: print the shell-integration snippet for the user's rc file."""

from __future__ import annotations

import sys
from pathlib import Path

from pipeline.cli.common import settings_from
from pipeline.errors import usage_error
from pipeline.integration import InitShell, parse_key, snippet

_INSTALL = {
    InitShell.BASH: ("~/.bashrc", 'eval "$(caro init bash)"'),
    InitShell.ZSH: ("~/.zshrc", 'eval "$(caro init zsh)"'),
    InitShell.FISH: ("~/.config/fish/config.fish", "caro init fish | source"),
}


def print_snippet(*, shell: InitShell, key: str | None, config: Path | None) -> int:
    """Write the snippet for `shell` to stdout; the key comes from --key, else the `integration.key` setting."""
    if key is None:
        key_name = settings_from(config)["integration.key"]
    else:
        try:
            key_name = parse_key(key)
        except ValueError as exc:
            raise usage_error(f"invalid value for --key: {exc}", hint="caro init --help") from None
    sys.stdout.write(snippet(shell, key_name))
    if sys.stdout.isatty():  # someone reading it rather than an rc file loading it
        rc_file, line = _INSTALL[shell]
        sys.stderr.write(f"caro: to load this in every new shell, add this line to {rc_file}: {line}\n")
    return 0
