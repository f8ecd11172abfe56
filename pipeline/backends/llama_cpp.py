"""The embedded default backend: a GGUF model run in this process by llama.cpp (llama-cpp-python).

The model loads lazily, on the first request, once per process (`pipeline/backends/llama_models.py`).
The reply is constrained to `command_schema()` by llama.cpp's JSON-schema grammar, or, with the prompt's
`answer_format` CODE, free and read to its first code block (streaming stops when the block closes).

Time (`pipeline/backends/clock.py`): the request's budget covers its own work, stopped at the
deadline inside llama.cpp's evaluations (its abort callback) and between generated tokens.
The warm-up, kept off the budget but bounded by `warmup_s`, is the load, the wait for the
model, and the prompt text every request shares.

One model serves many requests (the caro service's clients): they take turns on its context in
the order they asked (`FairLock`). The context keeps the tokens of the last prompt, and
llama-cpp-python reuses their longest common prefix with the next one: prompts put what every
request shares first (`Prompt.prefix_messages`), which is evaluated once (`_prime_until`), so a
request pays for its own tokens. Threads: as many as the cores this process may run on (its CPU
affinity) that other work is not using at the moment of the request, at least one
(`threads_now`), unless configured.
"""

from __future__ import annotations

import functools
import json
import math
import time
from pathlib import Path
from typing import Any

from pipeline.backends.answers import AnswerFormat, answer_ended
from pipeline.backends.base import CANCELLED, WARMUP_SPENT, BackendFailure, Prompt, Reply, parse_command_reply, response_format
from pipeline.backends.clock import GENERATING, LOADING, cancel_event, cancelled, deadline_after, off_the_clock, report
from pipeline.backends.llama_models import (  # noqa: F401  (loaded_models, unload_all: imported from here too)
    NAME,
    LoadedModel,
    LoadParams,
    is_loaded,
    loaded_model,
    loaded_models,
    looks_like_oom,
    unload_all,
)
from pipeline.backends.sharing import threads_now, usable_cores
from pipeline.values import GenerationErrorKind

DEFAULT_SEED = 0
# The default warm-up allowance (generation.warmup_s): the load, the wait for the model, the shared prompt.
DEFAULT_WARMUP_S = 60.0
# The default prompt (shared rules, installed utilities, the fixed examples, then the request's
# part) is ~1,550 tokens for Qwen2.5-Coder and ~1,820 for SmolLM2; with the answer's tokens
# 2,048 no longer holds it (configs/defaults.toml carries the same value).
DEFAULT_N_CTX = 4096


class LlamaCppBackend:
    """The embedded backend: one GGUF file, run by llama.cpp in this process."""

    name = NAME

    def __init__(
        self,
        model_path: Path | str,
        *,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int = 0,
        seed: int = DEFAULT_SEED,
        n_gpu_layers: int = 0,
        warmup_s: float = DEFAULT_WARMUP_S,
    ) -> None:
        self.model_path = Path(model_path).expanduser()
        self.n_ctx = n_ctx
        self.n_threads = n_threads  # 0: automatic
        self.seed = seed
        self.n_gpu_layers = n_gpu_layers
        self.warmup_s = warmup_s  # the longest a request waits for the load, the shared prompt and its turn
        self._model: LoadedModel | None = None

    @property
    def load_seconds(self) -> float | None:
        """How long loading this backend's model took in this process; None before it is loaded."""
        return None if self._model is None else self._model.load_seconds

    def health(self) -> bool:
        """Whether the model file is there (never loads it)."""
        return self.model_path.is_file()

    def load(self, until: float = math.inf) -> LoadedModel:
        """This backend's model, loaded now if no backend in this process has loaded it yet (waiting until `until`)."""
        self._model = loaded_model(self._params(), until)
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

        The time budget covers this request's own work (`pipeline/backends/clock.py`). Loading
        the model, waiting for its turn (another client's request ahead) and evaluating the
        prompt text every request shares happen `off_the_clock`, bounded by `warmup_s`: a first
        request that has done nothing wrong does not time out, and still ends in bounded time.
        llama.cpp is stopped inside a prompt evaluation at the deadline (its abort callback),
        and between generated tokens.
        """
        params = self._params()
        with off_the_clock(self.warmup_s) as until:
            if not is_loaded(params):
                report(LOADING)
            model = self.load(until)
            _wait_for_turn(model, until)
        try:
            threads = self.n_threads or threads_now()
            _set_threads(model.llama, threads)
            prefix = json.dumps(prompt.prefix_messages())
            if model.prefix != prefix:
                report(LOADING)
                with off_the_clock(self.warmup_s) as until:
                    _prime_until(model, prompt, until)
                model.prefix = prefix
            report(GENERATING)
            started = time.monotonic()
            text, finish_reason, tokens = _complete(model, prompt, deadline_after(timeout_s))
        finally:
            model.lock.release()
        command = parse_command_reply(text, finish_reason, NAME, prompt.answer_format)
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


def _wait_for_turn(model: LoadedModel, until: float) -> None:
    """Queue for the model; BackendFailure when the client that asked has gone, or at `until`."""
    while not model.lock.acquire(timeout=0.05):
        if cancelled():
            raise BackendFailure(GenerationErrorKind.TIMEOUT, CANCELLED, NAME)
        if time.monotonic() > until:
            raise BackendFailure(GenerationErrorKind.TIMEOUT, WARMUP_SPENT, NAME)


def _stopped(model: LoadedModel, deadline_message: str) -> BackendFailure | None:
    """Why llama.cpp's evaluation was stopped, as a failure; None when it was not stopped. Ctrl-C is re-raised."""
    why = model.stop.why
    if why == "interrupted":
        raise KeyboardInterrupt
    if why == "cancelled":
        return BackendFailure(GenerationErrorKind.TIMEOUT, CANCELLED, NAME)
    if why == "deadline":
        return BackendFailure(GenerationErrorKind.TIMEOUT, deadline_message, NAME)
    return None


def _prime_until(model: LoadedModel, prompt: Prompt, until: float) -> None:
    """Evaluate the turns every request shares, so that the next prompts start from them; stopped at `until`.

    A stop leaves what was evaluated in the context (the next prime goes on from there) and
    is the request's timeout; any other failure is not the request's: the real call evaluates
    everything again and reports it.
    """
    with model.stop.armed(until, cancel_event()):
        try:
            _prime(model.llama, prompt)
        except Exception:  # noqa: BLE001 - see the docstring
            failure = _stopped(model, WARMUP_SPENT)
            if failure is not None:
                raise failure from None


def _prime(llama: Any, prompt: Prompt) -> None:
    """Evaluate the turns every request shares (and one token more), so that the next prompts start from them."""
    llama.create_chat_completion(messages=[*prompt.prefix_messages(), {"role": "user", "content": ""}], max_tokens=1, temperature=0.0)


def _complete(model: LoadedModel, prompt: Prompt, deadline: float) -> tuple[str, str | None, int]:
    """The reply's text, finish reason and token count, stopped at the deadline.

    Inside llama.cpp (the prompt's evaluation, one token's), the abort callback stops it
    (`pipeline/backends/sharing.py`, `watch`); between streamed tokens Python checks, and
    closing the stream stops llama.cpp cleanly. (`create_chat_completion` does not pass
    `stopping_criteria` through, and a logits processor cannot stop decoding.)
    """
    with model.stop.armed(deadline, cancel_event()):
        return _stream(model, prompt, deadline)


# The opening of a code-block answer, written into the assistant's turn so that the model does
# not spend tokens on it (3 of a typical 12-15; ~0.15 s on two cores): every example's answer
# opens so, and `read_answer` reads the command from the block that follows.
CODE_OPENING = "```sh\n"


@functools.lru_cache(maxsize=4)
def _chat_formatter(template: str, eos_token: str, bos_token: str, eos_id: int) -> Any:
    """The model's chat template, compiled once per model (compiling it takes ~10 ms)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos_token, bos_token=bos_token, stop_token_ids=[eos_id])


def _opened_code_block(llama: Any, prompt: Prompt) -> Any | None:
    """A streamed completion of the chat prompt, formatted as `create_chat_completion` formats it
    (the model's own template), with the assistant's turn opened by CODE_OPENING; None for a
    JSON answer or a model without a chat template (the chat path answers those)."""
    template = getattr(llama, "metadata", {}).get("tokenizer.chat_template")
    if prompt.answer_format is not AnswerFormat.CODE or not template:
        return None
    eos, bos = llama.token_eos(), llama.token_bos()
    formatter = _chat_formatter(
        template,
        llama._model.token_get_text(eos) if eos != -1 else "",
        llama._model.token_get_text(bos) if bos != -1 else "",
        eos,
    )
    result = formatter(messages=prompt.messages())
    tokens = llama.tokenize((result.prompt + CODE_OPENING).encode("utf-8"), add_bos=not result.added_special, special=True)
    stop = result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
    return llama.create_completion(
        prompt=tokens,
        max_tokens=prompt.max_tokens,
        temperature=prompt.temperature,
        seed=prompt.seed,
        stop=stop,
        stopping_criteria=result.stopping_criteria,
        stream=True,
    )


def _stream(model: LoadedModel, prompt: Prompt, deadline: float) -> tuple[str, str | None, int]:
    try:
        parts: list[str] = []
        stream = _opened_code_block(model.llama, prompt)
        if stream is not None:
            parts.append(CODE_OPENING)
        else:
            stream = model.llama.create_chat_completion(
                messages=prompt.messages(),
                response_format=response_format(prompt),
                max_tokens=prompt.max_tokens,
                temperature=prompt.temperature,
                seed=prompt.seed,
                stream=True,
            )
        finish_reason: str | None = None
        tokens = 0
        try:
            for chunk in stream:
                choice = chunk["choices"][0]
                piece = choice["delta"].get("content") if "delta" in choice else choice.get("text")
                if piece:
                    parts.append(piece)
                    tokens += 1  # llama-cpp-python streams one chunk per generated token
                finish_reason = choice.get("finish_reason") or finish_reason
                if finish_reason is None and piece and answer_ended("".join(parts), prompt.answer_format):
                    break  # a closed code block: the rest of a free answer is never read
                if finish_reason is None and time.monotonic() > deadline:
                    raise BackendFailure(GenerationErrorKind.TIMEOUT, "the model did not answer within the time budget", NAME)
                if finish_reason is None and cancelled():
                    raise BackendFailure(GenerationErrorKind.TIMEOUT, CANCELLED, NAME)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:  # a generator: closing it stops decoding where it is
                close()
    except BackendFailure:
        raise
    except Exception as exc:  # llama-cpp-python raises bare ValueError/RuntimeError from inference
        stopped = _stopped(model, "the model did not answer within the time budget")
        if stopped is not None:
            raise stopped from None
        if looks_like_oom(exc):
            raise BackendFailure(GenerationErrorKind.OOM, "not enough memory to run the model", NAME) from None
        if "context window" in str(exc):
            raise BackendFailure(
                GenerationErrorKind.INFERENCE_FAILED,
                "the prompt does not fit the model's context (raise llama_cpp.n_ctx)",
                NAME,
            ) from None
        raise BackendFailure(GenerationErrorKind.INFERENCE_FAILED, f"llama.cpp inference failed ({type(exc).__name__})", NAME) from None
    return "".join(parts), finish_reason, tokens
