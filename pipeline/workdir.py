"""The names of the files and folders in the working directory, bounded, for the model's prompt.

A small model that never sees the folder invents paths (`/var/log/app-2.log` for
`logs/app-2.log`, `data_directory` for `data`). The listing gives it the names to use: the
entries of the working directory and, one level down, the entries of its folders, as paths
relative to it. Names only: nothing is opened or read, and the listing is never logged or
stored (it is a value of one request, like the request itself). Where it may go is decided by
the generate stage: a model on this machine always, a server elsewhere only when the user says
so (`vllm.send_directory_names`), as the names then leave the machine.

The bounds keep the prompt small whatever the folder holds: at most `MAX_SCAN` entries are read
from any one folder, `PER_FOLDER` of a folder's entries are listed, `MAX_NAMES` in all, and
names longer than `MAX_NAME_CHARS` or holding control characters are left out.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_NAMES = 100
PER_FOLDER = 12
MAX_SCAN = 400
MAX_NAME_CHARS = 64
# Folders whose contents say nothing about the task and can be huge.
_OPAQUE = frozenset({".git", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache", ".cache"})
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class FolderListing:
    """Relative names in the working directory (folders end in `/`), top level first, and whether some were left out."""

    names: tuple[str, ...] = ()
    truncated: bool = False

    def __bool__(self) -> bool:
        return bool(self.names)

    def with_extension(self, extensions: tuple[str, ...]) -> tuple[str, ...]:
        """The listed files whose names end in one of `extensions` (`.csv`, `.tar.gz`)."""
        return tuple(n for n in self.names if not n.endswith("/") and n.lower().endswith(extensions))

    def folders(self) -> tuple[str, ...]:
        """The listed folders, without their trailing `/`."""
        return tuple(n[:-1] for n in self.names if n.endswith("/"))


def _entries(path: str) -> tuple[list[tuple[str, bool]], bool]:
    """(name, is a folder) for up to MAX_SCAN entries of a folder, sorted, and whether it held more."""
    found: list[tuple[str, bool]] = []
    more = False
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                if len(found) >= MAX_SCAN:
                    more = True
                    break
                name = entry.name
                if len(name) > MAX_NAME_CHARS or _UNPRINTABLE.search(name):
                    more = True
                    continue
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    is_dir = False
                found.append((name, is_dir))
    except OSError:
        return [], False
    # Folders' own names sort among files; hidden entries after the rest, as `ls -A` users expect them less.
    found.sort(key=lambda item: (item[0].startswith("."), item[0].lower()))
    return found, more


def folder_listing(cwd: str, *, max_names: int = MAX_NAMES, per_folder: int = PER_FOLDER) -> FolderListing:
    """The bounded listing of `cwd`: its entries, then its folders' entries (one level down)."""
    top, truncated = _entries(cwd)
    names = [f"{name}/" if is_dir else name for name, is_dir in top[:max_names]]
    truncated |= len(top) > max_names
    for name, is_dir in top:
        if not is_dir or name in _OPAQUE:
            continue
        if len(names) >= max_names:
            truncated = True
            break
        children, more = _entries(os.path.join(cwd, name))
        room = min(per_folder, max_names - len(names))
        names.extend(f"{name}/{child}/" if child_is_dir else f"{name}/{child}" for child, child_is_dir in children[:room])
        truncated |= more or len(children) > room
    return FolderListing(tuple(names), truncated)


def render_listing(listing: FolderListing) -> str:
    """The listing as prompt lines: the top level on one line, then one line per folder
    (`logs/: access.log app-1.log`), which costs the model fewer tokens than repeating the
    folder in every path. A name with spaces is quoted; `...` marks a listing cut short."""

    def shown(name: str) -> str:
        return f"'{name}'" if " " in name else name

    top: list[str] = []
    below: dict[str, list[str]] = {}
    for name in listing.names:
        folder, sep, rest = name.rstrip("/").partition("/")
        if sep:
            below.setdefault(folder, []).append(shown(rest + ("/" if name.endswith("/") else "")))
        else:
            top.append(shown(name))
    lines = [" ".join(top), *(f"{shown(folder + '/')}: {' '.join(children)}" for folder, children in below.items())]
    return "\n".join(lines) + (" ..." if listing.truncated else "")


_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def _on_this_machine(url: str) -> bool:
    """Whether a server URL names this machine (a loopback name or address)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return False
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def names_may_be_sent(settings: Mapping[str, Any]) -> bool:
    """Whether the working directory's names may go into the prompt for these settings.

    Always for models on this machine (llama.cpp, vLLM in process, a vLLM server on a loopback
    address); for a vLLM server elsewhere only when `vllm.send_directory_names` is on, as the
    names then leave the machine. Every backend of the chain counts (the fallbacks get the
    same prompt).
    """
    from pipeline.backends.chain import backend_names

    for name in backend_names(settings):
        remote = name == "vllm" and settings.get("vllm.mode", "http") == "http" and not _on_this_machine(
            str(settings.get("vllm.base_url", ""))
        )
        if remote and not settings.get("vllm.send_directory_names", False):
            return False
    return True
