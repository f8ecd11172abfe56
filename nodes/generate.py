"""Generate stage: a command from a language model for requests the static table cannot answer.

The context (installed utilities, retrieved examples, man-page summaries), the prompt, and the
call are separate nodes, so a test can replace any of them with `overrides=`. Every node here
returns an empty value when the request does not need a model, so the static path pays nothing.
"""

from __future__ import annotations

from pipeline.driver import import_hamilton

import_hamilton()  # before any Hamilton module: keeps pandera's import out of the request path

from hamilton.function_modifiers import config  # noqa: E402

from pipeline.backends.base import Backend, BackendChain, Prompt, generate_with_fallback
from pipeline.backends.chain import backend_for
from pipeline.prompting import build_prompt, example_index, follow_up_prompt, installed_utilities, utility_summaries
from pipeline.static.table import StaticTable
from pipeline.values import (
    FollowUp,
    Generation,
    GenerationError,
    GenerationErrorKind,
    InputProblem,
    Platform,
    StaticMatch,
)

EXAMPLES_PER_PROMPT = 4


def needs_model(
    request_problem: InputProblem | None,
    passthrough_command: str | None,
    static_match: StaticMatch | None,
) -> bool:
    """Whether this request must go to a language model (no earlier stage answered it)."""
    return request_problem is None and passthrough_command is None and static_match is None


def installed_tools(needs_model: bool) -> tuple[str, ...]:
    """The common utilities installed here (detected once per process)."""
    return installed_utilities() if needs_model else ()


def prompt_examples(
    needs_model: bool, task_text: str, static_table: StaticTable, platform_profile: Platform
) -> tuple[tuple[str, str], ...]:
    """Worked (request, command) examples retrieved from the static table for this request (and the ones it follows up)."""
    if not needs_model:
        return ()
    return example_index(static_table, platform_profile).nearest(task_text, EXAMPLES_PER_PROMPT)


def tool_summaries(needs_model: bool, task_text: str, prompt_examples: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """`whatis` one-liners of the utilities the examples use and the request names."""
    return utility_summaries(task_text, prompt_examples) if needs_model else ()


def generation_prompt(
    needs_model: bool,
    request_text: str,
    platform_profile: Platform,
    installed_tools: tuple[str, ...],
    prompt_examples: tuple[tuple[str, str], ...],
    tool_summaries: tuple[tuple[str, str], ...],
    follow_up: FollowUp | None = None,
) -> Prompt | None:
    """The prompt for the model; None when the request does not need one.

    A follow-up ends the prompt with the previous request, its command, and the follow-up.
    """
    if not needs_model:
        return None
    prompt = build_prompt(request_text, platform_profile, installed_tools, prompt_examples, tool_summaries)
    return prompt if follow_up is None else follow_up_prompt(prompt, follow_up)


@config.when(llm_backend="llama_cpp")
def primary_backend__llama_cpp(needs_model: bool, llm_settings: dict) -> Backend | None:
    """The embedded llama.cpp model (loaded once per process, on first use)."""
    return backend_for("llama_cpp", llm_settings) if needs_model else None


@config.when(llm_backend="vllm")
def primary_backend__vllm(needs_model: bool, llm_settings: dict) -> Backend | None:
    """A vLLM server over its OpenAI-compatible API, or vLLM in process (`vllm.mode = "local"`)."""
    return backend_for("vllm", llm_settings) if needs_model else None


@config.when(llm_backend="none")
def primary_backend__none() -> Backend | None:
    """No model: requests the static table cannot answer get no command."""
    return None


def llm_chain(needs_model: bool, primary_backend: Backend | None, llm_settings: dict) -> BackendChain:
    """The configured backend, then each fallback backend from the settings, each once."""
    if not needs_model or primary_backend is None:
        return BackendChain()
    names = [primary_backend.name]
    backends = [primary_backend]
    for name in llm_settings.get("fallback", ()):
        if name not in names and name != "none":
            names.append(name)
            backends.append(backend_for(name, llm_settings))
    return BackendChain(tuple(backends), retries=llm_settings.get("generation.retries", 1))


def llm_generation(generation_prompt: Prompt | None, llm_chain: BackendChain, generation_timeout_s: float) -> Generation:
    """The model's command, after trying each backend of the chain; failures are values."""
    if generation_prompt is None:
        return Generation.skipped()
    if not llm_chain:
        return Generation(
            ran=True,
            error=GenerationError(
                kind=GenerationErrorKind.NOT_CONFIGURED,
                message="no language model configured, and the request is not in the static table",
            ),
        )
    outcome = generate_with_fallback(llm_chain, generation_prompt, timeout_s=generation_timeout_s)
    if outcome.reply is None:
        return Generation(ran=True, error=outcome.failures[-1], failures=outcome.failures)
    return Generation(
        ran=True,
        command=outcome.reply.command,
        backend=outcome.reply.backend,
        failures=outcome.failures,
        latency_ms=outcome.reply.latency_ms,
    )
