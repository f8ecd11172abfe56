"""A scripted OpenAI-compatible model server on 127.0.0.1: answers the commands it is given, records what it is asked.

For tests where what the model answers must be known (an attack, a revision): caro talks to it
through its real HTTP backend (`vllm.mode = "http"`), exactly as to a vLLM server.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ScriptedModel:
    """Answers each chat request with the next command of `commands` (the last one again once they run out)."""

    def __init__(self, commands: list[str]) -> None:
        assert commands
        self.commands = list(commands)
        self.asked: list[dict] = []  # every chat request's JSON body, in order
        model = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                return None

            def _send(self, payload: object) -> None:
                body = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._send({"data": [{"id": "scripted"}]})

            def do_POST(self) -> None:
                model.asked.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}"))
                command = model.commands.pop(0) if len(model.commands) > 1 else model.commands[0]
                self._send({"choices": [{"message": {"content": json.dumps({"cmd": command})}, "finish_reason": "stop"}]})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def settings(self) -> dict[str, str]:
        """The environment that points caro at this server (and at nothing else)."""
        return {
            "CARO_BACKEND": "vllm", "CARO_VLLM_MODE": "http", "CARO_VLLM_MODEL": "scripted", "CARO_FALLBACK": "",
            "CARO_VLLM_BASE_URL": f"http://127.0.0.1:{self.server.server_address[1]}",
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
