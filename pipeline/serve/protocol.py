"""The service protocol: one JSON object per line over a Unix stream socket, versioned.

Every request a client sends carries `protocol` and `caro` (the version). A service of another
protocol or caro version answers `{"refused": "version", "pid": N}` and shuts down, so the
client starts one of its own version; this first exchange must stay readable by every future
version. A service whose own code changed on disk since it started answers
`{"refused": "stale"}` the same way, so an upgrade (or a developer's edit) never leaves an old
service answering.

While a request is being worked on, the service sends `{"event": "alive"}` every second: the
client's wait is bounded by silence, not by how long a model answer or a queue may take.

Versions. 2 added the interactive prompt to a `run` conversation: a script whose plan is
`menu` may be followed, before `done`, by any number of
`{"op": "revise", "text": FOLLOW_UP, "follow_up": {"request": ..., "command": ...}}` and
`{"op": "judge", "text": COMMAND}` (each answered `{"script": ...}`, or `{"pull": true}`
when the model must be downloaded first) and `{"op": "explain", "text": COMMAND}` (answered
`{"text": ...}`), and `done` may carry `"actions": [[NAME, UNIX_TIME], ...]`. Every version 1
message means what it meant; a client that never shows the prompt never sends the new ones.

Light on purpose (json and the C socket module only): the request path imports it.
"""

from __future__ import annotations

import json
import os
import sys

# The C socket module: all a Unix stream socket needs, without the `socket` wrapper's import
# (2 ms of a 25 ms request). The service's own sockets are `socket.socket`, a subclass.
import _socket

from pipeline import __version__

PROTOCOL = 2
HEARTBEAT_S = 1.0
# A line longer than this is not a caro message (the longest request is 128 Ki characters).
MAX_LINE = 16 * 1024 * 1024


def hello() -> dict[str, object]:
    """The fields every request starts with."""
    return {"protocol": PROTOCOL, "caro": __version__}


def same_version(message: dict[str, object]) -> bool:
    return message.get("protocol") == PROTOCOL and message.get("caro") == __version__


class ProtocolError(Exception):
    """The other side sent something that is not a caro message."""


class Channel:
    """A socket carrying caro messages, one JSON object per line."""

    __slots__ = ("sock", "_buffer")

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def send(self, message: dict[str, object]) -> None:
        # ensure_ascii (the default) keeps lone surrogates, from undecodable input, intact.
        self.sock.sendall(json.dumps(message, separators=(",", ":")).encode("ascii") + b"\n")

    def receive(self, timeout: float | None) -> dict[str, object] | None:
        """The next message, or None when the other side closed; TimeoutError after `timeout` s of silence."""
        while b"\n" not in self._buffer:
            self.sock.settimeout(timeout)
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE:
                raise ProtocolError("message too long")
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            message = json.loads(line)
        except ValueError:
            raise ProtocolError("not JSON") from None
        if not isinstance(message, dict):
            raise ProtocolError("not an object")
        return message

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def peer_uid(sock: _socket.socket) -> int | None:
    """The user id of the process at the other end of a Unix socket; None where it cannot be known."""
    if hasattr(_socket, "SO_PEERCRED"):  # Linux: struct ucred {pid_t pid; uid_t uid; gid_t gid;}
        raw = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        return int.from_bytes(raw[4:8], sys.byteorder)
    if sys.platform == "darwin":  # struct xucred {u_int cr_version; uid_t cr_uid; ...}; SOL_LOCAL=0, LOCAL_PEERCRED=1
        raw = sock.getsockopt(0, 1, 76)
        return int.from_bytes(raw[4:8], sys.byteorder)
    return None


def is_own_peer(sock: _socket.socket) -> bool:
    """Whether the other end runs as this user (the only user a service or a client talks to)."""
    try:
        return peer_uid(sock) == os.getuid()
    except OSError:
        return False
