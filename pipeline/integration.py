"""Shell integration: the snippet `caro init bash|zsh|fish` prints, and the key it binds.

The snippets are data (`configs/shell/caro.{bash,zsh,fish}`); this module only fills in the key
sequence, in the notation of each shell. A key comes from a small grammar (`alt-e`, `ctrl-g`,
`ctrl-alt-e`) so that what reaches the snippet is a handful of known characters, never text
that a shell would interpret.

The binding talks to caro through the plain CLI contract (docs/shell.md, "How the key talks to
caro"): the request goes on stdin of `caro --dry-run --output plain --shell SHELL`; exit 0 with
the command on stdout puts it on the line; any other exit leaves the line alone; stderr is for
the person and is shown above the prompt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from pipeline.paths import REPO_CONFIGS

SNIPPETS = REPO_CONFIGS / "shell"
KEY_PLACEHOLDER = "@CARO_KEY@"
DEFAULT_KEY = "alt-e"


class InitShell(str, Enum):
    """The interactive shells caro can bind a key in."""

    BASH = "bash"
    ZSH = "zsh"
    FISH = "fish"


_KEY = re.compile(r"^(?P<mods>(?:ctrl-|alt-|ctrl-alt-|alt-ctrl-))(?P<char>[a-z0-9])$")

# Ctrl keys the terminal or every line editor needs: interrupt, end of input, backspace, tab,
# enter, flow control, suspend. Binding one of them would take it away from the user.
_RESERVED_CTRL = {
    "c": "interrupt",
    "d": "end of input",
    "h": "backspace",
    "i": "tab",
    "j": "enter",
    "m": "enter",
    "q": "flow control",
    "s": "flow control",
    "z": "suspend",
}


@dataclass(frozen=True)
class Key:
    """A key chord: a letter or digit with Ctrl and/or Alt."""

    char: str
    ctrl: bool
    alt: bool

    @property
    def name(self) -> str:
        return ("ctrl-" if self.ctrl else "") + ("alt-" if self.alt else "") + self.char

    def notation(self, shell: InitShell) -> str:
        """The key sequence as the shell's binding command writes it (Alt is an ESC prefix)."""
        if shell is InitShell.ZSH:
            base = f"^{self.char.upper()}" if self.ctrl else self.char
            return ("^[" if self.alt else "") + base
        if shell is InitShell.BASH:
            base = f"\\C-{self.char}" if self.ctrl else self.char
        else:
            base = f"\\c{self.char}" if self.ctrl else self.char
        return ("\\e" if self.alt else "") + base


def parse_key(value: object) -> str:
    """A valid key name (`alt-e`, `ctrl-g`, `ctrl-alt-e`), normalised; ValueError otherwise."""
    text = str(value).strip().lower().replace("+", "-").replace("meta-", "alt-")
    match = _KEY.match(text)
    if match is None:
        raise ValueError("must be alt-<key>, ctrl-<key> or ctrl-alt-<key>, where <key> is a letter or digit, e.g. alt-e")
    mods, char = match.group("mods"), match.group("char")
    ctrl = "ctrl" in mods
    if ctrl:  # with or without Alt: the terminal still turns Ctrl-C into an interrupt
        if char in _RESERVED_CTRL:
            raise ValueError(f"ctrl-{char} is taken by the terminal ({_RESERVED_CTRL[char]}); choose another key")
        if char.isdigit():
            raise ValueError("ctrl with a digit cannot be told apart by most terminals; choose a letter")
    return Key(char, ctrl, "alt" in mods).name


def key_from_name(name: str) -> Key:
    """The Key for a name `parse_key` accepted."""
    normalised = parse_key(name)
    return Key(normalised[-1], "ctrl-" in normalised, "alt-" in normalised)


def snippet(shell: InitShell, key_name: str = DEFAULT_KEY) -> str:
    """The rc-file snippet for `shell`, binding `key_name`."""
    key = key_from_name(key_name)
    template = (SNIPPETS / f"caro.{shell.value}").read_text(encoding="utf-8")
    if KEY_PLACEHOLDER not in template:  # a broken install, not a user error
        raise RuntimeError(f"configs/shell/caro.{shell.value} has no key placeholder")
    return template.replace(KEY_PLACEHOLDER, key.notation(shell)).replace("@CARO_KEY_NAME@", key.name)
