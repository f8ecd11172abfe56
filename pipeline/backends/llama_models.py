"""The llama.cpp models this process has loaded: one per file and context, shared by every backend and request.

Loaded models live in a module-level cache keyed by the resolved file and the load parameters,
so a resident process serving many requests (or several backends over the same file) shares
one `llama_cpp.Llama`. A load runs on a thread of its own (`_Loading`): concurrent first
requests wait for the same load, and a request that may wait no longer (its warm-up limit)
stops waiting while the load goes on for the next one. llama.cpp's own logging is switched
off, so nothing reaches the user's terminal, and every context gets an abort callback
(`pipeline/backends/sharing.py`, `watch`) so that a deadline can stop an evaluation.
"""

from __future__ import annotations

import atexit
import ctypes
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline.backends.base import CANCELLED, WARMUP_SPENT, BackendFailure
from pipeline.backends.clock import cancelled
from pipeline.backends.sharing import FairLock, Stop, watch
from pipeline.values import GenerationErrorKind

NAME = "llama_cpp"

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
    # When llama.cpp must stop evaluating (a deadline, a cancelled request): read by its abort callback.
    stop: Stop = field(default_factory=Stop)
    callback: Any = None  # that callback, kept referenced so that ctypes never frees it


_MODELS: dict[LoadParams, LoadedModel] = {}
_LOADING: dict[LoadParams, _Loading] = {}
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


def looks_like_oom(exc: BaseException) -> bool:
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
        if looks_like_oom(exc):
            raise BackendFailure(GenerationErrorKind.OOM, "not enough memory to load the model", NAME) from None
        raise BackendFailure(
            GenerationErrorKind.MODEL_LOAD_FAILED,
            "the model file cannot be loaded (not a GGUF model llama.cpp can read, or damaged)",
            NAME,
        ) from None
    model = LoadedModel(llama=llama, load_seconds=time.monotonic() - started)
    model.callback = watch(llama_cpp, llama, model.stop)
    return model


class _Loading:
    """A model being loaded on a thread of its own: a request may stop waiting for it, and the load goes on."""

    def __init__(self, params: LoadParams) -> None:
        self.done = threading.Event()
        self.model: LoadedModel | None = None
        self.failure: BackendFailure | None = None
        threading.Thread(target=self._run, args=(params,), name="caro-model-load", daemon=True).start()

    def _run(self, params: LoadParams) -> None:
        try:
            self.model = _load(params)
        except BackendFailure as failure:
            self.failure = failure
        except BaseException:  # noqa: BLE001 - reported to every waiter as a failed load
            self.failure = BackendFailure(GenerationErrorKind.MODEL_LOAD_FAILED, "the model could not be loaded", NAME)
        with _MODELS_LOCK:
            if self.model is not None:
                if not _MODELS:
                    # Free the models while llama_cpp still works: left to the interpreter's
                    # teardown, Llama.__del__ runs after its module is gone and prints a traceback.
                    atexit.register(unload_all)
                _MODELS[params] = self.model
            _LOADING.pop(params, None)
        self.done.set()

    def wait(self, until: float) -> LoadedModel:
        while not self.done.wait(0.05):
            if cancelled():
                raise BackendFailure(GenerationErrorKind.TIMEOUT, CANCELLED, NAME)
            if time.monotonic() > until:
                raise BackendFailure(GenerationErrorKind.TIMEOUT, WARMUP_SPENT, NAME)
        if self.failure is not None:
            raise self.failure
        assert self.model is not None
        return self.model


def loaded_model(params: LoadParams, until: float = math.inf) -> LoadedModel:
    """The model for these parameters, loaded on first use and shared by the whole process.

    Concurrent first requests wait for one load; a request stops waiting at `until` (its
    warm-up allowance) with a timeout, and the load goes on for the next request.
    """
    with _MODELS_LOCK:
        model = _MODELS.get(params)
        if model is not None:
            return model
        loading = _LOADING.get(params)
        if loading is None:
            loading = _LOADING[params] = _Loading(params)
    return loading.wait(until)


def is_loaded(params: LoadParams) -> bool:
    """Whether this model is loaded in this process already."""
    with _MODELS_LOCK:
        return params in _MODELS


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
