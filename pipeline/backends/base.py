"""The interface every model backend implements, and the failure classification they share.

A backend turns a `Prompt` into a `Reply` holding one shell command, or raises `BackendFailure`
with a `GenerationErrorKind`. The generate stage catches failures and turns them into values
(`GenerationError`), so emit and telemetry see them; nothing here logs or quotes the prompt,
the request or the model's output.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, overload

# The request's clock lives in its own module; these names are imported from here too.
from pipeline.backends.clock import cancel_on, cancelled, off_the_clock, request_budget, request_scope  # noqa: F401
from pipeline.backends.answers import MAX_COMMAND_CHARS, AnswerFormat, UnreadableAnswer, command_schema, read_answer  # noqa: F401
from pipeline.values import GenerationError, GenerationErrorKind

# Timeouts, unparsable output and failed inference may go away on a retry or another backend;
# a missing model, a model that cannot load, or memory exhaustion will not.
RECOVERABLE = frozenset({GenerationErrorKind.TIMEOUT, GenerationErrorKind.PARSE_ERROR, GenerationErrorKind.INFERENCE_FAILED})

# No retry, fallback or repair round starts with less of the budget left: it could not finish.
MIN_ATTEMPT_S = 0.5

CANCELLED = "the request was cancelled"
# A warm-up (load, shared prompt, or the wait for another request) that outlasted generation.warmup_s.
WARMUP_SPENT = "the model was not ready in time: loading it, reading its shared prompt or waiting for other requests took longer than generation.warmup_s"


# The heading of the retrieved examples where they are lines of the notes (`Prompt.examples_in_notes`).
SIMILAR = "Commands for similar requests:"


@dataclass(frozen=True)
class Prompt:
    """A chat prompt, in the order that lets a model reuse the work of the previous request.

    What every request shares comes first: the system text (rules, platform, installed
    utilities) and `fixed_examples`. What this request brings comes last: its `context` (notes
    such as man-page one-liners, a system turn of its own), its retrieved `examples`, the user's
    turn, and the `follow_ups` of a repair round (the model's answer, then what is wrong with it). llama.cpp keeps the evaluated tokens of the last prompt and reuses its
    longest common prefix, and vLLM caches prefixes: only this request's own tokens cost.
    """

    system: str
    user: str
    # (request, answer) pairs chosen for this request: turns, or with `examples_in_notes` lines of the notes (the answer the command alone)
    examples: tuple[tuple[str, str], ...] = ()
    max_command_chars: int = MAX_COMMAND_CHARS
    max_tokens: int = 160
    fixed_examples: tuple[tuple[str, str], ...] = ()  # (user turn, assistant turn) pairs every request shares
    context: str = ""
    follow_ups: tuple[tuple[str, str], ...] = ()  # (assistant turn, user turn) pairs after the user's turn
    answer_format: AnswerFormat = AnswerFormat.JSON  # how the model writes its command (pipeline/backends/answers.py)
    temperature: float = 0.0  # 0: greedy; above: sampled (with `seed`), for several candidates
    seed: int | None = None
    # The examples as lines at the end of the notes ("- request: `command`"), not as turns: 11
    # tokens fewer per request (no turn markers, no fences); measured in docs/quality.md, part 5.
    examples_in_notes: bool = False

    def prefix_messages(self) -> list[dict[str, str]]:
        """The turns every request shares: the system text and the fixed examples."""
        turns: list[dict[str, str]] = [{"role": "system", "content": self.system}]
        for asked, answered in self.fixed_examples:
            turns += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
        return turns

    def messages(self) -> list[dict[str, str]]:
        """The OpenAI-style message list: the shared prefix, then this request's turns."""
        turns = self.prefix_messages()
        context = self.context
        if self.examples_in_notes and self.examples:
            lines = "\n".join([SIMILAR, *(f"- {asked}: `{command}`" for asked, command in self.examples)])
            context = f"{context}\n{lines}" if context else lines
        if context:  # before example turns: measured with `caro eval`, 55/118 model answers right, 47 after
            turns.append({"role": "system", "content": context})
        for asked, answered in () if self.examples_in_notes else self.examples:
            turns += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
        turns.append({"role": "user", "content": self.user})
        for answered, asked in self.follow_ups:
            turns += [{"role": "assistant", "content": answered}, {"role": "user", "content": asked}]
        return turns


@dataclass(frozen=True)
class Reply:
    """A backend's answer: the command and what it cost."""

    command: str
    backend: str
    latency_ms: float
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class BackendFailure(Exception):
    """A classified backend failure; its message never holds the prompt or the output."""

    def __init__(self, kind: GenerationErrorKind, message: str, backend: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.backend = backend

    @property
    def recoverable(self) -> bool:
        return self.kind in RECOVERABLE

    def as_error(self) -> GenerationError:
        """The failure as a value for the DAG."""
        return GenerationError(kind=self.kind, message=self.message, backend=self.backend, recoverable=self.recoverable)


class Backend(Protocol):
    """A model that answers a `Prompt` with one command."""

    name: str

    def generate(self, prompt: Prompt, *, timeout_s: float) -> Reply:
        """One command for the prompt, or BackendFailure."""
        ...

    def health(self) -> bool:
        """Whether the backend can answer now (cheap; never loads a model)."""
        ...


def response_format(prompt: Prompt) -> dict[str, Any] | None:
    """llama.cpp's `response_format` for the prompt: the command schema for JSON answers, none for free ones."""
    if prompt.answer_format is AnswerFormat.JSON:
        return {"type": "json_object", "schema": command_schema(prompt.max_command_chars)}
    return None


def parse_command_reply(
    text: str | None, finish_reason: str | None, backend: str, answer_format: AnswerFormat = AnswerFormat.JSON
) -> str:
    """The command of a reply in the prompt's answer format; an unreadable or cut-off reply is a parse error."""
    try:
        return read_answer(text, finish_reason, answer_format)
    except UnreadableAnswer as unreadable:
        raise BackendFailure(unreadable.kind, str(unreadable), backend) from None


@dataclass(frozen=True)
class BackendChain:
    """The backends to try in order: the configured one, then its fallbacks."""

    backends: tuple[Backend, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.backends)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.backends)


@dataclass(frozen=True)
class BackendChain(Sequence[Backend]):
    """The backends to ask, in order, and how often to retry a recoverable failure on each.

    Empty means no model is configured. It is a node input, so it is a type of its own rather
    than a bare tuple.
    """

    backends: tuple[Backend, ...] = ()
    retries: int = 1

    @overload
    def __getitem__(self, index: int) -> Backend: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Backend]: ...
    def __getitem__(self, index: int | slice) -> Backend | Sequence[Backend]:
        return self.backends[index]

    def __len__(self) -> int:
        return len(self.backends)

    def __iter__(self) -> Iterator[Backend]:
        return iter(self.backends)

    @property
    def names(self) -> tuple[str, ...]:
        """The backends' names, in order."""
        return tuple(backend.name for backend in self.backends)


@dataclass(frozen=True)
class ChainOutcome:
    """What a fallback chain produced: a reply (or None) and every failure on the way."""

    reply: Reply | None
    failures: tuple[GenerationError, ...] = field(default_factory=tuple)


def generate_with_fallback(
    chain: Sequence[Backend], prompt: Prompt, *, timeout_s: float, retries: int | None = None
) -> ChainOutcome:
    """Ask each backend in turn; retry a recoverable failure `retries` times, move on after a fatal one.

    `timeout_s` is the budget of the whole request (`pipeline/backends/clock.py`): every attempt,
    of this call and of the request's later calls (the repair round), gets what is left of it.
    No attempt starts once it is spent, and none but the request's first with less than
    `MIN_ATTEMPT_S` left: it could not finish. A request that gets no attempt at all fails with
    a timeout; a later call that cannot start adds no failure (nothing was tried). `retries`
    defaults to the chain's own.
    """
    if retries is None:
        retries = chain.retries if isinstance(chain, BackendChain) else 1
    failures: list[GenerationError] = []
    with request_budget(timeout_s) as budget:
        for backend in chain:
            for _attempt in range(retries + 1):
                if cancelled():
                    gone = BackendFailure(GenerationErrorKind.TIMEOUT, CANCELLED, backend.name)
                    return ChainOutcome(None, (*failures, gone.as_error()))
                remaining = budget.remaining()
                if remaining <= 0 or (budget.attempts and remaining < MIN_ATTEMPT_S):
                    if not budget.attempts:
                        spent = BackendFailure(GenerationErrorKind.TIMEOUT, budget_spent(budget.seconds), backend.name)
                        failures.append(spent.as_error())
                    return ChainOutcome(None, tuple(failures))
                budget.attempts += 1
                try:
                    return ChainOutcome(backend.generate(prompt, timeout_s=remaining), tuple(failures))
                except BackendFailure as failure:
                    failures.append(failure.as_error())
                    if not failure.recoverable:
                        break
    return ChainOutcome(None, tuple(failures))


def budget_spent(seconds: float) -> str:
    """The message of a request whose time budget ran out (the number is the setting's, never user data)."""
    return f"the model did not answer within the request's time budget ({seconds:g} s)"
