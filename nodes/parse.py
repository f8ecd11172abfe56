"""Parse stage: the request text, its problems, the target platform, and a typed command passed through."""

from __future__ import annotations

import re
import unicodedata

from pipeline.follow_up import task_words
from pipeline.passthrough import looks_like_command
from pipeline.platform import resolve_platform
from pipeline.values import FollowUp, InputProblem, Platform, Refusal, Shell, TextKind, Userland

# Large enough for a 100 KB command given to `caro check`, far below anything that would
# make a stage slow; a request longer than this is a mistake (a pasted file), not a request.
MAX_TEXT_CHARS = 128 * 1024

# C0 controls except tab, newline and carriage return; DEL; C1 controls. ESC is among them,
# so terminal escape sequences pasted into a request are refused rather than echoed back.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s+")


def request_problem(raw_request: str) -> InputProblem | None:
    """Why the raw text cannot be handled, or None when it can."""
    if len(raw_request) > MAX_TEXT_CHARS:
        return InputProblem("too_long", f"the request is longer than {MAX_TEXT_CHARS} characters")
    if _SURROGATE.search(raw_request):
        return InputProblem("invalid_utf8", "the request is not valid UTF-8")
    if "\x00" in raw_request:
        return InputProblem("nul_byte", "the request contains a NUL byte")
    if _CONTROL.search(raw_request):
        return InputProblem("control_character", "the request contains control characters")
    if not raw_request.strip():
        return InputProblem("empty", "the request is empty")
    return None


def request_text(raw_request: str, request_problem: InputProblem | None) -> str:
    """The request normalised for matching: NFC, whitespace collapsed, trimmed ("" when unusable)."""
    if request_problem is not None:
        return ""
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", raw_request)).strip()


def platform_profile(requested_shell: Shell | None, requested_userland: Userland | None) -> Platform:
    """The platform the command is written for: detected once per process, overridable per request."""
    return resolve_platform(requested_shell, requested_userland)


def task_text(request_text: str, follow_up: FollowUp | None = None) -> str:
    """The user's words for the whole task: the request, after the earlier requests it follows up."""
    return task_words(request_text, follow_up)


def passthrough_command(
    raw_request: str,
    request_text: str,
    text_kind: TextKind,
    request_problem: InputProblem | None,
    follow_up: FollowUp | None = None,
) -> str | None:
    """The text itself when it already is a shell command (kept verbatim: quoting matters), else None.

    A follow-up is words to revise the previous command with ("head -n 5" means add it), never a
    replacement for it (see `pipeline/follow_up.py`).
    """
    if request_problem is not None or (follow_up is not None and text_kind is TextKind.REQUEST):
        return None
    if text_kind is TextKind.COMMAND or looks_like_command(request_text):
        return raw_request.strip()
    return None


def request_refusal(request_text: str, request_problem: InputProblem | None, passthrough_command: str | None) -> Refusal | None:
    """Why caro will not write a command for this request (configs/refusals.toml), or None.

    Only requests in words are screened: a typed command goes to the safety validator itself.
    """
    if request_problem is not None or passthrough_command is not None:
        return None
    from pipeline.refusals import refusal_for

    return refusal_for(request_text)
