"""Where a user's caro service listens: a Unix socket in a private runtime directory.

The directory is `$XDG_RUNTIME_DIR/caro` when the session has one, else `$TMPDIR/caro-<uid>`
(`/tmp` by default), created with mode 0700 and refused unless this user owns it and nobody
else may enter it. One service serves one state home: the socket's name is a hash of the
variables that say where caro's state lives (CARO_HOME, the XDG folders, HOME), so two homes
never share a service, and the service finds the same config, models and telemetry database
as its clients.

Light on purpose: the request path imports it (os and stat only).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping

# The variables that decide where caro's state lives (pipeline/paths.py): one service per value.
_STATE_VARIABLES = ("CARO_HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "HOME")
# sockaddr_un holds 108 bytes on Linux, 104 on macOS, with the final NUL.
_MAX_SOCKET_PATH = 103


class Unavailable(Exception):
    """The service cannot be used for this request; `reason` is a few words for `--verbose`, never a path."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _fnv1a64(text: str) -> str:
    # Not for security (the directory's owner and mode are): a stable short name, with no
    # hashlib import on the request path.
    value = 0xCBF29CE484222325
    for byte in text.encode("utf-8", "surrogateescape"):
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{value:016x}"


def service_key(environ: Mapping[str, str]) -> str:
    """The name of the service for this environment's state home."""
    return _fnv1a64("\0".join(environ.get(name, "") for name in _STATE_VARIABLES))


def runtime_dir(environ: Mapping[str, str], *, create: bool = True) -> str:
    """This user's private folder for service sockets, created 0700 if missing; Unavailable if unsafe."""
    uid = os.getuid()
    xdg = environ.get("XDG_RUNTIME_DIR", "")
    if xdg and os.path.isabs(xdg) and os.path.isdir(xdg):
        folder = os.path.join(xdg, "caro")
    else:
        folder = os.path.join(environ.get("TMPDIR") or "/tmp", f"caro-{uid}")
    if create:
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError:
            raise Unavailable("the runtime directory cannot be created") from None
    try:
        info = os.lstat(folder)
    except OSError:
        raise Unavailable("no runtime directory") from None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != uid:
        raise Unavailable("the runtime directory is not this user's")
    if info.st_mode & 0o077:
        raise Unavailable("the runtime directory is open to other users")
    if create and not os.access(folder, os.W_OK | os.X_OK):
        raise Unavailable("the runtime directory is not writable")
    return folder


class Endpoint:
    """The files of one service: its socket, pid file, start lock and crash report."""

    __slots__ = ("folder", "key")

    def __init__(self, folder: str, key: str) -> None:
        self.folder = folder
        self.key = key

    @classmethod
    def for_environment(cls, environ: Mapping[str, str] | None = None, *, create: bool = True) -> Endpoint:
        env = os.environ if environ is None else environ
        home = env.get("CARO_HOME")
        if home and not os.path.isabs(os.path.expanduser(home)):
            # A relative CARO_HOME names another folder from each working directory: no one service can serve it.
            raise Unavailable("CARO_HOME is a relative path")
        endpoint = cls(runtime_dir(env, create=create), service_key(env))
        if len(endpoint.socket.encode()) > _MAX_SOCKET_PATH:
            raise Unavailable("the runtime directory's path is too long for a socket")
        return endpoint

    def _path(self, suffix: str) -> str:
        return os.path.join(self.folder, self.key + suffix)

    @property
    def socket(self) -> str:
        return self._path(".sock")

    @property
    def pid_file(self) -> str:
        return self._path(".pid")

    @property
    def lock_file(self) -> str:
        return self._path(".lock")

    @property
    def crash_file(self) -> str:
        """Where the service's fatal-signal report goes (faulthandler): proof that the model crashed it."""
        return self._path(".crash")
