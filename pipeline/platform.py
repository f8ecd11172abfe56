"""The platform a command is written for: OS, userland flavour and shell, detected once per process."""

from __future__ import annotations

import functools
import os
import platform as _stdlib_platform
from pathlib import Path

from pipeline.values import Platform, Shell, Userland

_BSD_SYSTEMS = {"darwin", "freebsd", "openbsd", "netbsd", "dragonfly"}


@functools.cache
def detected_os() -> str:
    """This machine's OS family in lower case ("linux", "macos", "freebsd", ...)."""
    system = _stdlib_platform.system().lower()
    return "macos" if system == "darwin" else system


@functools.cache
def detected_userland() -> Userland:
    """GNU on Linux (coreutils), BSD on macOS and the BSDs.

    A Mac with GNU coreutils first on PATH still gets BSD: caro writes for the utilities that
    ship with the system, which are the ones a script will find. Override with `userland = "gnu"`.
    """
    system = _stdlib_platform.system().lower()
    return Userland.BSD if system in _BSD_SYSTEMS else Userland.GNU


def detected_shell(environ: dict[str, str] | os._Environ[str] | None = None) -> Shell:
    """The user's login shell when it is a POSIX-family shell caro targets, else sh."""
    env = os.environ if environ is None else environ
    name = Path(env.get("SHELL", "")).name
    try:
        return Shell(name)
    except ValueError:
        return Shell.SH


def resolve_platform(shell: Shell | None, userland: Userland | None) -> Platform:
    """The platform profile, with explicit choices overriding detection."""
    return Platform(
        os=detected_os(),
        userland=userland or detected_userland(),
        shell=shell or detected_shell(),
    )
