"""The `vllm` backend in this process (`vllm.mode = "local"`): vLLM's offline `LLM` on a GPU machine.

vLLM is an optional extra (`pip install 'caro[vllm]'`) and is imported only when this backend
first answers, never when caro starts: importing it takes seconds and initialises CUDA. Before
the import, caro switches vLLM's usage statistics off (`VLLM_NO_USAGE_STATS=1`, which vLLM
honours on its own) unless the user set it, and quietens its logging. It does not set
`DO_NOT_TRACK`: that would also switch caro's own opt-in telemetry off for the rest of the process.

The reply is constrained by structured outputs (`StructuredOutputsParams(json=schema)`; the old
`guided_decoding` parameters are gone from vLLM). vLLM's offline call cannot be interrupted:
`max_tokens` bounds it, and a reply that arrives after the budget is still used.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pipeline.backends.base import AnswerFormat, BackendFailure, Prompt, Reply, command_schema, parse_command_reply
from pipeline.values import GenerationErrorKind

NAME = "vllm"
INSTALL_HINT = "pip install 'caro[vllm]'"
_OOM_HINTS = ("out of memory", "outofmemory", "no available memory", "kv cache", "failed to allocate")
_MISSING_HINTS = ("not a valid model identifier", "does not appear to have", "no such file", "repository not found")

_ENGINES: dict[tuple[str, int | None, float, int], tuple[Any, float]] = {}  # engine, load seconds
_ENGINES_LOCK = threading.Lock()


def _import_vllm() -> tuple[ModuleType, type]:
    """The vllm module and its StructuredOutputsParams, with usage statistics off."""
    os.environ.setdefault("VLLM_NO_USAGE_STATS", "1")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "ERROR")  # the CLI owns the terminal
    try:
        import vllm
        from vllm.sampling_params import StructuredOutputsParams
    except ImportError:
        raise BackendFailure(
            GenerationErrorKind.NOT_FOUND,
            f"vLLM is not installed; for in-process vLLM on a GPU machine: {INSTALL_HINT}",
            NAME,
        ) from None
    return vllm, StructuredOutputsParams


def _looks_like(exc: BaseException, hints: tuple[str, ...]) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(hint in text for hint in hints)


@dataclass(eq=False)
class VllmLocalBackend:
    """vLLM's offline engine in this process, loaded on first use and shared by the process."""

    model: str = field(repr=False)  # a Hugging Face id or a local folder; may name a private path
    max_model_len: int | None = None  # None: the model's own
    gpu_memory_utilization: float = 0.85
    seed: int = 0
    name: str = NAME
    load_seconds: float | None = field(default=None, init=False)

    def health(self) -> bool:
        """Whether vLLM is installed and a model is configured (never imports vLLM or loads a model)."""
        import importlib.util

        return bool(self.model) and importlib.util.find_spec("vllm") is not None

    def _engine(self) -> Any:
        if not self.model:
            raise BackendFailure(GenerationErrorKind.NOT_CONFIGURED, "set vllm.model for in-process vLLM", NAME)
        vllm, _ = _import_vllm()
        key = (self.model, self.max_model_len, self.gpu_memory_utilization, self.seed)
        with _ENGINES_LOCK:
            cached = _ENGINES.get(key)
            if cached is None:
                started = time.monotonic()
                try:
                    engine = vllm.LLM(
                        model=self.model,
                        max_model_len=self.max_model_len,
                        gpu_memory_utilization=self.gpu_memory_utilization,
                        seed=self.seed,
                        disable_log_stats=True,
                    )
                except Exception as exc:  # vLLM raises many types while starting its engine
                    if _looks_like(exc, _OOM_HINTS):
                        raise BackendFailure(GenerationErrorKind.OOM, "not enough GPU memory to load the model", NAME) from None
                    if _looks_like(exc, _MISSING_HINTS):
                        raise BackendFailure(GenerationErrorKind.NOT_FOUND, "vLLM cannot find the model named by vllm.model", NAME) from None
                    raise BackendFailure(
                        GenerationErrorKind.MODEL_LOAD_FAILED,
                        f"vLLM could not load the model ({type(exc).__name__}); it needs a supported GPU",
                        NAME,
                    ) from None
                cached = _ENGINES[key] = (engine, time.monotonic() - started)
        engine, self.load_seconds = cached
        return engine

    def generate(self, prompt: Prompt, *, timeout_s: float) -> Reply:
        """One command for the prompt, or BackendFailure."""
        started = time.monotonic()
        engine = self._engine()
        vllm, structured_outputs = _import_vllm()
        constrained = prompt.answer_format is AnswerFormat.JSON
        params = vllm.SamplingParams(
            structured_outputs=structured_outputs(json=command_schema(prompt.max_command_chars)) if constrained else None,
            temperature=prompt.temperature,
            max_tokens=prompt.max_tokens,
            seed=self.seed if prompt.seed is None else prompt.seed,
        )
        try:
            outputs = engine.chat(prompt.messages(), params, use_tqdm=False)
            request = outputs[0]
            completion = request.outputs[0]
        except Exception as exc:  # CUDA and engine errors surface as many types
            if _looks_like(exc, _OOM_HINTS):
                raise BackendFailure(GenerationErrorKind.OOM, "the GPU ran out of memory", NAME) from None
            raise BackendFailure(GenerationErrorKind.INFERENCE_FAILED, f"vLLM inference failed ({type(exc).__name__})", NAME) from None
        command = parse_command_reply(completion.text, completion.finish_reason, NAME, prompt.answer_format)
        prompt_ids = getattr(request, "prompt_token_ids", None)
        return Reply(
            command=command,
            backend=NAME,
            latency_ms=(time.monotonic() - started) * 1000,
            prompt_tokens=len(prompt_ids) if prompt_ids is not None else None,
            completion_tokens=len(completion.token_ids),
        )
