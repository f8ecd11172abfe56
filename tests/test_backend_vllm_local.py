"""In-process vLLM: a real generate where vLLM and a CUDA GPU exist; everywhere, the absent case."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from pipeline.backends.base import BackendFailure
from pipeline.backends.vllm_local import INSTALL_HINT, VllmLocalBackend
from pipeline.values import GenerationErrorKind
from tests.conftest import REPO
from tests.tiny_model import LIST_FILES

# Which model the GPU test loads: a Hugging Face id (from the machine's cache or the hub) or a folder.
GPU_TEST_MODEL = os.environ.get("VLLM_TEST_MODEL", "HuggingFaceTB/SmolLM2-135M-Instruct")


def _vllm_with_cuda() -> bool:
    if importlib.util.find_spec("vllm") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


needs_vllm_gpu = pytest.mark.skipif(
    not _vllm_with_cuda(), reason="vLLM in-process needs the vllm package and a CUDA GPU (run on a lent GPU machine)"
)


@needs_vllm_gpu
def test_in_process_vllm_answers_with_a_command() -> None:
    backend = VllmLocalBackend(GPU_TEST_MODEL, max_model_len=2048, gpu_memory_utilization=0.3)
    reply = backend.generate(LIST_FILES, timeout_s=300)
    assert reply.backend == "vllm" and reply.command
    assert reply.completion_tokens is not None and reply.completion_tokens > 0
    assert backend.load_seconds is not None
    again = VllmLocalBackend(GPU_TEST_MODEL, max_model_len=2048, gpu_memory_utilization=0.3)
    assert again.generate(LIST_FILES, timeout_s=300).command == reply.command  # one engine, temperature 0


def test_without_vllm_the_backend_is_not_found_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail even where it is installed
    with pytest.raises(BackendFailure) as caught:
        VllmLocalBackend("some/model").generate(LIST_FILES, timeout_s=5)
    assert caught.value.kind is GenerationErrorKind.NOT_FOUND
    assert INSTALL_HINT in caught.value.message
    assert os.environ.get("VLLM_NO_USAGE_STATS") == "1"
    assert "DO_NOT_TRACK" not in os.environ  # caro's own telemetry consent is the user's, untouched


def test_an_unset_model_is_not_configured() -> None:
    with pytest.raises(BackendFailure) as caught:
        VllmLocalBackend("").generate(LIST_FILES, timeout_s=5)
    assert caught.value.kind is GenerationErrorKind.NOT_CONFIGURED
    assert VllmLocalBackend("").health() is False


def test_importing_caro_never_imports_vllm() -> None:
    code = (
        "import sys\n"
        "import pipeline.backends.chain, pipeline.backends.vllm_local, pipeline.backends.openai_http\n"
        "import pipeline.backends.llama_cpp, pipeline.cli.main, pipeline.service\n"
        "from pipeline.backends.chain import build_chain\n"
        "build_chain({'backend': 'vllm', 'vllm.mode': 'local', 'vllm.model': 'm', 'fallback': ()}, model_path_resolver=str)\n"
        "loaded = sorted(m for m in sys.modules if m == 'vllm' or m.startswith('vllm.') or m == 'llama_cpp')\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
