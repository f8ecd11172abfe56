"""The whole pipeline as one callable, through the real Hamilton driver."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

import pytest

from pipeline.service import Caro, RequestOptions
from pipeline.values import Action, Outcome, SafetyLevel, Shell, Source, TextKind, Userland


def test_static_passthrough_no_match_and_bad_input(caro: Caro) -> None:
    static = caro.handle("list all files modified today")
    assert static.source is Source.STATIC and static.action is Action.ALLOWED
    passthrough = caro.handle("rm -rf /")
    assert passthrough.source is Source.PASSTHROUGH and passthrough.action is Action.BLOCKED
    nothing = caro.handle("compile my rust project")
    assert nothing.outcome is Outcome.NO_COMMAND and nothing.command is None
    bad = caro.handle("")
    assert bad.outcome is Outcome.BAD_INPUT and bad.problem is not None and bad.problem.code == "empty"


def test_per_request_options_do_not_leak_between_requests(caro: Caro) -> None:
    strict = RequestOptions(safety=SafetyLevel.STRICT)
    assert caro.check("rm -rf ./build", strict).action is Action.CONFIRM
    assert caro.check("rm -rf ./build").action is Action.ALLOWED
    bsd = caro.handle("show disk space by directory", RequestOptions(userland=Userland.BSD, shell=Shell.ZSH))
    gnu = caro.handle("show disk space by directory", RequestOptions(userland=Userland.GNU))
    assert bsd.command and "-d 1" in bsd.command and "--max-depth" not in bsd.command
    assert gnu.command and "--max-depth=1" in gnu.command


def test_one_loaded_pipeline_serves_concurrent_requests(caro: Caro) -> None:
    requests = ["list all files modified today", "rm -rf /", "compile my rust project", "find large files over 100MB"] * 10
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(caro.handle, requests))
    expected = [caro.handle(r) for r in requests[:4]]
    assert results == expected * 10


def test_a_failing_node_never_logs_the_request(caplog, capfd) -> None:
    from pipeline.static.table import StaticTable

    class ExplodingTable(StaticTable):
        def match(self, request, platform):
            raise RuntimeError("boom")

    caro = Caro(backend="llama_cpp")
    secret = "find files owned by alice-secret-7731"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RuntimeError, match="boom"):
        inputs = {**caro.inputs(secret, TextKind.REQUEST, RequestOptions()), "static_table": ExplodingTable([])}
        caro.driver.execute(["result"], inputs=inputs)
    captured = capfd.readouterr()
    assert "alice-secret-7731" not in captured.err + captured.out
    assert "alice-secret-7731" not in caplog.text
    assert "slack" not in (captured.err + captured.out + caplog.text).lower()


def test_a_broken_user_table_or_rule_file_is_one_clear_error(tmp_path) -> None:
    from pipeline.errors import CaroError

    table = tmp_path / "mine.toml"
    table.write_text("[[intent]]\nid = 3\n")
    with pytest.raises(CaroError, match="static table file is invalid") as caught:
        Caro(extra_static_tables=[table])
    assert "extra_static_tables" in (caught.value.hint or "")
    rules = tmp_path / "rules.toml"
    rules.write_text("[[rule]\n")
    with pytest.raises(CaroError, match="safety rule file is invalid"):
        Caro(extra_safety_rules=[rules])


def test_building_the_driver_does_not_import_pandera() -> None:
    import subprocess
    import sys

    probe = (
        "import sys; from pipeline.driver import build_driver; build_driver('llama_cpp'); "
        "import pipeline.telemetry.schemas; "  # telemetry still gets its pandera afterwards
        "print('pandera' in sys.modules)"
    )
    before = "import sys; from pipeline.driver import build_driver; build_driver('llama_cpp'); print('pandera' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", before], capture_output=True, text=True, check=True).stdout.strip() == "False"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "True"


@pytest.mark.parametrize("first", ["nodes.emit", "pipeline.telemetry.declare", "nodes.generate", "pipeline.service"])
def test_no_import_order_brings_pandera_into_the_request_path(first: str) -> None:
    # Regression: the telemetry declarations imported Hamilton before the driver could hide
    # pandera from it, so every caro process paid for pandera (~120 ms) with telemetry off.
    import subprocess
    import sys

    probe = (
        f"import sys, {first}; from pipeline.driver import build_driver; build_driver('llama_cpp'); "
        "print('pandera' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_a_static_request_with_telemetry_on_leaves_pandera_to_the_flush(tmp_path) -> None:
    # The parent answers without pandera; validation happens in the flush (here: inline).
    import os
    import subprocess
    import sys

    env = {**os.environ, "CARO_TELEMETRY_ENABLED": "1", "CARO_TELEMETRY_FLUSH": "inline", "CARO_BACKEND": "none"}
    probe = (
        "import sys; seen = []\n"
        "from pipeline.telemetry import recorder\n"
        "original = recorder.Recorder.flush\n"
        "def spy(self, *a, **k):\n"
        "    seen.append('pandera' in sys.modules)\n"
        "    return original(self, *a, **k)\n"
        "recorder.Recorder.flush = spy\n"
        "from pipeline.cli.main import main\n"
        "code = main(['--output', 'json', 'find python files modified in the last 7 days'])\n"
        "print(seen, 'pandera' in sys.modules, code, file=sys.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert out.stderr.strip().splitlines()[-1] == "[False] True 0"


def test_hamilton_loads_no_extensions_and_leaves_the_users_setting_alone() -> None:
    # Regression: with matplotlib installed (the test extra installs it), Hamilton's extension
    # autoload imported it into every caro process (~300 ms). The switch is set only for the
    # import, so commands caro runs still see the user's own HAMILTON_AUTOLOAD_EXTENSIONS.
    import importlib.util
    import os
    import subprocess
    import sys

    assert importlib.util.find_spec("matplotlib") is not None, "the test needs matplotlib installed"
    probe = (
        "import os, sys; from pipeline.driver import build_driver; build_driver('llama_cpp'); "
        "print('matplotlib' in sys.modules, os.environ.get('HAMILTON_AUTOLOAD_EXTENSIONS'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "HAMILTON_AUTOLOAD_EXTENSIONS"}
    unset = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert unset.stdout.split() == ["False", "None"]
    users = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env={**env, "HAMILTON_AUTOLOAD_EXTENSIONS": "1"}, check=True
    )
    assert users.stdout.split() == ["False", "1"]
