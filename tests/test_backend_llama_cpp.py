"""The embedded backend with a real model: SmolLM2-135M run by llama.cpp in this process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pipeline.backends.base import BackendFailure, Prompt, Reply
from pipeline.backends.llama_cpp import LlamaCppBackend
from pipeline.values import GenerationErrorKind
from tests.conftest import REPO
from tests.tiny_model import LIST_FILES, TINY_MODEL, needs_tiny_model


def _failure(backend: LlamaCppBackend, prompt: Prompt, timeout_s: float = 60.0) -> BackendFailure:
    with pytest.raises(BackendFailure) as caught:
        backend.generate(prompt, timeout_s=timeout_s)
    return caught.value


@needs_tiny_model
def test_generate_returns_a_reply_with_a_command() -> None:
    backend = LlamaCppBackend(TINY_MODEL, n_ctx=2048)
    reply = backend.generate(LIST_FILES, timeout_s=60)
    assert isinstance(reply, Reply)
    assert reply.backend == "llama_cpp"
    assert reply.command.strip() == reply.command and reply.command  # the 135M model is weak: no content check
    assert reply.completion_tokens is not None and 0 < reply.completion_tokens <= LIST_FILES.max_tokens
    assert backend.load_seconds is not None and backend.load_seconds >= 0


@needs_tiny_model
def test_a_reply_cut_off_by_the_token_limit_is_a_parse_error_not_a_command() -> None:
    backend = LlamaCppBackend(TINY_MODEL, n_ctx=2048)
    failure = _failure(backend, Prompt(system=LIST_FILES.system, user=LIST_FILES.user, max_tokens=2))
    assert failure.kind is GenerationErrorKind.PARSE_ERROR
    assert failure.recoverable
    assert "cut off" in failure.message


@needs_tiny_model
def test_a_spent_time_budget_is_a_timeout() -> None:
    failure = _failure(LlamaCppBackend(TINY_MODEL, n_ctx=2048), LIST_FILES, timeout_s=1e-9)
    assert failure.kind is GenerationErrorKind.TIMEOUT
    assert failure.recoverable


def test_a_missing_file_is_not_found_and_unhealthy(tmp_path: Path) -> None:
    backend = LlamaCppBackend(tmp_path / "absent.gguf")
    assert backend.health() is False
    failure = _failure(backend, LIST_FILES)
    assert failure.kind is GenerationErrorKind.NOT_FOUND
    assert not failure.recoverable
    assert str(tmp_path) not in failure.message  # no paths in messages


def test_a_corrupt_file_is_a_load_failure_and_prints_nothing(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    corrupt = tmp_path / "corrupt.gguf"
    corrupt.write_bytes(b"NOTGGUF\0" + os.urandom(64 * 1024))
    backend = LlamaCppBackend(corrupt)
    assert backend.health() is True  # the file is there; health never loads it
    failure = _failure(backend, LIST_FILES)
    assert failure.kind is GenerationErrorKind.MODEL_LOAD_FAILED
    assert not failure.recoverable
    assert str(tmp_path) not in failure.message
    assert backend.load_seconds is None
    assert capfd.readouterr() == ("", "")


@needs_tiny_model
def test_the_model_is_loaded_once_per_process(tmp_path: Path) -> None:
    # Another spelling of the same file (through a symlink) shares the load too.
    link = tmp_path / "same.gguf"
    link.symlink_to(TINY_MODEL)
    first = LlamaCppBackend(TINY_MODEL, n_ctx=1536)
    second = LlamaCppBackend(link, n_ctx=1536)
    assert first.health() and first.load_seconds is None  # nothing loads before the first request
    first.generate(LIST_FILES, timeout_s=60)
    second.generate(LIST_FILES, timeout_s=60)
    assert first.load().llama is second.load().llama
    assert first.load_seconds == second.load_seconds
    other_context = LlamaCppBackend(TINY_MODEL, n_ctx=1024)
    assert other_context.load().llama is not first.load().llama


@needs_tiny_model
def test_concurrent_requests_on_one_model_both_answer() -> None:
    backend = LlamaCppBackend(TINY_MODEL, n_ctx=2048)
    replies: list[Reply] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:
            replies.append(backend.generate(LIST_FILES, timeout_s=120))
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(replies) == 2 and replies[0].command == replies[1].command  # temperature 0


@needs_tiny_model
def test_llama_cpp_prints_nothing_while_loading_and_answering(capfd: pytest.CaptureFixture[str]) -> None:
    backend = LlamaCppBackend(TINY_MODEL, n_ctx=1280)  # a context no other test uses: a fresh load
    backend.generate(LIST_FILES, timeout_s=60)
    assert backend.load_seconds is not None
    assert capfd.readouterr() == ("", "")


@needs_tiny_model
def test_a_process_that_answered_exits_without_printing() -> None:
    # Cached models are freed at exit, before the interpreter's teardown breaks llama_cpp.
    code = (
        "import sys\n"
        "from pipeline.backends.llama_cpp import LlamaCppBackend\n"
        "from tests.tiny_model import LIST_FILES\n"
        "LlamaCppBackend(sys.argv[1]).generate(LIST_FILES, timeout_s=60)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(TINY_MODEL)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@needs_tiny_model
def test_unloaded_models_load_again_on_the_next_request() -> None:
    from pipeline.backends.llama_cpp import unload_all

    backend = LlamaCppBackend(TINY_MODEL, n_ctx=1792)
    first = backend.load().llama
    assert unload_all() >= 1
    assert backend.generate(LIST_FILES, timeout_s=60).command
    assert backend.load().llama is not first


@needs_tiny_model
def test_a_code_answer_continues_the_chat_prompt_token_for_token_after_an_opened_block() -> None:
    """The code-block path formats the prompt itself (to open the answer with ```sh): its tokens must
    be exactly those `create_chat_completion` evaluates, so the resident model's cache still holds."""
    from dataclasses import replace

    from pipeline.backends.answers import AnswerFormat
    from pipeline.backends.llama_cpp import CODE_OPENING, _opened_code_block

    backend = LlamaCppBackend(TINY_MODEL, n_ctx=2048)
    llama = backend.load().llama
    prompt = replace(LIST_FILES, answer_format=AnswerFormat.CODE, examples=(("list the logs", "```sh\nls *.log\n```"),))
    llama.create_chat_completion(messages=prompt.messages(), max_tokens=1, temperature=0.0)
    chat_tokens = list(llama.input_ids[: llama.n_tokens - 1])  # what was evaluated, less the one token generated
    stream = _opened_code_block(llama, replace(prompt, max_tokens=1))
    assert stream is not None
    next(iter(stream), None)
    opening = llama.tokenize(CODE_OPENING.encode(), add_bos=False, special=True)
    opened = list(llama.input_ids[: len(chat_tokens) + len(opening)])
    assert opened[: len(chat_tokens)] == chat_tokens
    # A JSON answer keeps the chat path (its grammar needs it).
    assert _opened_code_block(llama, replace(prompt, answer_format=AnswerFormat.JSON)) is None


@needs_tiny_model
def test_a_code_answer_reads_the_command_after_the_opening() -> None:
    from dataclasses import replace

    from pipeline.backends.answers import AnswerFormat

    backend = LlamaCppBackend(TINY_MODEL, n_ctx=2048)
    reply = backend.generate(replace(LIST_FILES, answer_format=AnswerFormat.CODE), timeout_s=60)
    assert reply.command and "```" not in reply.command
    assert reply.completion_tokens is not None and reply.completion_tokens >= 1
