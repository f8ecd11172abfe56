"""Test infrastructure: an OpenAI-API adapter in front of llama.cpp's server, on 127.0.0.1.

llama.cpp's server (`python -m llama_cpp.server`) accepts `response_format` `json_object` with a
`schema`, but rejects vLLM's `json_schema` form. The adapter rewrites that one field and passes
everything else through unchanged (paths, headers, status codes, bodies), so the vllm backend
is tested exactly as it talks to vLLM. It records what the backend sent, for the tests to read.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PASSED_HEADERS = ("Content-Type", "Authorization", "Accept")


@dataclass
class Seen:
    """One request the adapter received: method, path, headers, and the JSON body as sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None


def rewrite(body: dict[str, Any]) -> dict[str, Any]:
    """The body llama.cpp's server accepts: `json_schema` response formats become `json_object` + schema."""
    response_format = body.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        schema = response_format.get("json_schema", {}).get("schema")
        body = {**body, "response_format": {"type": "json_object", "schema": schema}}
    return body


@dataclass
class Adapter:
    """A running adapter: its base URL and the requests it has seen."""

    upstream: str
    server: ThreadingHTTPServer | None = None
    seen: list[Seen] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Adapter:
        adapter = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # keep the test output clean
                return None

            def do_GET(self) -> None:
                self._forward(None)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self._forward(self.rfile.read(length))

            def _forward(self, raw: bytes | None) -> None:
                body = json.loads(raw) if raw else None
                headers = {name: self.headers[name] for name in _PASSED_HEADERS if self.headers.get(name)}
                adapter.seen.append(Seen(self.command, self.path, headers, body))
                data = json.dumps(rewrite(body)).encode() if body is not None else None
                request = urllib.request.Request(adapter.upstream + self.path, data=data, headers=headers, method=self.command)
                try:
                    with urllib.request.urlopen(request, timeout=120) as response:
                        status, payload, kind = response.status, response.read(), response.headers.get("Content-Type")
                except urllib.error.HTTPError as error:
                    status, payload, kind = error.code, error.read(), error.headers.get("Content-Type")
                self.send_response(status)
                self.send_header("Content-Type", kind or "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name="openai-adapter", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
