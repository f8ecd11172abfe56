"""Verification stamps: what a model file looked like on disk when its sha256 last matched.

Hashing the default model (1.1 GB) takes a second or two; a `stat` takes microseconds. So the
sha256 is checked in full when the file is pulled or verified, and the file's identity at that
moment (size, mtime, ctime and inode) is recorded beside it in `models_dir/.verified/NAME.json`.
Before a load, a file whose identity still matches its stamp is taken as verified; anything else
(no stamp, another file, a write since, a new catalogue checksum) is hashed again first.

What a stamp cannot see: bytes that change without any write through the file system (a
failing disk). `caro model verify` always hashes in full for that. The ctime is part of the
identity because no user-level tool can set it: `touch -r` can put an mtime back after an
in-place write, but the write has already moved the ctime on.

Stamps are a cache: one that cannot be written (a read-only folder) costs a full hash per load,
never a wrong answer, and one that cannot be read is treated as absent.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from pipeline.models.catalogue import ModelEntry

STAMP_FOLDER = ".verified"
_VERSION = 1


@dataclass(frozen=True)
class FileIdentity:
    """The parts of a file's `stat` that any write through the file system changes."""

    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        info = path.stat()
        return cls(info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino)


def stamp_path(models_dir: Path, entry: ModelEntry) -> Path:
    """Where the stamp of a catalogue model lives (one per model, whichever copy was verified)."""
    return models_dir / STAMP_FOLDER / f"{entry.name}.json"


def _record(entry: ModelEntry, path: Path, identity: FileIdentity) -> dict[str, object]:
    return {"version": _VERSION, "path": str(path), "sha256": entry.sha256, **asdict(identity)}


def is_current(models_dir: Path, entry: ModelEntry, path: Path, identity: FileIdentity) -> bool:
    """Whether the stamp says this very file, unchanged since, matched the catalogue's sha256."""
    try:
        stored = json.loads(stamp_path(models_dir, entry).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return stored == _record(entry, path, identity)


def record(models_dir: Path, entry: ModelEntry, path: Path, identity: FileIdentity) -> bool:
    """Record that `path`, as `identity` describes it, matched the sha256; False when it cannot be written.

    Written to a private file and renamed into place, so a concurrent reader sees the old stamp
    or the new one, never half of one.
    """
    target = stamp_path(models_dir, entry)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, scratch = tempfile.mkstemp(prefix=f".{entry.name}.", suffix=".tmp", dir=target.parent)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(_record(entry, path, identity), handle)
        os.replace(scratch, target)
        return True
    except OSError:
        Path(scratch).unlink(missing_ok=True)
        return False


def forget(models_dir: Path, entry: ModelEntry) -> None:
    """Remove a model's stamp (its file failed a check, or is gone); quietly when there is none."""
    try:
        stamp_path(models_dir, entry).unlink(missing_ok=True)
    except OSError:
        pass  # a read-only folder: the stale stamp no longer matches the file anyway
