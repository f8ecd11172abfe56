"""The caro service as real processes on a real socket: start, idle exit, restarts, security, fallback.

Every test has its own CARO_HOME and runtime directory (tests/conftest.py), so each starts its
own service, which the fixture stops at the end.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline.errors import ExitCode
from tests.conftest import caro_executable
from tests.serving import alive, caro, endpoint, service_pid, wait_until

STATIC = "find python files modified in the last 7 days"


def test_the_first_request_starts_the_service_and_later_ones_use_it(tmp_path: Path) -> None:
    assert service_pid() is None
    first = caro("--output", "json", STATIC, cwd=tmp_path)
    assert first.returncode == 0 and json.loads(first.stdout)["source"] == "static" and first.stderr == ""
    pid = service_pid()
    assert pid is not None and pid != os.getpid()
    # Detached: another session than the test's (a double fork: not a session leader, so no
    # terminal can ever become its own), standard streams on /dev/null, working directory /.
    assert os.getsid(pid) not in (os.getsid(0), pid)
    assert Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[4] == "0"  # tty_nr: none
    assert os.readlink(f"/proc/{pid}/fd/1") == "/dev/null" and os.readlink(f"/proc/{pid}/fd/2") == "/dev/null"
    assert os.readlink(f"/proc/{pid}/cwd") == "/"
    folder = endpoint().folder
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(endpoint().socket).st_mode) == 0o600
    for _ in range(3):
        assert caro("check", "ls -la", cwd=tmp_path).returncode == 0
    assert service_pid() == pid
    status = json.loads(caro("serve", "--status", "--output", "json").stdout)
    assert status["running"] and status["pid"] == pid and status["requests"] >= 4


def test_the_service_never_listens_on_tcp() -> None:
    assert caro("check", "ls").returncode == 0
    pid = service_pid()
    inodes = {os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")}
    sockets = {link[len("socket:[") : -1] for link in inodes if link.startswith("socket:[")}
    for table in ("/proc/net/tcp", "/proc/net/tcp6", "/proc/net/udp", "/proc/net/udp6"):
        listed = {line.split()[9] for line in Path(table).read_text().splitlines()[1:]}
        assert not sockets & listed, f"the service holds a {table} socket"


def test_the_service_exits_after_its_idle_time() -> None:
    env = {"CARO_SERVE_IDLE_S": "1"}
    assert caro("check", "ls", env=env).returncode == 0
    pid = service_pid()
    assert pid is not None
    assert wait_until(lambda: not alive(pid), timeout=20)
    assert not os.path.exists(endpoint().socket) and not os.path.exists(endpoint().pid_file)
    # The next request starts a new one.
    assert caro("check", "ls", env=env).returncode == 0 and service_pid() not in (None, pid)


def test_serve_stop_and_status() -> None:
    assert json.loads(caro("serve", "--status", "-o", "json").stdout) == {"running": False}
    started = caro("serve")
    assert started.returncode == 0 and "running (pid" in started.stdout
    pid = service_pid()
    stopped = caro("serve", "--stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert wait_until(lambda: not alive(pid))
    assert "not running" in caro("serve", "--status").stdout


def test_a_stale_socket_left_by_a_killed_service_is_replaced() -> None:
    assert caro("check", "ls").returncode == 0
    pid = service_pid()
    os.kill(pid, signal.SIGKILL)
    assert wait_until(lambda: not alive(pid))
    assert os.path.exists(endpoint().socket)  # left behind: nothing listens on it
    done = caro("--output", "json", "-v", STATIC)
    assert done.returncode == 0 and json.loads(done.stdout)["source"] == "static"
    assert "answering in this process" not in done.stderr  # a new service answered
    assert service_pid() not in (None, pid)


def _old_version_service(version: str) -> subprocess.Popen[bytes]:
    """A real service process that believes it is another caro version."""
    probe = (
        "import pipeline, sys; pipeline.__version__ = sys.argv[1]\n"
        "from pipeline.serve.__main__ import run\n"
        "run()\n"
    )
    return subprocess.Popen([sys.executable, "-c", probe, version], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_service_of_another_version_is_refused_and_replaced() -> None:
    old = _old_version_service("0.0.1-old")
    try:
        assert wait_until(lambda: service_pid() == old.pid, timeout=60)
        done = caro("--output", "json", "-v", STATIC)
        assert done.returncode == 0 and json.loads(done.stdout)["source"] == "static"
        assert "answering in this process" not in done.stderr
        assert old.wait(timeout=30) == 0  # it made way
        from pipeline import __version__

        assert _status()["version"] == __version__ and _status()["pid"] != old.pid
    finally:
        old.kill()


def _status() -> dict:
    done = caro("serve", "--status", "-o", "json")
    return json.loads(done.stdout) if done.returncode == 0 else {}


def test_a_service_whose_code_changed_on_disk_is_replaced(tmp_path: Path) -> None:
    # Installed code edited under a running service (an upgrade, a developer's change) retires it.
    assert caro("check", "ls").returncode == 0
    pid = service_pid()
    module = Path(__file__).resolve().parents[1] / "pipeline" / "serve" / "__init__.py"
    before = os.stat(module)
    try:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        done = caro("-v", "--output", "json", STATIC)
        assert done.returncode == 0 and "answering in this process" not in done.stderr
        assert wait_until(lambda: not alive(pid)) and service_pid() not in (None, pid)
    finally:
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))


_NOBODY = 65534


def _connect_as_nobody(path: str) -> str:
    """What a process of another user gets from the service: 'refused' (connect fails), 'silent' or 'answered'."""
    probe = (
        "import json, os, socket, sys\n"
        f"os.setgroups([]); os.setgid({_NOBODY}); os.setuid({_NOBODY})\n"
        "s = socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        "    s.connect(sys.argv[1])\n"
        "except OSError:\n"
        "    print('refused'); sys.exit()\n"
        "s.settimeout(10)\n"
        "message = {'protocol': 1, 'caro': sys.argv[2], 'op': 'status'}\n"
        "try:\n"  # the service may have hung up before the message is sent (a broken pipe): not a word either way
        "    s.sendall(json.dumps(message).encode() + b'\\n')\n"
        "    data = s.recv(65536)\n"
        "except OSError:\n"
        "    data = b''\n"
        "print('answered' if data else 'silent')\n"
    )
    from pipeline import __version__

    done = subprocess.run([sys.executable, "-c", probe, path, __version__], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_another_user_cannot_use_the_service() -> None:
    assert os.getuid() == 0, "the test switches a child process to the user nobody"
    assert caro("check", "ls").returncode == 0
    ep = endpoint()
    # The folder (0700) and the socket (0600) keep other users out ...
    assert _connect_as_nobody(ep.socket) == "refused"
    # ... and if they were opened up, the service itself still refuses another uid (SO_PEERCRED).
    os.chmod(Path(ep.folder).parent, 0o711)
    os.chmod(ep.folder, 0o711)
    os.chmod(ep.socket, 0o666)
    assert _connect_as_nobody(ep.socket) == "silent"
    # A runtime directory others may enter is not used at all: this request is answered in process.
    done = caro("-v", "--output", "json", STATIC)
    assert done.returncode == 0 and "answering in this process: the runtime directory is open to other users" in done.stderr


def test_the_client_refuses_a_socket_served_by_another_user(tmp_path: Path) -> None:
    # A socket at the service's path whose listener is not this user: the client does not talk to it.
    os.makedirs(os.path.join(os.environ["XDG_RUNTIME_DIR"], "caro"), mode=0o700)
    ep = endpoint()
    probe = (
        "import os, socket, sys, time\n"
        "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)\n"
        # The listener's credentials are taken at listen(): after the switch to nobody.
        f"os.setgroups([]); os.setgid({_NOBODY}); os.setuid({_NOBODY}); s.listen(5)\n"
        "print('ready', flush=True)\n"
        "c, _ = s.accept(); c.sendall(b'{\"script\": 1}\\n'); time.sleep(5)\n"
    )
    impostor = subprocess.Popen([sys.executable, "-c", probe, ep.socket], stdout=subprocess.PIPE, text=True)
    try:
        assert impostor.stdout.readline().strip() == "ready"
        done = caro("-v", "--output", "json", STATIC)
        assert done.returncode == 0 and "answering in this process: the socket is not served by this user" in done.stderr
    finally:
        impostor.kill()


def test_an_unwritable_runtime_directory_means_answers_in_process(tmp_path: Path) -> None:
    # /proc takes no new folders, even from root: the service cannot have a socket.
    env = {"XDG_RUNTIME_DIR": "", "TMPDIR": "/proc"}
    done = caro("--output", "json", "-v", STATIC, env=env)
    assert done.returncode == 0 and json.loads(done.stdout)["source"] == "static"
    assert "caro: answering in this process: the runtime directory cannot be created" in done.stderr
    quiet = caro("check", "rm -rf /", env=env)
    assert quiet.returncode == ExitCode.BLOCKED and "answering" not in quiet.stderr  # said only under -v


def test_the_service_can_be_switched_off() -> None:
    done = caro("--output", "json", STATIC, env={"CARO_SERVE_ENABLED": "0"})
    assert done.returncode == 0 and json.loads(done.stdout)["source"] == "static"
    assert service_pid() is None
    config = Path(os.environ["CARO_HOME"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[serve]\nenabled = false\n")
    assert caro("check", "ls").returncode == 0 and service_pid() is None
    bad = caro("check", "ls", env={"CARO_SERVE_ENABLED": "maybe"})
    assert bad.returncode == ExitCode.USAGE and "serve.enabled" in bad.stderr


def test_a_service_killed_in_the_middle_of_a_request_is_replaced_by_this_process(tmp_path: Path) -> None:
    assert caro("check", "ls").returncode == 0
    pid = service_pid()
    os.kill(pid, signal.SIGSTOP)  # it takes the connection (the kernel does) but never answers
    try:
        client = subprocess.Popen(
            [caro_executable(), "--output", "json", "-v", STATIC],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )
        time.sleep(1.0)
        assert client.poll() is None  # waiting for the answer
        os.kill(pid, signal.SIGKILL)
        out, err = client.communicate(timeout=60)
    finally:
        os.kill(pid, signal.SIGKILL) if alive(pid) else None
    assert client.returncode == 0 and json.loads(out)["source"] == "static"
    assert "answering in this process: the service stopped during the request" in err


def test_concurrent_clients_share_one_service(tmp_path: Path) -> None:
    assert service_pid() is None
    requests = [STATIC, "list all files modified today", "find large files over 100MB", "show disk space by directory"] * 3

    def ask(request: str) -> dict:
        done = caro("--output", "json", request, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    with ThreadPoolExecutor(max_workers=6) as pool:  # the first ones race to start the service
        answers = list(pool.map(ask, requests))
    assert [a["source"] for a in answers] == ["static"] * len(requests)
    assert answers[:4] * 3 == answers
    time.sleep(0.5)
    assert _services_of_this_test() == [service_pid()]


def _services_of_this_test() -> list[int]:
    mine = f"XDG_RUNTIME_DIR={os.environ['XDG_RUNTIME_DIR']}".encode()
    found = []
    for pid in subprocess.run(["pgrep", "-f", "pipeline.serve"], capture_output=True, text=True).stdout.split():
        try:
            if mine in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0") and alive(int(pid)):
                found.append(int(pid))
        except OSError:
            continue
    return found


def test_a_client_that_says_nothing_is_dropped_and_a_bad_message_is_not_answered() -> None:
    assert caro("check", "ls").returncode == 0
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(endpoint().socket)
        raw.sendall(b"this is not json\n")
        raw.settimeout(10)
        assert raw.recv(100) == b""  # closed without a word
    assert caro("check", "ls").returncode == 0  # and the service still serves


def _sessions() -> list[tuple[str, int, int]]:
    """(session id, executed, events) of each stored session_end, after waiting for pending writes."""
    import sqlite3

    from pipeline.paths import state_paths
    from pipeline.telemetry import pending

    database = state_paths().database
    assert pending.wait_for_writes(database)
    with sqlite3.connect(database) as db:
        ends = db.execute("SELECT session_id, executed FROM events WHERE event_type = 'session_end' ORDER BY id").fetchall()
        return [(sid, executed, db.execute("SELECT COUNT(*) FROM events WHERE session_id = ?", (sid,)).fetchone()[0])
                for sid, executed in ends]


def test_the_service_stores_each_invocations_telemetry_with_what_the_client_did(tmp_path: Path) -> None:
    inline = {"CARO_TELEMETRY_ENABLED": "1", "CARO_TELEMETRY_FLUSH": "inline"}
    assert caro("-x", "ls", env=inline, cwd=tmp_path).returncode == 0
    assert caro("--dry-run", "ls", env=inline, cwd=tmp_path).returncode == 0
    assert service_pid() is not None
    sessions = _sessions()
    assert [executed for _, executed, _ in sessions] == [1, 0]  # the client told the service
    assert len({sid for sid, _, _ in sessions}) == 2 and all(count == 4 for _, _, count in sessions)
    # In the background (the default), a reader that starts once caro has exited still sees it.
    assert caro("ls", env={"CARO_TELEMETRY_ENABLED": "1"}, cwd=tmp_path).returncode == 0
    assert len(_sessions()) == 3


def test_telemetry_debug_rows_come_back_to_the_client_and_nothing_is_stored(tmp_path: Path) -> None:
    debug = {"CARO_TELEMETRY_DEBUG": "1"}
    served = caro("--dry-run", "ls", env=debug, cwd=tmp_path)
    here = caro("--dry-run", "ls", env={**debug, "CARO_SERVE_ENABLED": "0"}, cwd=tmp_path)
    assert service_pid() is not None and served.stdout == here.stdout == "ls\n"

    def kinds(stderr: str) -> list[str]:
        return [json.loads(line)["event_type"] for line in stderr.splitlines() if line.startswith("{")]

    assert kinds(served.stderr) == kinds(here.stderr)
    assert sorted(kinds(here.stderr)) == ["command_generation", "safety_validation", "session_end", "session_start"]
    assert [ln for ln in served.stderr.splitlines() if not ln.startswith("{")] == [ln for ln in here.stderr.splitlines() if not ln.startswith("{")]
    from pipeline.paths import state_paths

    assert not state_paths().database.exists()


def test_the_privacy_check_of_a_served_request_sees_the_clients_surroundings() -> None:
    from pipeline.serve.handlers import Ask, _sensitive_context

    ask = Ask({"text": "list files", "env": {"MY_TOKEN": "zq-unique-4711"}, "cwd": "/srv/client-folder", "home": "/home/client"})
    context = _sensitive_context(ask, "ls")
    assert "zq-unique-4711" in context.env_values and context.cwd == "/srv/client-folder" and context.home == "/home/client"
    assert "zq-unique-4711" not in os.environ.values()


def test_a_relative_caro_home_is_answered_in_process(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    done = caro("-v", "--output", "json", STATIC, env={"CARO_HOME": "home"}, cwd=tmp_path)
    assert done.returncode == 0 and "answering in this process: CARO_HOME is a relative path" in done.stderr


def test_serve_in_the_foreground_serves_until_stopped() -> None:
    server = subprocess.Popen([caro_executable(), "serve", "--foreground"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: service_pid() == server.pid, timeout=60)
        assert caro("check", "ls").returncode == 0 and service_pid() == server.pid  # the clients use it
        assert caro("serve", "--stop").returncode == 0
        assert server.wait(timeout=30) == 0
        out, err = server.communicate()
        assert out == "" and err.strip().splitlines() == ["caro: serving requests in this terminal; Ctrl-C stops"]
    finally:
        server.kill()
