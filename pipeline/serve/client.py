"""The client side: connect to the user's service (starting it on demand) and ask it something.

`Service.connect()` finds the socket of this environment's service, checks that the process
at the other end runs as this user, and starts the service when none listens (a stale socket
left by a killed service is removed under the start lock). `ask` sends one message and waits
for the answer for as long as the service keeps saying it is alive.

Failures are of two kinds. `Unavailable`: the service cannot be used (no runtime directory,
it does not start, it stopped answering, it died); the caller answers in its own process.
`model_crashed()`: the service died while llama.cpp was running (a damaged model file aborts
inside llama.cpp); answering in process would crash the client the same way, so the caller
reports it as one line instead.

Light on purpose: the request path imports it.
"""

from __future__ import annotations

import _socket  # the C module: see pipeline/serve/protocol.py
import os
import time
from collections.abc import Mapping

from pipeline.errors import CaroError, ExitCode
from pipeline.serve.endpoint import Endpoint, Unavailable
from pipeline.serve.protocol import Channel, ProtocolError, hello, is_own_peer

TYPE_CHECKING = False  # typing's own flag, without importing typing (2 ms) on the request path
if TYPE_CHECKING:
    from pipeline.cli.spinner import Spinner

# A cold start imports Hamilton and builds the pipeline: about a second on an idle machine,
# many more on a busy one.
START_TIMEOUT_S = 30.0
# The service says it is alive every second while it works: this much silence means it is stuck.
SILENCE_S = 15.0
# How long an old service (another version, or changed code) may take to let go of the socket.
HANDOVER_S = 10.0


def model_crashed(victim: str = " the caro service") -> CaroError:
    """The one-line error for a model that took the service (or the child answering in caro's stead) down with it."""
    return CaroError(
        f"the language model crashed{victim}; its file is probably damaged",
        code="model_crashed",
        exit_code=ExitCode.ERROR,
        hint="run `caro model pull` to download it again",
    )


class Service:
    """A connection to this user's caro service."""

    def __init__(self, channel: Channel, endpoint: Endpoint, environ: Mapping[str, str]) -> None:
        self.channel = channel
        self.endpoint = endpoint
        self.environ = environ
        self.started_it = False  # this client started the service (a cold start)

    @classmethod
    def connect(cls, environ: Mapping[str, str] | None = None, *, start: bool = True, spinner: Spinner | None = None) -> Service:
        """A connection to the running service, started first when `start` and none runs; else Unavailable.

        `spinner` shows a sign of life while a service starts (it draws only when its owner allows).
        """
        env = os.environ if environ is None else environ
        endpoint = Endpoint.for_environment(env, create=start)
        channel = _connect(endpoint)
        service = cls(channel, endpoint, env) if channel is not None else None
        if service is None:
            if not start:
                raise Unavailable("the service is not running")
            service = cls(_start(endpoint, spinner), endpoint, env)
            service.started_it = True
        return service

    def ask(self, message: dict[str, object], *, first: bool = True, spinner: Spinner | None = None) -> dict[str, object]:
        """Send `message` and return the service's answer (heartbeats go to `spinner`, when there is one).

        The first message of a connection carries the version; a service of another version, or
        one whose code changed, refuses it and goes, and this client starts its own and asks again.
        """
        payload = {**hello(), **message} if first else message
        reply = self._exchange(payload, spinner)
        if first and "refused" in reply:
            self.channel.close()
            _wait_until_gone(self.endpoint)
            self.channel = _start(self.endpoint, spinner)
            self.started_it = True
            reply = self._exchange(payload, spinner)
            if "refused" in reply:
                raise Unavailable("the service refused the request")
        if "error" in reply:
            error = reply["error"]
            assert isinstance(error, dict)
            raise CaroError(
                str(error["message"]),
                code=str(error["code"]),
                exit_code=ExitCode(int(error["exit_code"])),
                hint=error.get("hint"),  # type: ignore[arg-type]
            )
        if "fault" in reply:  # a bug in the service: the caller answers in process (and reports it there)
            raise Unavailable("the service failed on this request")
        return reply

    def tell(self, message: dict[str, object]) -> None:
        """Send a message that needs no answer (the connection is closed right after)."""
        try:
            self.channel.send(message)
        except OSError:
            pass

    def close(self) -> None:
        self.channel.close()

    def _exchange(self, message: dict[str, object], spinner: Spinner | None = None) -> dict[str, object]:
        sent = time.time()
        try:
            self.channel.send(message)
            heard = time.monotonic()
            while True:
                try:  # with a spinner, wake ten times a second to turn it; the limit is still SILENCE_S of silence
                    reply = self.channel.receive(SILENCE_S if spinner is None else 0.1)
                except TimeoutError:
                    if spinner is None or time.monotonic() - heard > SILENCE_S:
                        raise
                    spinner.tick()
                    continue
                if reply is None:
                    break
                heard = time.monotonic()
                if reply.get("event") != "alive":
                    return reply
                if spinner is not None:
                    spinner.phase(reply.get("phase"))  # type: ignore[arg-type]
                    spinner.tick()
        except TimeoutError:  # _socket.timeout is TimeoutError
            raise Unavailable("the service stopped answering") from None
        except (OSError, ProtocolError):
            pass
        # The service went away in the middle of this request.
        if _crashed_in_model(self.endpoint, since=sent):
            raise model_crashed()
        raise Unavailable("the service stopped during the request")


def _connect(endpoint: Endpoint) -> Channel | None:
    """A channel to the service listening at the endpoint, or None when none listens."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(endpoint.socket)
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        return None
    except OSError:
        sock.close()
        raise Unavailable("the service's socket cannot be reached") from None
    if not is_own_peer(sock):
        sock.close()
        raise Unavailable("the socket is not served by this user")
    return Channel(sock)


def _start(endpoint: Endpoint, spinner: Spinner | None = None) -> Channel:
    """Start the service (unless a concurrent client just did) and connect to it."""
    from pipeline.serve.spawn import StartLock, start_detached

    tick = None
    if spinner is not None:
        spinner.phase("starting")
        tick = spinner.tick
    with StartLock(endpoint, START_TIMEOUT_S, tick=tick):
        channel = _connect(endpoint)
        if channel is not None:
            return channel
        try:
            os.unlink(endpoint.socket)  # left by a service that was killed: nothing listens on it
        except FileNotFoundError:
            pass
        except OSError:
            raise Unavailable("a stale socket cannot be removed") from None
        start_detached(START_TIMEOUT_S, tick=tick)
        channel = _connect(endpoint)
    if channel is None:
        raise Unavailable("the service did not start")
    return channel


def _wait_until_gone(endpoint: Endpoint) -> None:
    deadline = time.monotonic() + HANDOVER_S
    while time.monotonic() < deadline:
        channel = _connect(endpoint)
        if channel is None:
            return
        channel.close()
        time.sleep(0.02)
    raise Unavailable("an old service does not let go of the socket")


def _crashed_in_model(endpoint: Endpoint, *, since: float) -> bool:
    """Whether the service died of a fatal signal, after `since`, with a thread inside llama.cpp.

    The service writes its threads' Python stacks to the crash file when a fatal signal
    (llama.cpp's abort, a segfault) kills it (`faulthandler`); a thread in `llama_cpp` code
    at that moment is the proof. A service stopped any other way (killed, a bug) writes nothing.
    """
    try:
        if os.stat(endpoint.crash_file).st_mtime < since - 1:
            return False
        with open(endpoint.crash_file, "rb") as handle:
            report = handle.read(1 << 20)
    except OSError:
        return False
    return b"Fatal Python error" in report and b"llama_cpp" in report
