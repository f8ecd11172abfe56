"""The embedded default backend: a GGUF model run in this process by llama.cpp (llama-cpp-python).

The model loads lazily, on the first request, and once per process: loaded models live in a
module-level cache keyed by the resolved file and the load parameters, so a resident process
serving many requests (or several backends over the same file) shares one `llama_cpp.Llama`.
llama.cpp's own logging is switched off, so nothing reaches the user's terminal.

The reply is constrained to `command_schema()` by llama.cpp's JSON-schema grammar. llama.cpp has
no timeout; the reply is streamed and the deadline checked between tokens (see `_complete`).

One model serves many requests (the caro service's clients): they take turns on its context in
the order they asked (`FairLock`), and the wait is not charged to a request's budget. The
context keeps the tokens of the last prompt, and llama-cpp-python reuses their longest common
prefix with the next one: prompts put what every request shares first (`Prompt.prefix_messages`),
which is evaluated once, outside any budget (`_prime`), so a request pays for its own tokens.
Threads: as many as the cores this process may run on (its CPU affinity) that other work is not
using at the moment of the request, at least one (`threads_now`), unless configured.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline.backends.base import (
    BackendFailure,
    Prompt,
    Reply,
    cancelled,
    command_schema,
    off_the_clock,
    parse_command_reply,
)
from pipeline.backends.sharing import FairLock, threads_now, usable_cores
from pipeline.values import GenerationErrorKind

NAME = "llama_cpp"
DEFAULT_SEED = 0

# Phrases llama.cpp and ggml use when an allocation fails; a MemoryError is not always raised.
_OOM_HINTS = ("failed to allocate", "out of memory", "cannot allocate", "unable to allocate")


@dataclass(frozen=True)
class LoadParams:
    """What makes two loads of a model the same load: the file and the context it is loaded with."""

    path: Path  # resolved, so two spellings of one file share a load
    n_ctx: int
    n_threads: int  # for generating and for evaluating prompts
    n_gpu_layers: int
    seed: int


@dataclass
class LoadedModel:
    """A loaded llama.cpp model, how long loading it took, the lock that serialises its use, and its cached prefix."""

    llama: Any  # llama_cpp.Llama; typed loosely so that importing this module stays light
    load_seconds: float
    # A llama.cpp context holds one sequence's state: two threads decoding at once corrupt it.
    lock: FairLock = field(default_factory=FairLock)
    prefix: str | None = None  # the shared turns of the last prompt, whose tokens the context holds


_MODELS: dict[LoadParams, LoadedModel] = {}
_MODELS_LOCK = threading.Lock()
_SILENCE_LOCK = threading.Lock()
_silencer: Any = None  # the C log callback; kept referenced so that ctypes never frees it


def _import_llama_cpp() -> ModuleType:
    """The llama_cpp module, with llama.cpp's C-level logging switched off."""
    global _silencer
    try:
        import llama_cpp
    except ImportError:
        raise BackendFailure(
            GenerationErrorKind.NOT_FOUND,
            "llama-cpp-python is not installed; reinstall caro (`pip install caro`)",
            NAME,
        ) from None
    except OSError:  # the package is there but its shared library cannot be loaded
        raise BackendFailure(GenerationErrorKind.MODEL_LOAD_FAILED, "the llama.cpp library cannot be loaded", NAME) from None
    with _SILENCE_LOCK:
        if _silencer is None:
            # verbose=False still lets llama.cpp print errors (a bad file, a failed allocation)
            # to stderr through its log callback; caro reports those as values instead.
            @llama_cpp.llama_log_callback
            def _discard(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
                return None

            llama_cpp.llama_log_set(_discard, ctypes.c_void_p(0))
            _silencer = _discard
    return llama_cpp


def _looks_like_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or any(hint in str(exc).lower() for hint in _OOM_HINTS)


def _load(params: LoadParams) -> LoadedModel:
    llama_cpp = _import_llama_cpp()
    started = time.monotonic()
    try:
        llama = llama_cpp.Llama(
            model_path=str(params.path),
            n_ctx=params.n_ctx,
            n_threads=params.n_threads,
            n_threads_batch=params.n_threads,
            n_gpu_layers=params.n_gpu_layers,
            seed=params.seed,
            verbose=False,
        )
    except Exception as exc:  # llama-cpp-python raises ValueError, RuntimeError or MemoryError here
        if _looks_like_oom(exc):
            raise BackendFailure(GenerationErrorKind.OOM, "not enough memory to load the model", NAME) from None
        raise BackendFailure(
            GenerationErrorKind.MODEL_LOAD_FAILED,
            "the model file cannot be loaded (not a GGUF model llama.cpp can read, or damaged)",
            NAME,
        ) from None
    return LoadedModel(llama=llama, load_seconds=time.monotonic() - started)


def loaded_model(params: LoadParams) -> LoadedModel:
    """The model for these parameters, loaded on first use and shared by the whole process."""
    with _MODELS_LOCK:
        model = _MODELS.get(params)
    if model is not None:
        return model
    with _MODELS_LOCK:
        # Loading under the lock makes concurrent first requests wait for one load, not race.
        model = _MODELS.get(params)
        if model is None:
            model = _load(params)
            if not _MODELS:
                # Free the models while llama_cpp still works: left to the interpreter's
                # teardown, Llama.__del__ runs after its module is gone and prints a traceback.
                atexit.register(unload_all)
            _MODELS[params] = model
        return model


def loaded_models() -> list[str]:
    """The file names of the models loaded in this process."""
    with _MODELS_LOCK:
        return sorted({params.path.name for params in _MODELS})


def unload_all() -> int:
    """Free every cached model; the number freed. Backends that held one load it again if asked."""
    with _MODELS_LOCK:
        count = len(_MODELS)
        for model in _MODELS.values():
            # A daemon thread may still be decoding at exit: leave its model to the OS then.
            if model.lock.acquire(timeout=5):
                try:
                    model.llama.close()
                finally:
                    model.lock.release()
        _MODELS.clear()
    return count


class LlamaCppBackend:
    """The embedded backend: one GGUF file, run by llama.cpp in this process."""

    name = NAME

    def __init__(
        self,
        model_path: Path | str,
        *,
        n_ctx: int = 2048,
        n_threads: int = 0,
        seed: int = DEFAULT_SEED,
        n_gpu_layers: int = 0,
    ) -> None:
        self.model_path = Path(model_path).expanduser()
        self.n_ctx = n_ctx
        self.n_threads = n_threads  # 0: automatic
        self.seed = seed
        self.n_gpu_layers = n_gpu_layers
        self._model: LoadedModel | None = None

    @property
    def load_seconds(self) -> float | None:
        """How long loading this backend's model took in this process; None before it is loaded."""
        return None if self._model is None else self._model.load_seconds

    def health(self) -> bool:
        """Whether the model file is there (never loads it)."""
        return self.model_path.is_file()

    def load(self) -> LoadedModel:
        """This backend's model, loaded now if no backend in this process has loaded it yet."""
        self._model = loaded_model(self._params())
        return self._model

    def _params(self) -> LoadParams:
        if not self.model_path.is_file():
            raise BackendFailure(
                GenerationErrorKind.NOT_FOUND,
                "the model file is missing; download the model, or set `model` to a GGUF file",
                NAME,
            )
        return LoadParams(
            path=self.model_path.resolve(),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads or usable_cores(),
            n_gpu_layers=self.n_gpu_layers,
            seed=self.seed,
        )

    def generate(self, prompt: Prompt, *, timeout_s: float) -> Reply:
        """One command for the prompt, or BackendFailure.

        The time budget covers this request's own work: it starts once the model is loaded, is
        this request's turn, and holds the prompt text every request shares (all of which happen
        `off_the_clock`). A load cannot be interrupted, and counting it, or another client's
        request ahead in the queue, would time out a first request that has done nothing wrong.
        """
        with off_the_clock():
            model = self.load()
            _wait_for_turn(model)
        try:
            threads = self.n_threads or threads_now()
            _set_threads(model.llama, threads)
            prefix = json.dumps(prompt.prefix_messages())
            if model.prefix != prefix:
                with off_the_clock():
                    _prime(model.llama, prompt)
            started = time.monotonic()
            model.prefix = prefix
            text, finish_reason, tokens = _complete(model.llama, prompt, started + timeout_s)
        finally:
            model.lock.release()
        command = parse_command_reply(text, finish_reason, NAME)
        return Reply(
            command=command,
            backend=NAME,
            latency_ms=(time.monotonic() - started) * 1000,
            completion_tokens=tokens,
        )


def _set_threads(llama: Any, threads: int) -> None:
    """Use `threads` threads for the next evaluations and generations of this context."""
    import llama_cpp

    llama_cpp.llama_set_n_threads(llama.ctx, threads, threads)


def _wait_for_turn(model: LoadedModel) -> None:
    """Queue for the model; BackendFailure when the client that asked has gone while waiting."""
    while not model.lock.acquire(timeout=0.25):
        if cancelled():
            raise BackendFailure(GenerationErrorKind.TIMEOUT, "the request was cancelled", NAME)


def _prime(llama: Any, prompt: Prompt) -> None:
    """Evaluate the turns every request shares, so that the next prompts start from them.

    A failure here is not the request's: the real call evaluates everything again and reports it.
    """
    try:
        llama.create_chat_completion(
            messages=[*prompt.prefix_messages(), {"role": "user", "content": ""}], max_tokens=1, temperature=0.0
        )
    except Exception:  # noqa: BLE001 - see the docstring
        pass


def _complete(llama: Any, prompt: Prompt, deadline: float) -> tuple[str, str | None, int]:
    """The reply's text, finish reason and token count, streamed so that the deadline can stop it.

    `create_chat_completion` does not pass `stopping_criteria` through, and a logits processor
    runs inside a C callback where an exception cannot stop decoding; between streamed tokens,
    Python is in charge, and closing the stream stops llama.cpp cleanly.
    """
    try:
        stream = llama.create_chat_completion(
            messages=prompt.messages(),
            response_format={"type": "json_object", "schema": command_schema(prompt.max_command_chars)},
            max_tokens=prompt.max_tokens,
            temperature=0.0,
            stream=True,
        )
        parts: list[str] = []
        finish_reason: str | None = None
        tokens = 0
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                piece = choice["delta"].get("content")
                if piece:
                    parts.append(piece)
                    tokens += 1  # llama-cpp-python streams one chunk per generated token
                finish_reason = choice.get("finish_reason") or finish_reason
                if finish_reason is None and time.monotonic() > deadline:
                    raise BackendFailure(GenerationErrorKind.TIMEOUT, "the model did not answer within the time budget", NAME)
                if finish_reason is None and cancelled():
                    raise BackendFailure(GenerationErrorKind.TIMEOUT, "the request was cancelled", NAME)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:  # a generator: closing it stops decoding where it is
                close()
    except BackendFailure:
        raise
    except Exception as exc:  # llama-cpp-python raises bare ValueError/RuntimeError from inference
        if _looks_like_oom(exc):
            raise BackendFailure(GenerationErrorKind.OOM, "not enough memory to run the model", NAME) from None
        if "context window" in str(exc):
            raise BackendFailure(
                GenerationErrorKind.INFERENCE_FAILED,
                "the prompt does not fit the model's context (raise llama_cpp.n_ctx)",
                NAME,
            ) from None
        raise BackendFailure(GenerationErrorKind.INFERENCE_FAILED, f"llama.cpp inference failed ({type(exc).__name__})", NAME) from None
    return "".join(parts), finish_reason, tokens
