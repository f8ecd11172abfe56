"""Real file-system faults for tests: a folder that is read-only, a disk that is full.

Both are made the honest way: a small tmpfs mounted over a folder (read-only by remounting it,
full by filling it), so caro meets EROFS and ENOSPC from the kernel exactly as a user would.
That needs root with CAP_SYS_ADMIN (CI and the development container have it). Without it, a
read-only folder falls back to permissions (which bind a non-root user), and a full disk
cannot be made: those tests skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _mount(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", *args], capture_output=True, text=True, check=False)


def _unmount(folder: Path) -> None:
    subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def can_mount() -> bool:
    """Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, and a `mount` command)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    probe = Path(os.environ.get("TMPDIR", "/tmp")) / f"caro-mount-probe-{os.getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        ok = _mount("-t", "tmpfs", "-o", "size=16k", "tmpfs", str(probe)).returncode == 0
        if ok:
            _unmount(probe)
        return ok
    finally:
        probe.rmdir()


@contextmanager
def tmpfs(folder: Path, size: str = "256k") -> Iterator[Path]:
    """A fresh tmpfs of `size` mounted on `folder` (created if needed), unmounted afterwards."""
    if not can_mount():
        pytest.skip("a tmpfs cannot be mounted here (needs root with CAP_SYS_ADMIN)")
    folder.mkdir(parents=True, exist_ok=True)
    done = _mount("-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(folder))
    if done.returncode != 0:
        pytest.skip(f"a tmpfs cannot be mounted here: {done.stderr.strip()}")
    try:
        yield folder
    finally:
        _unmount(folder)


@contextmanager
def own_folder(folder: Path, size: str = "1m") -> Iterator[Path]:
    """A folder that can be made read-only: a tmpfs where one can be mounted, else (not root) a plain one."""
    if can_mount() or os.geteuid() == 0:  # root that cannot mount: tmpfs() skips, saying why
        with tmpfs(folder, size):
            yield folder
    else:
        folder.mkdir(parents=True, exist_ok=True)
        yield folder


def make_read_only(folder: Path) -> Callable[[], None]:
    """Make a folder made by `tmpfs` (or any folder, without root) read-only; returns the undo."""
    if can_mount() and os.path.ismount(folder):
        done = _mount("-o", "remount,ro", str(folder))
        assert done.returncode == 0, done.stderr

        def writable_again() -> None:
            _mount("-o", "remount,rw", str(folder))

        return writable_again
    if os.geteuid() == 0:
        pytest.skip("a read-only folder cannot be made here: root ignores permissions and cannot mount")
    modes = {path: path.stat().st_mode for path in [folder, *folder.rglob("*")]}
    for path in modes:
        path.chmod(0o555 if path.is_dir() else 0o444)

    def restore() -> None:
        for path, mode in modes.items():
            path.chmod(mode)

    return restore


def fill(folder: Path) -> Path:
    """Fill the file system that holds `folder` to the last byte; the filler file (delete it to free the space)."""
    filler = folder / ".filler"
    with filler.open("wb", buffering=0) as out:
        for size in (65536, 4096, 1):  # big blocks first, then whatever is left, byte by byte
            block = b"\0" * size
            try:
                while out.write(block):
                    pass
            except OSError:
                continue
    return filler
