"""Several answers for one request: greedy first, sampled ones within the budget, chosen by agreement then lint."""

from __future__ import annotations

from nodes import generate
from test_generate_refine import ScriptedBackend as Scripted

from pipeline.backends.base import BackendChain, BackendFailure, Prompt
from pipeline.candidates import ask, distinct, groups, ranked
from pipeline.generation_plan import GenerationPlan
from pipeline.values import GenerationErrorKind, Platform, Shell, Userland

GNU = Platform("linux", Userland.GNU, Shell.BASH)


def test_the_first_answer_is_greedy_and_the_others_sampled_with_their_own_seeds() -> None:
    backend = Scripted(["ls -l", "ls -la", "ls -l"])
    answers = ask(BackendChain((backend,)), Prompt(system="s", user="u"), 20.0, 3, 0.7)
    assert [r.command for r in answers.replies] == ["ls -l", "ls -la", "ls -l"]
    assert [p.temperature for p in backend.prompts] == [0.0, 0.7, 0.7]
    assert [p.seed for p in backend.prompts] == [None, 1, 2]


def test_asking_stops_at_the_first_failure_and_keeps_what_it_has() -> None:
    spent = BackendFailure(GenerationErrorKind.TIMEOUT, "spent", "scripted")
    answers = ask(BackendChain((Scripted(["ls", spent, "never asked"]),)), Prompt(system="s", user="u"), 20.0, 3, 0.7)
    assert [r.command for r in answers.replies] == ["ls"] and answers.failures[-1].kind is GenerationErrorKind.TIMEOUT


def test_asking_for_distinct_commands_goes_on_until_it_has_them_or_twice_as_many_answers() -> None:
    backend = Scripted(["du -sh src", "du -sh  src", "du -s -h src", "du -sh src | cat", "du -sh src", "x"])
    answers = ask(BackendChain((backend,)), Prompt(system="s", user="u"), 20.0, 1, 0.7, want_distinct=3)
    assert len(answers.replies) == 6 and len(distinct([r.command for r in answers.replies])) == 3
    quick = Scripted(["a", "b", "c", "unused"])
    assert len(ask(BackendChain((quick,)), Prompt(system="s", user="u"), 20.0, 1, 0.7, want_distinct=3).replies) == 3


def test_equivalent_answers_vote_together_and_lint_breaks_ties() -> None:
    commands = ["find . -name '*.py'", "grep -r x .", "find . -name \"*.py\"", "grep -rn x ."]
    assert groups(commands) == [[0, 2], [1], [3]]
    assert ranked(commands, lambda c: 0)[0] == 0
    lint = {"cat *.txt": 3, "head -n 100 *.txt": 0}
    assert ranked(["cat *.txt", "head -n 100 *.txt"], lambda c: lint[c]) == [1, 0]
    assert ranked(["b", "a"], lambda c: 0) == [0, 1]  # a tie keeps the greedy answer first


def test_the_generate_stage_picks_the_answer_most_samples_agree_with() -> None:
    backend = Scripted(["wc -l a.txt b.txt", "cat a.txt b.txt | wc -l", "cat a.txt b.txt | wc -l"])
    chain = BackendChain((backend,))
    prompt = Prompt(system="s", user="count the lines of a.txt and b.txt together")
    answers = generate.llm_answers(prompt, chain, 20.0, GenerationPlan(samples=3))
    chosen = generate.llm_generation(prompt, chain, answers, GNU, prompt.user, ".")
    assert chosen.command == "cat a.txt b.txt | wc -l" and chosen.latency_ms == 15.0  # the three answers together
    single = generate.llm_answers(prompt, BackendChain((Scripted(["ls"]),)), 20.0, GenerationPlan(samples=1))
    assert [r.command for r in single.replies] == ["ls"]
