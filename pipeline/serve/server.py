"""The caro service: a Unix socket, a thread per client, and an exit when idle.

Security: the socket lives in the user's private runtime directory (0700) and is itself 0600,
so only this user can connect; the service still checks each peer's uid (SO_PEERCRED) and
drops any other. There is no TCP listener. The service never runs a user's command.

Life cycle: started by a client (or `caro serve`), it loads the pipeline, says it is ready,
and serves until it has had no client for `serve.idle_s` seconds, until `caro serve --stop` or
SIGTERM, or until a client of another version, or its own code changing on disk, retires it.
Retiring removes the socket at once (a new service can start beside the old one) and lets
the requests in hand finish.

A fatal signal (llama.cpp aborts on a damaged model file) kills the service, not the client:
`faulthandler` writes the threads' stacks to the crash file, where the client that was
waiting finds the proof that the model did it (see `pipeline/serve/client.py`).
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import select
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pipeline
from pipeline.serve.endpoint import Endpoint
from pipeline.serve.protocol import HEARTBEAT_S, Channel, ProtocolError, is_own_peer, same_version
from pipeline.serve.spawn import READY, StartLock

# A client that connects and says nothing for this long is dropped.
_FIRST_MESSAGE_S = 10.0
# How long retiring waits for the requests in hand (a client at a confirmation prompt, say).
_RETIRE_WAIT_S = 60.0
_CRASH_FILE_LIMIT = 1 << 20


class Conversation:
    """One client's connection: its messages, and heartbeats while the service works for it."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._send_lock = threading.Lock()
        self._working = False
        self.gone = threading.Event()  # the client closed its end: nobody reads what is being made
        # Whether the client may show what its request waits for (plain output), and what that is now.
        self.show_progress = False
        self.phase: str | None = None

    def send(self, message: dict[str, Any]) -> None:
        with self._send_lock:
            self.channel.send(message)

    def receive(self, timeout: float | None) -> dict[str, Any] | None:
        return self.channel.receive(timeout)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Working for the client: heartbeats go out (with the model's phase), and a generation stops if the client leaves."""
        from pipeline.backends.clock import cancel_on, progress_to

        self._working = True
        try:
            with cancel_on(self.gone), progress_to(self._progress):
                yield
        finally:
            self._working = False
            self.phase = None

    def _progress(self, phase: str) -> None:
        """A backend's phase (loading the model, generating): told at once, and with every heartbeat after."""
        if self.show_progress and phase != self.phase:
            self.phase = phase
            self._alive()

    def beat(self) -> None:
        if self._working:
            if self._client_left():
                self.gone.set()  # the request's generation stops at its next step (the abort callback)
                return
            self._alive()

    def _alive(self) -> None:
        try:
            self.send({"event": "alive", "phase": self.phase} if self.phase else {"event": "alive"})
        except OSError:
            self.gone.set()

    def _client_left(self) -> bool:
        """Whether the client closed its end (Ctrl-C, killed): it sends nothing while it waits, so a read sees the end.

        Never blocks: the socket keeps the timeout of the last receive, and a peek on it would wait that long.
        """
        sock = self.channel.sock
        try:
            if not select.select([sock], [], [], 0)[0]:
                return False  # nothing to read: the client is there, waiting
            return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except (BlockingIOError, InterruptedError, TimeoutError):
            return False
        except (OSError, ValueError):  # reset by the peer, or already closed here
            return True


def source_fingerprint() -> tuple[tuple[str, int, int], ...]:
    """The installed code and data of caro (modules and configs), by name, mtime and size."""
    root = Path(pipeline.__file__).resolve().parents[1]
    found = []
    for top in ("pipeline", "nodes", "configs"):
        for folder, subfolders, files in os.walk(root / top):
            subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
            for name in sorted(files):
                if name.endswith((".py", ".toml")):
                    path = os.path.join(folder, name)
                    with contextlib.suppress(OSError):
                        info = os.stat(path)
                        found.append((path, info.st_mtime_ns, info.st_size))
    return tuple(found)


class Server:
    """A caro service on one endpoint."""

    def __init__(self, endpoint: Endpoint, *, idle_s: float) -> None:
        self.endpoint = endpoint
        self.idle_s = idle_s
        self.started = time.monotonic()
        self.requests = 0
        self._retiring = threading.Event()
        self._listener: socket.socket | None = None
        self._inode = 0
        self._conversations: set[Conversation] = set()
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._last_activity = time.monotonic()
        self._fingerprint: tuple[tuple[str, int, int], ...] = ()
        self._crash_report: Any = None
        self.pool: Any = None

    # -- starting ---------------------------------------------------------------------------

    def start(self, ready_fd: int | None = None) -> bool:
        """Load, bind and listen; False when another service already listens on the endpoint."""
        # llama.cpp prints a gdb backtrace (with the user's paths) before it aborts, unless told not to.
        os.environ["GGML_NO_BACKTRACE"] = "1"
        self._fingerprint = source_fingerprint()
        from pipeline.serve.handlers import Pool

        self.pool = Pool()
        self._warm_up()
        # A client that started this service holds the start lock for it until it is ready.
        with contextlib.nullcontext() if ready_fd is not None else StartLock(self.endpoint, timeout_s=30.0):
            if _listening(self.endpoint.socket):
                _say_ready(ready_fd)
                return False
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.endpoint.socket)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old_umask = os.umask(0o177)  # the socket file is born 0600
            try:
                listener.bind(self.endpoint.socket)
            finally:
                os.umask(old_umask)
            os.chmod(self.endpoint.socket, 0o600)
            listener.listen(64)
            self._inode = os.stat(self.endpoint.socket).st_ino
            self._listener = listener
        _write_private(self.endpoint.pid_file, f"{os.getpid()}\n")
        self._watch_for_crashes()
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda *_: self._retiring.set())
        _say_ready(ready_fd)
        return True

    def _warm_up(self) -> None:
        """Build the pipeline for the settings this service was started with: the next request's, most likely."""
        from pipeline.cli.common import settings_from
        from pipeline.serve.handlers import Ask

        with contextlib.suppress(Exception):  # a broken config is each request's error to report, not the service's
            settings_from(None)
            self.pool.pipeline(Ask({"env": dict(os.environ), "cwd": "/"}).settings())

    def _watch_for_crashes(self) -> None:
        path = self.endpoint.crash_file
        with contextlib.suppress(OSError):
            if os.path.getsize(path) > _CRASH_FILE_LIMIT:
                os.truncate(path, 0)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._crash_report = os.fdopen(fd, "w")
        faulthandler.enable(file=self._crash_report, all_threads=True)

    # -- serving ----------------------------------------------------------------------------

    def serve(self) -> None:
        """Accept clients until retired or idle, then let the requests in hand finish."""
        assert self._listener is not None
        threading.Thread(target=self._heartbeats, name="caro-heartbeat", daemon=True).start()
        self._listener.settimeout(0.25)
        while not self._retiring.is_set():
            try:
                sock, _ = self._listener.accept()
            except socket.timeout:
                self._retire_when_idle()
                continue
            except OSError:
                if self._retiring.is_set():
                    break
                raise
            thread = threading.Thread(target=self._converse, args=(sock,), daemon=True)
            with self._lock:
                self._threads.add(thread)
                self._last_activity = time.monotonic()
            thread.start()
        self._close_listener()
        deadline = time.monotonic() + _RETIRE_WAIT_S
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        with contextlib.suppress(OSError):
            if _read(self.endpoint.pid_file).strip() == str(os.getpid()):
                os.unlink(self.endpoint.pid_file)

    def _retire_when_idle(self) -> None:
        with self._lock:
            idle = not self._threads and time.monotonic() - self._last_activity > self.idle_s
        if idle:
            self._retiring.set()

    def retire(self) -> None:
        """Stop taking clients now (the socket goes at once); the requests in hand finish."""
        self._retiring.set()
        self._close_listener()

    def _close_listener(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is None:
            return
        with contextlib.suppress(OSError):  # only our own socket: a successor may have bound a new one
            if os.stat(self.endpoint.socket).st_ino == self._inode:
                os.unlink(self.endpoint.socket)
        listener.close()

    def _heartbeats(self) -> None:
        while True:
            time.sleep(HEARTBEAT_S)
            with self._lock:
                conversations = list(self._conversations)
            for conversation in conversations:
                conversation.beat()

    def _converse(self, sock: socket.socket) -> None:
        channel = Channel(sock)
        conversation = Conversation(channel)
        with self._lock:
            self._conversations.add(conversation)
        try:
            if not is_own_peer(sock):
                return  # another user's process: not a word
            message = channel.receive(_FIRST_MESSAGE_S)
            if message is None:
                return
            if not same_version(message) or source_fingerprint() != self._fingerprint:
                # Another caro version, or this one's code changed on disk: make way for a new service.
                conversation.send({"refused": "version" if not same_version(message) else "stale", "pid": os.getpid()})
                self.retire()
                return
            if message.get("op") != "status":
                with self._lock:
                    self.requests += 1
            from pipeline.serve.handlers import dispatch

            dispatch(message, conversation, self)
        except (OSError, ProtocolError):
            pass  # the client went away or spoke nonsense: nothing to answer
        except Exception as error:  # a bug: the client answers in its own process
            with contextlib.suppress(OSError):
                conversation.send({"fault": "internal", "type": type(error).__name__})
        finally:
            channel.close()
            with self._lock:
                self._conversations.discard(conversation)
                self._threads.discard(threading.current_thread())
                self._last_activity = time.monotonic()

    def status(self) -> dict[str, Any]:
        """What `caro serve --status` shows."""
        from pipeline.backends.llama_cpp import loaded_models

        return {
            "running": True,
            "pid": os.getpid(),
            "version": pipeline.__version__,
            "uptime_s": round(time.monotonic() - self.started, 1),
            "requests": self.requests,
            "idle_s": self.idle_s,
            "models": loaded_models(),
            "socket": self.endpoint.socket,
        }


def _listening(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _say_ready(fd: int | None) -> None:
    if fd is None:
        return
    with contextlib.suppress(OSError):
        os.write(fd, READY)
        os.close(fd)


def _write_private(path: str, text: str) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()
