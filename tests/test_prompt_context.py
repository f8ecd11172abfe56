"""What the model is told about where the command runs: the folder's names (bounded, names only,
never sent elsewhere unless allowed), the platform, in the request's part of the prompt so the
shared prefix stays cached; and how its answer is read (JSON or the first code block)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.backends.answers import AnswerFormat, UnreadableAnswer, read_answer
from pipeline.backends.base import BackendFailure, parse_command_reply
from pipeline.generation_plan import BASELINE_PLAN, DEFAULT_PLAN, ExampleForm
from pipeline.prompting import build_prompt
from pipeline.settings import default_values
from pipeline.values import Platform, Shell, Userland
from pipeline.workdir import MAX_NAMES, MAX_SCAN, PER_FOLDER, folder_listing, names_may_be_sent, render_listing

GNU = Platform("linux", Userland.GNU, Shell.BASH)


def _tree(root: Path) -> None:
    for path in ("logs/app-1.log", "logs/app-2.log", "data/people.csv", "README.md", "notes with spaces.txt",
                 ".git/HEAD", "node_modules/x/index.js", ".env", "src/pkg/mod.py"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text("secret contents\n")


def test_the_listing_holds_names_one_level_down_and_nothing_of_the_contents(tmp_path: Path) -> None:
    _tree(tmp_path)
    listing = folder_listing(str(tmp_path))
    assert "logs/app-1.log" in listing.names and "data/people.csv" in listing.names
    assert "logs/" in listing.names and "src/pkg/" in listing.names and "src/pkg/mod.py" not in listing.names
    assert ".git/" in listing.names and ".git/HEAD" not in listing.names  # a repository, not its insides
    assert "node_modules/" in listing.names and not any(n.startswith("node_modules/x") for n in listing.names)
    text = render_listing(listing)
    assert "'notes with spaces.txt'" in text and "logs/: app-1.log app-2.log" in text
    assert "secret" not in text and not listing.truncated
    assert listing.with_extension((".csv",)) == ("data/people.csv",) and "logs" in listing.folders()


def test_the_listing_is_bounded_however_big_the_folder(tmp_path: Path) -> None:
    for n in range(MAX_SCAN + 50):
        (tmp_path / f"file{n:04}.txt").touch()
    many = tmp_path / "many"
    many.mkdir()
    for n in range(PER_FOLDER + 5):
        (many / f"x{n}").touch()
    (tmp_path / ("long" * 30)).touch()
    listing = folder_listing(str(tmp_path))
    assert len(listing.names) <= MAX_NAMES and listing.truncated
    assert not any(len(name) > 100 for name in listing.names)
    small = folder_listing(str(many))
    assert len(small.names) == PER_FOLDER + 5
    assert folder_listing(str(tmp_path / "absent")).names == ()


def test_control_characters_in_names_never_reach_the_prompt(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").touch()
    (tmp_path / "evil\x1b[31m.txt").touch()
    listing = folder_listing(str(tmp_path))
    assert listing.names == ("ok.txt",) and listing.truncated


@pytest.mark.parametrize(
    ("changes", "sent"),
    [
        ({}, True),  # llama.cpp, on this machine
        ({"backend": "vllm", "vllm.base_url": "http://127.0.0.1:8000"}, True),
        ({"backend": "vllm", "vllm.base_url": "http://localhost:8000"}, True),
        ({"backend": "vllm", "vllm.base_url": "http://[::1]:8000"}, True),
        ({"backend": "vllm", "vllm.mode": "local"}, True),
        ({"backend": "vllm", "vllm.base_url": "http://10.0.0.5:8000"}, False),
        ({"backend": "vllm", "vllm.base_url": "https://gpu.example.com"}, False),
        ({"backend": "vllm", "vllm.base_url": "https://gpu.example.com", "vllm.send_directory_names": True}, True),
        ({"backend": "llama_cpp", "fallback": ["vllm"], "vllm.base_url": "https://gpu.example.com"}, False),
    ],
)
def test_names_go_to_another_machine_only_when_allowed(changes: dict, sent: bool) -> None:
    assert names_may_be_sent({**default_values(), **changes}) is sent


def test_the_folder_and_platform_come_after_the_shared_prefix(tmp_path: Path) -> None:
    _tree(tmp_path)
    listing = folder_listing(str(tmp_path))
    prompt = build_prompt("count the log lines", GNU, ("grep",), (("a", "b"),), (), plan=DEFAULT_PLAN, listing=listing)
    prefix = str(prompt.prefix_messages())
    assert "app-1.log" not in prefix and "Platform" not in prefix
    assert len(prompt.fixed_examples) >= 20
    context = prompt.messages()[len(prompt.prefix_messages())]
    assert context["role"] == "system" and "logs/: app-1.log" in context["content"] and "GNU" in context["content"]
    # Two requests in one folder share everything up to the request's own notes.
    # With `ExampleForm.NOTES` the retrieved examples end the notes, so the notes share their start.
    plan = replace(DEFAULT_PLAN, example_form=ExampleForm.NOTES)
    prompt = build_prompt("count the log lines", GNU, ("grep",), (("a", "b"),), (), plan=plan, listing=listing)
    other = build_prompt("something else", GNU, ("grep",), (("c", "d"),), (), plan=plan, listing=listing)
    shared = len(prompt.prefix_messages())
    assert other.messages()[:shared] == prompt.messages()[:shared]
    notes = [message["content"] for message in (other.messages()[shared], prompt.messages()[shared])]
    assert os.path.commonprefix(notes) == f"{prompt.context}\nCommands for similar requests:\n- "
    # Not allowed to send the names: the platform alone.
    hidden = build_prompt("count the log lines", GNU, ("grep",), (), (), plan=DEFAULT_PLAN, listing=None)
    assert "app-1.log" not in str(hidden.messages()) and "GNU" in str(hidden.messages())
    baseline = build_prompt("count the log lines", GNU, ("grep",), (), (), plan=BASELINE_PLAN, listing=listing)
    assert "app-1.log" not in str(baseline.messages()) and not baseline.fixed_examples


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("```sh\nls -la\n```", "ls -la"),
        ("```bash\n$ grep -c x a.log\n```\nThis counts the lines.", "grep -c x a.log"),
        ("Use this:\n```\nfind . -name '*.py' \\\n  -mtime -1\n```", "find . -name '*.py' -mtime -1"),
        ("```sh\ndu -sh src\necho done\n```", "du -sh src"),
        ("Run `wc -l notes.txt` to count.", "wc -l notes.txt"),
        ("df -h", "df -h"),
        ("```sh\nls\n", "ls"),  # stopped before the closing fence
        ('{"cmd": "du -sh src"}', "du -sh src"),  # a model or server that answers in the JSON form anyway
        (' {"cmd": " ls -la "}\n', "ls -la"),
    ],
)
def test_a_free_answer_is_read_to_its_first_code_block(text: str, command: str) -> None:
    assert read_answer(text, "stop", AnswerFormat.CODE) == command


def test_unreadable_answers_are_parse_errors() -> None:
    for text, fmt, finish in (("", AnswerFormat.CODE, "stop"), ("```sh\n\n```", AnswerFormat.CODE, "stop"),
                              ("blah blah", AnswerFormat.CODE, "length"), ('{"cmd": ""}', AnswerFormat.JSON, "stop"),
                              ("not json", AnswerFormat.JSON, "stop"), ('{"cmd": "ls"}', AnswerFormat.JSON, "length")):
        with pytest.raises(UnreadableAnswer):
            read_answer(text, finish, fmt)
    with pytest.raises(BackendFailure) as failure:
        parse_command_reply("```sh\n```", "stop", "llama_cpp", AnswerFormat.CODE)
    assert failure.value.recoverable and "```" not in failure.value.message
    assert parse_command_reply('{"cmd": " ls "}', "stop", "x") == "ls"


def test_the_answer_format_setting_reaches_the_plan(tmp_path: Path) -> None:
    from pipeline.service import Caro

    assert Caro(backend="none").generation_plan.answer_format is AnswerFormat.CODE  # the default
    caro = Caro(backend="none", llm_settings={"generation.answer_format": "json"})
    assert caro.generation_plan.answer_format is AnswerFormat.JSON
    assert caro.generation_plan == DEFAULT_PLAN.__class__(**{**DEFAULT_PLAN.__dict__, "answer_format": AnswerFormat.JSON})
    from pipeline.service import RequestOptions
    from pipeline.values import TextKind

    assert caro.inputs("x", TextKind.REQUEST, RequestOptions(working_directory=str(tmp_path)))["generation_plan"] is caro.generation_plan


def test_each_format_asks_for_its_own_answers() -> None:
    code = build_prompt("r", GNU, (), (("q", "ls"),), (), plan=DEFAULT_PLAN.__class__(answer_format=AnswerFormat.CODE, example_form=ExampleForm.TURNS))
    assert "code block" in code.system and code.examples[0][1] == "```sh\nls\n```"
    assert all(answer.startswith("```sh\n") for _, answer in code.fixed_examples)
    json_prompt = build_prompt("r", GNU, (), (("q", "ls"),), (), plan=BASELINE_PLAN)
    assert "JSON" in json_prompt.system and json_prompt.examples[0][1] == '{"cmd": "ls"}'


def test_the_listing_is_never_logged_or_stored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The names are a value of one request: caro's own logging never sees them (through a real pipeline run)."""
    import logging

    from pipeline.service import Caro, RequestOptions

    (tmp_path / "zq_unique_name_8731.csv").touch()
    records: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    root = logging.getLogger()
    handler = Keep(level=logging.DEBUG)
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    try:
        caro = Caro(backend="none")
        handled = caro.run("tally the rows of every spreadsheet here", options=RequestOptions(working_directory=str(tmp_path)))
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert not any("zq_unique_name_8731" in message for message in records)
    assert "zq_unique_name_8731" not in repr(handled.drafts)
    assert os.listdir(tmp_path) == ["zq_unique_name_8731.csv"]


@pytest.mark.parametrize(
    ("streamed", "ended"),
    [
        ("```sh\nls -la\n", True),  # the first line is complete: nothing after it is read
        ("```sh\n\nls -la\n", True),
        ("```sh\nls -la\n```", True),
        ("```sh\nls -la", False),  # the line may go on
        ("```sh\nfind . \\\n", False),  # a backslash joins the next line to it
        ("Here is the command:\n", False),
    ],
)
def test_a_code_answer_ends_when_its_first_command_line_is_complete(streamed: str, ended: bool) -> None:
    from pipeline.backends.answers import answer_ended

    assert answer_ended(streamed, AnswerFormat.CODE) is ended
    assert not answer_ended(streamed, AnswerFormat.JSON)
    if ended:  # stopping there reads the same command as the whole answer would give
        assert read_answer(streamed, None, AnswerFormat.CODE) == read_answer(streamed.rstrip("`\n") + "\n```\nmore text", None, AnswerFormat.CODE)


def test_each_example_form_writes_the_retrieved_examples_its_way() -> None:
    """TURNS (the default): a user and an assistant turn each, the answer in the plan's format;
    NOTES: lines at the end of the notes, after what the folder's requests share, and no turns of their own."""
    from pipeline.prompting import borrowed_names

    examples = (("count the lines of notes.txt", "wc -l < notes.txt"), ("line 7 of notes.txt", "sed -n '7p' notes.txt"))

    def prompt(form: ExampleForm):  # type: ignore[no-untyped-def]
        return build_prompt("the 10th line of notes.txt", GNU, (), examples, (), plan=replace(DEFAULT_PLAN, example_form=form))

    turns, notes = prompt(ExampleForm.TURNS), prompt(ExampleForm.NOTES)
    assert DEFAULT_PLAN.example_form is ExampleForm.TURNS and BASELINE_PLAN.example_form is ExampleForm.TURNS
    assert [m["content"] for m in turns.messages()[-3:-1]] == ["line 7 of notes.txt", "```sh\nsed -n '7p' notes.txt\n```"]
    messages = notes.messages()
    assert [m["role"] for m in messages[-2:]] == ["system", "user"] and messages[-1]["content"] == "the 10th line of notes.txt"
    assert messages[-2]["content"].startswith(turns.context)  # what a folder's requests share stays first
    assert messages[-2]["content"].endswith(
        "\nCommands for similar requests:\n- count the lines of notes.txt: `wc -l < notes.txt`\n- line 7 of notes.txt: `sed -n '7p' notes.txt`"
    )
    assert len(messages) == len(turns.messages()) - 4  # no example turns
    assert notes.prefix_messages() == turns.prefix_messages()  # the shared prefix is the same whatever the form
    # No notes of its own: the examples alone make the request's system turn.
    bare = replace(notes, context="")
    assert bare.messages()[-2] == {"role": "system", "content": messages[-2]["content"][len(turns.context) + 1 :]}
    # The refine stage still sees which names came from the examples, whichever the form.
    copied = "sed -n '10p' notes.txt"  # the example's file, where the request names another
    assert borrowed_names(copied, "the 10th line of todo.txt", notes.examples) == ("notes.txt",)
    assert borrowed_names(copied, "the 10th line of todo.txt", turns.examples) == ("notes.txt",)
