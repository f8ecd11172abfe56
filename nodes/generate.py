"""Generate stage: a command from a language model for requests the static table cannot answer.

The context (installed utilities, retrieved examples, man-page summaries), the prompt, and the
call are separate nodes, so a test can replace any of them with `overrides=`. Every node here
returns an empty value when the request does not need a model, so the static path pays nothing.
"""

from __future__ import annotations

from pipeline.driver import import_hamilton

import_hamilton()  # before any Hamilton module: keeps pandera's import out of the request path

from hamilton.function_modifiers import config  # noqa: E402

from pipeline.backends.base import Backend, BackendChain, Prompt
from pipeline.backends.chain import backend_for
from pipeline.candidates import Answers, ask, ranked
from pipeline.generation_plan import DEFAULT_PLAN, ExampleSource, GenerationPlan
from pipeline.headers import TableHeader, table_headers_for
from pipeline.lint import check_command, score
from pipeline.prompting import build_prompt, example_index, follow_up_prompt, installed_utilities, utility_summaries
from pipeline.static.retrieval import corpus_index, named_paths
from pipeline.static.table import StaticTable
from pipeline.workdir import FolderListing, folder_listing, names_may_be_sent
from pipeline.values import (
    FollowUp,
    Generation,
    GenerationError,
    GenerationErrorKind,
    InputProblem,
    Platform,
    Refusal,
    StaticMatch,
)


def needs_model(
    request_problem: InputProblem | None,
    passthrough_command: str | None,
    static_match: StaticMatch | None,
    command_count: int = 1,
    request_refusal: Refusal | None = None,
) -> bool:
    """Whether this request must go to a language model: no earlier stage answered it, or the
    user asked for more commands than the static table's one (`caro -n`); never for a request
    caro refuses."""
    if request_problem is not None or passthrough_command is not None or request_refusal is not None:
        return False
    return static_match is None or command_count > 1


def installed_tools(needs_model: bool) -> tuple[str, ...]:
    """The common utilities installed here (detected once per process)."""
    return installed_utilities() if needs_model else ()


def folder_names(
    needs_model: bool, working_directory: str, llm_settings: dict, generation_plan: GenerationPlan = DEFAULT_PLAN
) -> FolderListing | None:
    """The names in the working directory (bounded), for the prompt; None when they are not to be
    sent: the plan leaves them out, or a backend would send them to another machine and the user
    has not allowed it (`vllm.send_directory_names`)."""
    if not needs_model or not generation_plan.folder_names or not names_may_be_sent(llm_settings):
        return None
    return folder_listing(working_directory)


def table_headers(
    needs_model: bool,
    task_text: str,
    working_directory: str,
    folder_names: FolderListing | None,
    generation_plan: GenerationPlan = DEFAULT_PLAN,
) -> tuple[TableHeader, ...]:
    """The first lines of the CSV/TSV files the request names (delimiter and numbered columns),
    for the prompt; () where the folder's names may not be told (`folder_names` None: a line of
    a file says more than its name) or the plan leaves them out."""
    if not needs_model or folder_names is None or not generation_plan.csv_headers:
        return ()
    return table_headers_for(task_text, working_directory, folder_names)


def prompt_examples(
    needs_model: bool,
    task_text: str,
    static_table: StaticTable,
    platform_profile: Platform,
    folder_names: FolderListing | None,
    generation_plan: GenerationPlan = DEFAULT_PLAN,
) -> tuple[tuple[str, str], ...]:
    """Worked (request, command) examples retrieved for this request (and the ones it follows up),
    rendered with the names it gives."""
    if not needs_model or generation_plan.retrieved == 0:
        return ()
    plan = generation_plan
    if plan.example_source is ExampleSource.TABLE:
        found = example_index(static_table, platform_profile).nearest(task_text, plan.retrieved)
    else:
        named = named_paths(task_text, folder_names.folders() if folder_names else ())
        found = corpus_index(static_table, platform_profile).nearest(
            task_text, plan.retrieved, named, said=plan.names_from_words, slots=plan.slots
        )
    return tuple(reversed(found)) if plan.nearest_last else found


def tool_summaries(
    needs_model: bool, task_text: str, prompt_examples: tuple[tuple[str, str], ...], generation_plan: GenerationPlan = DEFAULT_PLAN
) -> tuple[tuple[str, str], ...]:
    """`whatis` one-liners of the utilities the examples use and the request names (unless the plan leaves them out)."""
    return utility_summaries(task_text, prompt_examples) if needs_model and generation_plan.utility_notes else ()


def generation_prompt(
    needs_model: bool,
    request_text: str,
    platform_profile: Platform,
    installed_tools: tuple[str, ...],
    prompt_examples: tuple[tuple[str, str], ...],
    tool_summaries: tuple[tuple[str, str], ...],
    folder_names: FolderListing | None,
    follow_up: FollowUp | None = None,
    generation_plan: GenerationPlan = DEFAULT_PLAN,
    table_headers: tuple[TableHeader, ...] = (),
) -> Prompt | None:
    """The prompt for the model; None when the request does not need one.

    A follow-up ends the prompt with the previous request, its command, and the follow-up.
    """
    if not needs_model:
        return None
    prompt = build_prompt(
        request_text,
        platform_profile,
        installed_tools,
        prompt_examples,
        tool_summaries,
        plan=generation_plan,
        listing=folder_names,
        headers=table_headers,
    )
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


def llm_answers(
    generation_prompt: Prompt | None,
    llm_chain: BackendChain,
    generation_timeout_s: float,
    generation_plan: GenerationPlan = DEFAULT_PLAN,
    command_count: int = 1,
) -> Answers:
    """The model's answers: the greedy one, then the plan's sampled ones, within the time budget;
    for `caro -n`, until there are as many different commands as asked for."""
    if generation_prompt is None or not llm_chain:
        return Answers()
    want = command_count if command_count > 1 else 0
    return ask(llm_chain, generation_prompt, generation_timeout_s, generation_plan.samples, generation_plan.temperature, want_distinct=want)


def llm_generation(
    generation_prompt: Prompt | None,
    llm_chain: BackendChain,
    llm_answers: Answers,
    platform_profile: Platform,
    task_text: str,
    working_directory: str,
) -> Generation:
    """The model's command: of its answers, the one most of them agree with, then the one the
    linters find least wrong in; failures are values."""
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
    replies = llm_answers.replies
    if not replies:
        return Generation(ran=True, error=llm_answers.failures[-1], failures=llm_answers.failures)
    best = 0
    if len(replies) > 1:
        commands = [reply.command for reply in replies]
        best = ranked(commands, lambda c: score(check_command(c, platform_profile, request=task_text, cwd=working_directory)))[0]
    return Generation(
        ran=True,
        command=replies[best].command,
        backend=replies[best].backend,
        failures=llm_answers.failures,
        latency_ms=sum(reply.latency_ms for reply in replies),
    )
