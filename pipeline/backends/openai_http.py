"""The `vllm` backend over HTTP: a vLLM server's OpenAI-compatible API, with the standard library only.

The reply is constrained with `response_format: {"type": "json_schema", ...}`, which vLLM
turns into structured-output decoding (the old `guided_json` field is gone from vLLM).

Run the server with vLLM's usage statistics switched off, as caro does for in-process vLLM:

    VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 vllm serve MODEL --host 127.0.0.1

Failure messages never hold the server's address, the prompt or the reply: they reach the
user's terminal and the telemetry, and the address may name a private host.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from pipeline.backends.base import AnswerFormat, BackendFailure, Prompt, Reply, command_schema, parse_command_reply
from pipeline.values import GenerationErrorKind

NAME = "vllm"
HEALTH_TIMEOUT_S = 2.0
_MAX_BODY = 4 * 1024 * 1024  # a chat reply of one short command is a few KiB; refuse a flood
_RETRY_PAUSE_S = 0.1
_OOM_HINTS = ("out of memory", "outofmemory", "cuda oom", "kv cache", "failed to allocate")


class _Transient(Exception):
    """A failure the server may not repeat on the next attempt (refused, reset, 429, 5xx)."""

    def __init__(self, failure: BackendFailure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def _fail(kind: GenerationErrorKind, message: str) -> BackendFailure:
    return BackendFailure(kind, message, NAME)


def _http_failure(status: int, detail: str) -> BackendFailure | _Transient:
    """The failure for an HTTP error status; `detail` (the error body) is read, never quoted."""
    lowered = detail.lower()
    if any(hint in lowered for hint in _OOM_HINTS):
        return _fail(GenerationErrorKind.OOM, f"the vLLM server ran out of memory (HTTP {status})")
    if status == 404:
        return _fail(GenerationErrorKind.NOT_FOUND, "the vLLM server does not serve the configured model (HTTP 404); check vllm.model")
    if status in (401, 403):
        return _fail(GenerationErrorKind.NOT_CONFIGURED, f"the vLLM server refused the API key (HTTP {status}); check vllm.api_key")
    if status == 429 or status >= 500:
        return _Transient(_fail(GenerationErrorKind.INFERENCE_FAILED, f"the vLLM server failed to answer (HTTP {status})"))
    if status == 400 and ("context length" in lowered or "maximum context" in lowered):
        return _fail(GenerationErrorKind.INFERENCE_FAILED, "the prompt does not fit the served model's context (HTTP 400)")
    return _fail(GenerationErrorKind.INFERENCE_FAILED, f"the vLLM server rejected the request (HTTP {status})")


def _is_timeout(exc: BaseException) -> bool:
    return isinstance(exc, (TimeoutError, socket.timeout)) or (
        isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, (TimeoutError, socket.timeout))
    )


@dataclass(eq=False)
class OpenAIHttpBackend:
    """A vLLM server (or any server with the same OpenAI-compatible API) as a model backend."""

    base_url: str = field(repr=False)  # no host names in logs or reprs
    model: str = ""  # empty: the server's only model
    api_key: str = field(default="", repr=False)
    request_timeout_s: float = 30.0
    retries: int = 2
    name: str = NAME
    _served_model: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")

    def health(self) -> bool:
        """Whether the server answers now: GET /health, else GET /v1/models (short timeout)."""
        timeout = min(HEALTH_TIMEOUT_S, self.request_timeout_s)
        for path in ("/health", "/v1/models"):
            try:
                with self._open("GET", path, None, timeout) as response:
                    response.read(_MAX_BODY)
                    return 200 <= response.status < 300
            except urllib.error.HTTPError as exc:
                exc.close()
                if exc.code != 404:  # /health is vLLM's; other servers may lack it
                    return False
            except (OSError, ValueError):
                return False
        return False

    def generate(self, prompt: Prompt, *, timeout_s: float) -> Reply:
        """One command for the prompt, or BackendFailure."""
        started = time.monotonic()
        deadline = started + timeout_s
        body: dict[str, Any] = {
            "model": self._model_name(deadline),
            "messages": prompt.messages(),
            "max_tokens": prompt.max_tokens,
            "temperature": prompt.temperature,
        }
        if prompt.seed is not None:
            body["seed"] = prompt.seed
        if prompt.answer_format is AnswerFormat.JSON:
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "shell_command", "schema": command_schema(prompt.max_command_chars), "strict": True},
            }
        else:
            body["stop"] = ["\n```\n"]  # the end of the first code block: the rest is never read
        data = self._request("POST", "/v1/chat/completions", body, deadline)
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content")
            finish_reason = choice.get("finish_reason")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise _fail(GenerationErrorKind.PARSE_ERROR, "the vLLM server's reply has no message") from None
        command = parse_command_reply(_closed(text, prompt), finish_reason, NAME, prompt.answer_format)
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        return Reply(
            command=command,
            backend=NAME,
            latency_ms=(time.monotonic() - started) * 1000,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    def _model_name(self, deadline: float) -> str:
        """The configured model, or the one model the server lists (asked once, then kept)."""
        if self.model:
            return self.model
        if self._served_model is None:
            listing = self._request("GET", "/v1/models", None, deadline)
            entries = listing.get("data") if isinstance(listing.get("data"), list) else []
            ids = [entry["id"] for entry in entries if isinstance(entry, dict) and isinstance(entry.get("id"), str)]
            if not ids:
                raise _fail(GenerationErrorKind.NOT_FOUND, "the vLLM server serves no model")
            if len(ids) > 1:
                raise _fail(GenerationErrorKind.NOT_CONFIGURED, "the vLLM server serves several models; set vllm.model to one")
            self._served_model = ids[0]
        return self._served_model

    def _open(self, method: str, path: str, body: dict[str, Any] | None, timeout: float) -> Any:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - the scheme is checked by settings

    def _request(self, method: str, path: str, body: dict[str, Any] | None, deadline: float) -> dict[str, Any]:
        """The JSON object the server answers, retrying transient failures within the deadline."""
        last: BackendFailure | None = None
        for attempt in range(self.retries + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                return self._once(method, path, body, min(self.request_timeout_s, remaining))
            except _Transient as transient:
                last = transient.failure
                pause = _RETRY_PAUSE_S * (2**attempt)
                if attempt < self.retries and deadline - time.monotonic() > pause:
                    time.sleep(pause)
        if last is not None:
            raise last
        raise _fail(GenerationErrorKind.TIMEOUT, "the vLLM server did not answer within the time budget")

    def _once(self, method: str, path: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        try:
            with self._open(method, path, body, timeout) as response:
                raw = response.read(_MAX_BODY + 1)
        except urllib.error.HTTPError as exc:
            try:
                detail = exc.read(64 * 1024).decode("utf-8", "replace")
            except OSError:
                detail = ""
            finally:
                exc.close()
            failure = _http_failure(exc.code, detail)
            raise failure from None
        except Exception as exc:  # urllib raises URLError, OSError, http.client errors, ValueError
            if _is_timeout(exc):
                raise _fail(GenerationErrorKind.TIMEOUT, "the vLLM server did not answer within the time budget") from None
            if isinstance(exc, http.client.IncompleteRead):
                raise _fail(GenerationErrorKind.PARSE_ERROR, "the vLLM server's reply was cut off") from None
            if isinstance(exc, ValueError):  # a malformed URL; settings normally catch it first
                raise _fail(GenerationErrorKind.NOT_CONFIGURED, "vllm.base_url is not a usable URL") from None
            # Refused, reset, unreachable, or no such host: the message names none of them.
            raise _Transient(_fail(GenerationErrorKind.INFERENCE_FAILED, "the vLLM server cannot be reached")) from None
        if len(raw) > _MAX_BODY:
            raise _fail(GenerationErrorKind.PARSE_ERROR, "the vLLM server's reply is too large")
        try:
            data = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise _fail(GenerationErrorKind.PARSE_ERROR, "the vLLM server's reply is not valid JSON") from None
        if not isinstance(data, dict):
            raise _fail(GenerationErrorKind.PARSE_ERROR, "the vLLM server's reply is not a JSON object")
        return data


def _closed(text: str | None, prompt: Prompt) -> str | None:
    """A free answer as the model wrote it: the server's stop sequence removed the code block's closing fence."""
    if prompt.answer_format is AnswerFormat.CODE and text is not None and text.count("```") % 2 == 1:
        return text + "\n```"
    return text
