"""Node functions called directly: each stage's values for each kind of input."""

from __future__ import annotations

import pytest

from nodes import emit, generate, parse, refine
from pipeline.backends.base import BackendChain
from pipeline.candidates import Answers
from pipeline.values import (
    Action,
    Candidate,
    Category,
    Finding,
    Generation,
    GenerationErrorKind,
    InputProblem,
    Outcome,
    Risk,
    SafetyLevel,
    SafetyVerdict,
    Source,
    StaticMatch,
    TextKind,
    action_for,
)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "empty"),
        ("   \n\t ", "empty"),
        ("x" * (parse.MAX_TEXT_CHARS + 1), "too_long"),
        ("list\x00files", "nul_byte"),
        ("list \x1b[31mfiles", "control_character"),
        ("list \x7f files", "control_character"),
        ("list \udcff files", "invalid_utf8"),
    ],
)
def test_request_problem_names_each_kind_of_bad_input(raw: str, code: str) -> None:
    problem = parse.request_problem(raw)
    assert problem is not None and problem.code == code
    assert raw.strip()[:4] not in problem.message or not raw.strip()  # the message never quotes the text


def test_request_problem_accepts_ordinary_text_with_tabs_and_newlines() -> None:
    assert parse.request_problem("find files\tmodified\ntoday") is None
    assert parse.request_problem("trouver les fichiers modifiés aujourd'hui") is None


def test_request_text_normalises_unicode_and_whitespace() -> None:
    assert parse.request_text("  find   cafe\u0301\n files ", None) == "find caf\u00e9 files"
    assert parse.request_text("anything", InputProblem("empty", "x")) == ""


@pytest.mark.parametrize(
    ("text", "passed"),
    [
        ("ls -la", True),
        ("rm -rf /", True),
        ("sudo rm -rf /", True),
        ("\\rm -rf /", True),
        ("/bin/rm -rf /", True),
        (":(){ :|:& };:", True),
        ("echo 'rm -rf /'", True),
        ("find . -name '*.py'", True),
        ("kill 1234", True),
        ("find python files modified last week", False),
        ("kill the process on port 3000", False),
        ("kill firefox", False),
        ("list files", False),
        ("what's my ip address", False),
        ("show disk usage by folder", False),
    ],
)
def test_passthrough_recognises_typed_commands(text: str, passed: bool) -> None:
    got = parse.passthrough_command(text, parse.request_text(text, None), TextKind.REQUEST, None)
    assert (got == text) is passed
    assert passed or got is None


def test_passthrough_keeps_the_command_verbatim_and_forces_commands_to_check() -> None:
    raw = "  echo 'a   b'  "
    assert parse.passthrough_command(raw, "echo 'a b'", TextKind.REQUEST, None) == "echo 'a   b'"
    assert parse.passthrough_command("list files", "list files", TextKind.COMMAND, None) == "list files"
    assert parse.passthrough_command("ls", "ls", TextKind.REQUEST, InputProblem("x", "y")) is None


def test_the_model_is_needed_only_when_no_earlier_stage_answered() -> None:
    match = StaticMatch("ls", "ls", 1.0, "files")
    assert generate.needs_model(None, None, None)
    assert not generate.needs_model(None, None, match)
    assert not generate.needs_model(None, "ls -la", None)
    assert not generate.needs_model(InputProblem("empty", "x"), None, None)


def test_the_static_path_builds_no_context_and_calls_no_model() -> None:
    assert generate.installed_tools(False) == ()
    assert generate.tool_summaries(False, "anything", ()) == ()
    assert generate.folder_names(False, ".", {}) is None
    assert generate.prompt_examples(False, "x", None, None, None) == ()  # type: ignore[arg-type]
    assert generate.generation_prompt(False, "x", None, (), (), (), None) is None  # type: ignore[arg-type]
    assert generate.llm_answers(None, BackendChain(), 20.0) == Answers()
    assert generate.llm_generation(None, BackendChain(), Answers(), None, "", ".") == Generation.skipped()  # type: ignore[arg-type]


def test_generate_reports_that_no_model_is_configured_as_a_value() -> None:
    from pipeline.backends.base import Prompt

    generation = generate.llm_generation(Prompt(system="s", user="u"), BackendChain(), Answers(), None, "u", ".")  # type: ignore[arg-type]
    assert generation.ran and generation.command is None
    assert generation.error is not None and generation.error.kind is GenerationErrorKind.NOT_CONFIGURED


def test_candidate_prefers_passthrough_then_static_then_model() -> None:
    match = StaticMatch("ls", "ls -la", 0.9, "files")
    model = Generation(ran=True, command="ls -l", backend="llama_cpp")
    assert refine.candidate("rm x", match, model) == Candidate("rm x", Source.PASSTHROUGH, None)
    assert refine.candidate(None, match, model) == Candidate("ls -la", Source.STATIC, "static", 0.9)
    assert refine.candidate(None, None, model) == Candidate("ls -l", Source.LLM, "llama_cpp")
    assert refine.candidate(None, None, Generation.skipped()) is None


def _verdict(risk: Risk, level: SafetyLevel = SafetyLevel.MODERATE) -> SafetyVerdict:
    finding = Finding("rm_root", Category.DESTRUCTIVE_RM, risk, "Deletes everything") if risk else None
    return SafetyVerdict(risk=risk, action=action_for(risk, level), findings=(finding,) if finding else ())


def test_emit_turns_each_outcome_into_one_result() -> None:
    bad = emit.result(InputProblem("empty", "the request is empty"), None, None, Generation.skipped(), SafetyLevel.MODERATE)
    assert bad.outcome is Outcome.BAD_INPUT and bad.command is None and bad.problem is not None

    from pipeline.backends.base import Prompt

    unconfigured = generate.llm_generation(Prompt(system="s", user="u"), BackendChain(), Answers(), None, "u", ".")  # type: ignore[arg-type]
    none = emit.result(None, None, None, unconfigured, SafetyLevel.MODERATE)
    assert none.outcome is Outcome.NO_COMMAND and none.generation_error is not None
    assert "no language model configured" in none.explanation

    blocked = emit.result(
        None, Candidate("rm -rf /", Source.PASSTHROUGH, None), _verdict(Risk.CRITICAL), Generation.skipped(), SafetyLevel.MODERATE
    )
    assert blocked.action is Action.BLOCKED and blocked.categories == ("destructive_rm",)
    assert blocked.explanation == "Deletes everything"
    assert any("blocked" in w for w in blocked.warnings)
    assert any("taken as a shell command" in w for w in blocked.warnings)


def test_emit_carries_the_confidence_and_no_warning_for_a_safe_static_answer() -> None:
    answer = emit.result(None, Candidate("ls", Source.STATIC, "static", 0.55), _verdict(Risk.SAFE), Generation.skipped(), SafetyLevel.MODERATE)
    assert answer.warnings == () and answer.confidence == 0.55
    assert answer.as_dict()["confidence"] == 0.55


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        (SafetyLevel.STRICT, [Action.ALLOWED, Action.CONFIRM, Action.BLOCKED, Action.BLOCKED]),
        (SafetyLevel.MODERATE, [Action.ALLOWED, Action.ALLOWED, Action.CONFIRM, Action.BLOCKED]),
        (SafetyLevel.PERMISSIVE, [Action.ALLOWED, Action.ALLOWED, Action.ALLOWED, Action.CONFIRM]),
    ],
)
def test_safety_levels_map_risk_to_action(level: SafetyLevel, expected: list[Action]) -> None:
    assert [action_for(r, level) for r in Risk] == expected
