"""Generate stage: a command from a language model for requests the static table cannot answer.

No model backend is built in yet: when a request needs one, the stage says so as a value
(`not_configured`), which the emit stage turns into a clear message and exit code.
"""

from __future__ import annotations

from pipeline.values import Generation, GenerationError, GenerationErrorKind, InputProblem, StaticMatch


def llm_generation(
    request_problem: InputProblem | None,
    passthrough_command: str | None,
    static_match: StaticMatch | None,
) -> Generation:
    """The model's command for this request; skipped when an earlier stage already answered."""
    if request_problem is not None or passthrough_command is not None or static_match is not None:
        return Generation.skipped()
    return Generation(
        ran=True,
        error=GenerationError(
            kind=GenerationErrorKind.NOT_CONFIGURED,
            message="no language model configured, and the request is not in the static table",
            recoverable=False,
        ),
    )
