"""The fallback chain of backends, built from the settings: the configured backend, then `fallback`.

Building a chain is cheap and never loads a model or opens a connection: backends load or
connect on their first request. Where the model file comes from is injectable
(`model_path_resolver`), so that tests and other front ends can point at any GGUF file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.backends.base import Backend, BackendChain, BackendFailure, Prompt, Reply
from pipeline.errors import CaroError
from pipeline.values import GenerationErrorKind

ModelPathResolver = Callable[[str], Path]


def catalogue_model_path(name_or_path: str) -> Path:
    """The GGUF file for the `model` setting: a catalogue model's file, or a path to a .gguf file."""
    from pipeline.models.store import resolve_model
    from pipeline.paths import state_paths

    return resolve_model(name_or_path, state_paths().models_dir)


@dataclass(frozen=True)
class UnavailableBackend:
    """A backend that could not be set up (its model is missing, say): every request fails the same way.

    Keeping it in the chain, rather than dropping it, makes the reason reach the user and the
    telemetry as a failure value when no other backend answers.
    """

    name: str
    kind: GenerationErrorKind
    message: str

    def generate(self, prompt: Prompt, *, timeout_s: float) -> Reply:
        """Never a command: the failure it was built with."""
        raise BackendFailure(self.kind, self.message, self.name)

    def health(self) -> bool:
        """Never healthy."""
        return False


# Why the model file cannot be used, as the failure kind telemetry and the JSON output carry.
_UNAVAILABLE = {"model_missing": GenerationErrorKind.NOT_FOUND, "model_corrupt": GenerationErrorKind.MODEL_LOAD_FAILED}


def _llama_cpp(settings: Mapping[str, Any], resolve: ModelPathResolver) -> Backend:
    from pipeline.backends.llama_cpp import DEFAULT_N_CTX, LlamaCppBackend

    try:
        path = resolve(settings["model"])
    except CaroError as error:  # a catalogue model not pulled, or not a .gguf file
        kind = _UNAVAILABLE.get(error.code, GenerationErrorKind.NOT_CONFIGURED)
        message = error.message if error.hint is None else f"{error.message} ({error.hint})"
        return UnavailableBackend("llama_cpp", kind, message)
    return LlamaCppBackend(
        path,
        n_ctx=settings.get("llama_cpp.n_ctx", DEFAULT_N_CTX),
        n_threads=settings.get("llama_cpp.threads", 0),
        warmup_s=settings.get("generation.warmup_s", 60.0),
    )


def _vllm(settings: Mapping[str, Any]) -> Backend:
    if settings.get("vllm.mode", "http") == "local":
        from pipeline.backends.vllm_local import VllmLocalBackend

        return VllmLocalBackend(settings.get("vllm.model", ""))
    from pipeline.backends.openai_http import OpenAIHttpBackend

    return OpenAIHttpBackend(
        settings.get("vllm.base_url", "http://127.0.0.1:8000"),
        model=settings.get("vllm.model", ""),
        api_key=settings.get("vllm.api_key", ""),
        request_timeout_s=settings.get("vllm.timeout_s", 30.0),
        retries=settings.get("vllm.retries", 2),
    )


def backend_names(settings: Mapping[str, Any]) -> tuple[str, ...]:
    """The backends to ask, in order: `backend`, then `fallback`, each once; none for `backend = "none"`."""
    primary = settings["backend"]
    if primary == "none":
        return ()
    names: list[str] = []
    for name in (primary, *settings.get("fallback", ())):
        if name != "none" and name not in names:
            names.append(name)
    return tuple(names)


def backend_for(
    name: str, settings_values: Mapping[str, Any], *, model_path_resolver: ModelPathResolver = catalogue_model_path
) -> Backend:
    """One backend, configured from the settings (models load on first use)."""
    if name == "llama_cpp":
        return _llama_cpp(settings_values, model_path_resolver)
    if name == "vllm":
        return _vllm(settings_values)
    raise ValueError(f"unknown backend {name!r}")  # settings validate the names: this is a bug


def build_chain(
    settings_values: Mapping[str, Any],
    *,
    model_path_resolver: ModelPathResolver = catalogue_model_path,
) -> BackendChain:
    """The chain of backends the settings ask for (empty for `backend = "none"`)."""
    backends = tuple(
        backend_for(name, settings_values, model_path_resolver=model_path_resolver) for name in backend_names(settings_values)
    )
    return BackendChain(backends, retries=settings_values.get("generation.retries", 1))
