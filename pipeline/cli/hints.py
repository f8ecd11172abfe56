"""What to do when no command came: a hint that names the real cause.

A request that got no command said "add it to a static table, or configure a model backend"
whatever happened, even when a backend was configured and only ran out of time. The hint now
follows the failure caro gave up after (`Result.generation_error`): no backend, a budget or a
warm-up that ran out, a model that is missing, damaged or crashed, memory, an unusable answer.
Messages that already say what to do (`caro model pull ...`, `check vllm.model`) get no hint.

Light on purpose: the values are compared by their text, without importing the pipeline.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pipeline.values import Result

# Words in a failure's message that already tell the user what to do.
_SELF_EXPLAINED = ("`caro model pull", "check vllm.", "set vllm.", "raise llama_cpp.", "set `model`", "reinstall caro", "give the path of")

TIMEOUT = (
    "on a slow or busy machine, raise generation.timeout_s (`caro config set generation.timeout_s 60`);"
    " keep the caro service on (serve.enabled) so that the model stays loaded between requests"
)
WARMUP = (
    "the machine is slow or busy: try again (the caro service keeps what the model has loaded),"
    " or raise generation.warmup_s (`caro config set generation.warmup_s 120`)"
)
NO_BACKEND = (
    "configure a model backend (`caro config set backend llama_cpp` for the embedded one),"
    " or add the request to a static table (extra_static_tables)"
)
MISSING_MODEL = "run `caro model pull` to download the model, or set `model` to a GGUF file that exists"
DAMAGED_MODEL = "the model file may be damaged: download it again (`caro model pull` for a model of the catalogue)"
MEMORY = "close other programs, or choose a smaller model (`caro model list`)"
UNUSABLE = "try again, or say it differently"


def no_command_hint(result: Result) -> str | None:
    """The hint for a request that got no command; None when the message already says what to do."""
    from pipeline.backends.base import WARMUP_SPENT

    error = result.generation_error
    if error is None:
        return UNUSABLE
    if any(words in error.message for words in _SELF_EXPLAINED):
        return None
    kind, on_server = error.kind.value, error.backend == "vllm"
    if kind == "not_configured":
        return NO_BACKEND if error.backend is None else "fix the setting the message names (`caro config show` lists them)"
    if kind == "timeout":
        if error.message == WARMUP_SPENT:
            return WARMUP
        return "the vLLM server may be overloaded: check it, or " + TIMEOUT if on_server else TIMEOUT
    if kind == "not_found":
        return "check that the vLLM server serves the model vllm.model names" if on_server else MISSING_MODEL
    if kind == "model_load_failed":
        return "check the vLLM server's log" if on_server else DAMAGED_MODEL
    if kind == "oom":
        return MEMORY
    if kind == "inference_failed":
        if on_server:
            return "check that the vLLM server runs at vllm.base_url (`caro config get vllm.base_url`)"
        return "try again; if it keeps failing, the model file may be damaged: `caro model pull` downloads it again"
    return UNUSABLE  # an answer that was not a command: a second try, or other words, often help
