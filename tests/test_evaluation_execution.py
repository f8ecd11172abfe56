"""The execution judge: real commands in a real confined shell, in copies of a real fixture.

Where this machine cannot confine a command (no unprivileged user namespaces), the tests that
need confinement skip with the probe's reason, and the fallback to the equivalence judge is
tested on its own.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from pipeline.evaluation import EvalCase, ExecutionJudge, JudgeKind, Rule, evaluate, load_builder, sandbox
from pipeline.evaluation.judges import normalise
from pipeline.values import Action, Outcome, Result, Source

REPO = Path(__file__).resolve().parents[1]
BUILDER = REPO / "bench" / "devset" / "fixtures.py"


def _confined() -> None:
    problem = sandbox.problem()
    if problem is not None:
        pytest.skip(f"confinement unavailable here: {problem}")


@pytest.fixture(scope="module")
def judge_() -> ExecutionJudge:
    with ExecutionJudge(load_builder(BUILDER), timeout_s=10.0) as execution:
        yield execution


@pytest.fixture
def template(tmp_path: Path) -> Path:
    folder = tmp_path / "fixture"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha\n")
    (folder / "sub" / "b.txt").write_text("beta\n")
    return folder


def _case(request: str, *expected: str, ordered: bool = False) -> EvalCase:
    return EvalCase("t", request, Rule.EQUIVALENT, expected, category="files", judge=JudgeKind.EXECUTION, fixture="project", ordered=ordered)


def _result(command: str | None, action: Action = Action.ALLOWED) -> Result:
    return Result(Outcome.COMMAND if command else Outcome.NO_COMMAND, command, Source.LLM, None, None, action, (), "")


def test_a_right_command_passes_and_a_wrong_one_fails(judge_: ExecutionJudge) -> None:
    _confined()
    case = _case("find all python files", "find . -type f -name '*.py'")
    right = judge_.verdict(case, 'find . -name "*.py" -type f', Action.ALLOWED)
    assert right is not None and right.passed is True
    differently_spelled = judge_.verdict(case, "find . -name '*.py'", Action.ALLOWED)  # no symlinks named .py
    assert differently_spelled is not None and differently_spelled.passed is True
    wrong = judge_.verdict(case, "find . -type f -name '*.txt'", Action.ALLOWED)
    assert wrong is not None and wrong.passed is False and wrong.reason == "different output"
    failing = judge_.verdict(case, "find ./nowhere -name '*.py'", Action.ALLOWED)
    assert failing is not None and failing.passed is False and failing.reason.startswith("exit status")


def test_the_resulting_files_are_compared(judge_: ExecutionJudge) -> None:
    _confined()
    case = _case("delete all .pyc files", "find . -name '*.pyc' -delete")
    assert judge_.verdict(case, "find . -type f -name '*.pyc' -exec rm -f {} +", Action.CONFIRM).passed is True
    partial = judge_.verdict(case, "rm -f src/__pycache__/*.pyc", Action.CONFIRM)
    assert partial.passed is False and partial.reason == "different files (src/legacy/old_module.pyc)"
    mode = _case("make all shell scripts executable", "chmod +x scripts/*.sh")
    assert judge_.verdict(mode, "chmod u+x scripts/*.sh", Action.ALLOWED).passed is False  # 744, not 755


def test_order_matters_only_when_the_request_asks_for_one(judge_: ExecutionJudge) -> None:
    _confined()
    unordered = _case("list the log files", "ls logs/*.log")
    assert judge_.verdict(unordered, "ls logs/*.log | sort -r", Action.ALLOWED).passed is True
    ordered = _case("sort numbers", "sort -n data/numbers.txt", ordered=True)
    assert judge_.verdict(ordered, "sort -rn data/numbers.txt", Action.ALLOWED).reason == "different output order"


def test_a_blocked_command_is_never_run(judge_: ExecutionJudge, monkeypatch: pytest.MonkeyPatch) -> None:
    runs: list[str] = []
    monkeypatch.setattr(sandbox, "run_confined", lambda command, *a, **k: runs.append(command))
    case = _case("list python files", "find . -name '*.py'")
    verdict = judge_.verdict(case, "touch marker; rm -rf /", Action.BLOCKED)
    assert verdict.passed is False and "blocked" in verdict.reason
    assert runs == []


def test_evaluate_asks_the_safety_validator_before_running(judge_: ExecutionJudge) -> None:
    _confined()
    from pipeline.service import Caro

    caro = Caro(backend="none")
    case = _case("list python files", "find . -name '*.py'")
    # The bare model's answers carry `allowed` from nobody; the validator's word is what counts.
    report = evaluate([case], lambda _r, _o=None: _result("rm -rf /"), caro.check, judge_)
    outcome = report.outcomes[0]
    assert outcome.execution.passed is False and "blocked" in outcome.execution.reason
    assert caro.check("rm -rf /").action is Action.BLOCKED


def test_no_verdict_without_confinement_and_equivalence_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.problem.cache_clear()
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        reason = sandbox.problem()
    finally:
        sandbox.problem.cache_clear()
    assert reason is not None and "unshare" in reason
    monkeypatch.setattr(sandbox, "problem", lambda: reason)
    with ExecutionJudge(load_builder(BUILDER)) as execution:
        case = _case("find all python files", "find . -type f -name '*.py'")
        report = evaluate([case], lambda _r, _o=None: _result("find . -name '*.py' -type f"), None, execution)
    outcome = report.outcomes[0]
    assert outcome.execution.passed is None and outcome.execution.reason.startswith("confinement unavailable")
    assert outcome.passed is True  # by equivalence
    data = report.as_dict()
    assert data["judges"]["execution"]["overall"]["total"] == 0
    assert list(data["judges"]["execution"]["not_judged"].values()) == [1]


def test_without_a_fixture_builder_the_judge_says_so() -> None:
    with ExecutionJudge(None) as execution:
        verdict = execution.verdict(_case("x", "ls"), "ls", Action.ALLOWED)
    assert verdict.passed is None and "--fixtures" in verdict.reason


def test_equivalence_cases_get_no_execution_verdict(judge_: ExecutionJudge) -> None:
    case = EvalCase("d", "list containers", Rule.EQUIVALENT, ("docker ps",), category="docker")
    assert judge_.verdict(case, "docker ps", Action.ALLOWED) is None


def test_a_broken_fixture_builder_is_reported(tmp_path: Path) -> None:
    module = tmp_path / "builder.py"
    module.write_text("def build(name, root):\n    raise KeyError(name)\n")
    with ExecutionJudge(load_builder(module)) as execution:
        verdict = execution.verdict(_case("x", "ls"), "ls -a", Action.ALLOWED)
    if sandbox.problem() is None:
        assert verdict.passed is None and verdict.reason == "fixture 'project' could not be built (KeyError)"
    (tmp_path / "not_a_builder.py").write_text("x = 1\n")
    from pipeline.evaluation.judges import FixtureBuilderError

    with pytest.raises(FixtureBuilderError):
        load_builder(tmp_path / "not_a_builder.py")


# ---- confinement ------------------------------------------------------------------------


def test_writes_outside_the_fixture_do_not_land(template: Path, tmp_path: Path) -> None:
    _confined()
    outside = REPO / "caro-eval-escape-test"
    home_file = Path.home() / "caro-eval-escape-test"
    command = (
        f"echo x > {outside}; echo x > {home_file}; echo x > {tmp_path}/escaped; touch ../escaped;"
        " echo inside > inside.txt; echo done"
    )
    run = sandbox.run_confined(command, template)
    assert run.exit_code == 0 and run.stdout == "done\n"
    # Every write outside the scratch folder fails: read-only where the path is mounted, absent
    # where it lies under /tmp (the scratch folder is bound over /tmp, so a clone there is hidden).
    refused = [line for line in run.stderr.splitlines() if line.strip()]
    assert any(str(outside) in line for line in refused) and any(f"{tmp_path}/escaped" in line for line in refused)
    assert all("Read-only file system" in line or "No such file or directory" in line for line in refused), refused
    assert not outside.exists() and not home_file.exists() and not (tmp_path / "escaped").exists()
    assert not Path("/tmp/escaped").exists()
    assert dict(run.tree)["inside.txt"].startswith("file 644 7 ")
    assert not (template / "inside.txt").exists()  # the fixture itself is never touched


def test_the_fixture_survives_a_destructive_command(template: Path) -> None:
    _confined()
    run = sandbox.run_confined("rm -rf ./* && ls -A | wc -l", template)
    assert run.stdout.strip() == "0" and run.tree == ()
    assert (template / "a.txt").read_text() == "alpha\n" and (template / "sub" / "b.txt").exists()


def test_the_network_is_unreachable_even_on_localhost(template: Path) -> None:
    _confined()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(3)
    port = server.getsockname()[1]
    accepted: list[object] = []

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    waiter = threading.Thread(target=accept)
    waiter.start()
    try:
        run = sandbox.run_confined(f"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected", template)
    finally:
        waiter.join()
        server.close()
    assert run.exit_code != 0 and "connected" not in run.stdout
    assert accepted == []


def test_home_is_empty_and_devices_are_few(template: Path) -> None:
    _confined()
    run = sandbox.run_confined("ls -A ~ | wc -l; ls /dev", template)
    lines = run.stdout.splitlines()
    assert lines[0] == "0"
    assert set(lines[1:]) == {"fd", "full", "null", "random", "stderr", "stdin", "stdout", "urandom", "zero"}


def test_capabilities_are_gone_so_mounts_cannot_be_undone(template: Path) -> None:
    _confined()
    run = sandbox.run_confined(f"mount -o remount,rw {REPO} 2>&1; touch {REPO}/caro-eval-escape-test 2>&1; grep CapEff /proc/self/status", template)
    assert "CapEff:\t0000000000000000" in run.stdout
    assert not (REPO / "caro-eval-escape-test").exists()


def test_the_wall_time_limit_kills_everything(template: Path) -> None:
    _confined()
    run = sandbox.run_confined("sleep 60 & sleep 60; echo never", template, timeout_s=1.0)
    assert run.timed_out and "never" not in run.stdout


def test_output_and_file_sizes_are_bounded(template: Path) -> None:
    _confined()
    run = sandbox.run_confined("yes | head -c 3000000; head -c 100000000 /dev/zero > big", template, timeout_s=10.0)
    assert len(run.stdout) <= sandbox.STDOUT_LIMIT
    assert int(dict(run.tree)["big"].split()[2]) <= 64 * 1024 * 1024


# ---- normalisation and digests ------------------------------------------------------------


def test_output_normalisation() -> None:
    work = sandbox.WORKDIR
    assert normalise(f"{work}/logs/a.log\n./logs/b.log  \n\n", work, ordered=False) == ("logs/a.log", "logs/b.log")
    assert normalise("b\na\n", work, ordered=False) == normalise("a\nb\n", work, ordered=False)
    assert normalise("b\na\n", work, ordered=True) != normalise("a\nb\n", work, ordered=True)
    assert normalise("  3 ./x\n", work, ordered=True) == ("  3 x",)
    assert normalise("../up\n", work, ordered=True) == ("../up",)


def test_git_index_digest_ignores_stat_data_but_not_entries(tmp_path: Path) -> None:
    import subprocess

    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"GIT_AUTHOR_NAME": "a", "GIT_AUTHOR_EMAIL": "a@b", "GIT_COMMITTER_NAME": "a", "GIT_COMMITTER_EMAIL": "a@b", "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    (repo / "f.txt").write_text("one\n")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True, env=env)
    subprocess.run(["git", "add", "f.txt"], cwd=repo, check=True, env=env)
    first = dict(sandbox.tree_digest(repo))[".git/index"]
    (repo / "f.txt").touch()
    subprocess.run(["git", "update-index", "--refresh"], cwd=repo, env=env, capture_output=True)
    assert dict(sandbox.tree_digest(repo))[".git/index"] == first
    (repo / "g.txt").write_text("two\n")
    subprocess.run(["git", "add", "g.txt"], cwd=repo, check=True, env=env)
    assert dict(sandbox.tree_digest(repo))[".git/index"] != first


def test_archives_are_compared_by_their_members(tmp_path: Path) -> None:
    import gzip
    import io
    import tarfile

    def tar_gz(mtime: int, content: bytes) -> bytes:
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as archive:
            info = tarfile.TarInfo("x.txt")
            info.size, info.mtime = len(content), mtime
            archive.addfile(info, io.BytesIO(content))
        return gzip.compress(raw.getvalue(), mtime=mtime)

    for name, data in (("a.tar.gz", tar_gz(1, b"x")), ("b.tar.gz", tar_gz(2, b"x")), ("c.tar.gz", tar_gz(1, b"y"))):
        (tmp_path / name).write_bytes(data)
    digest = {path: what.split()[-1] for path, what in sandbox.tree_digest(tmp_path)}
    assert digest["a.tar.gz"] == digest["b.tar.gz"] != digest["c.tar.gz"]


def test_cases_with_a_fixture_are_asked_from_inside_it(judge_: ExecutionJudge) -> None:
    seen: list[object] = []

    def answer(request: str, options: object = None) -> Result:
        seen.append(options)
        return _result("ls data")

    case = _case("list the data folder", "ls data")
    plain = EvalCase("p", "list containers", Rule.EQUIVALENT, ("docker ps",), category="docker")
    evaluate([case, plain], answer, None, judge_)
    inside, outside = seen
    assert outside is None
    assert (Path(inside.working_directory) / "data" / "people.csv").is_file()
