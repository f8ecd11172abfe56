"""The example corpus (configs/static/examples/): well formed, safe, its names from its requests,
never a request of the development set or the shared suites, and retrieved with the request's names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cases import absent_reason, cases_dir

from pipeline.platform import resolve_platform
from pipeline.safety.engine import assess
from pipeline.safety.rules import RuleSet, default_rules_path
from pipeline.shell.parse import parse_script
from pipeline.static.examples import NAME, Example, fill, fixed_examples, load_examples, render_written, slot_kinds, written_examples
from pipeline.static.phrasings import render_table_example, table_examples
from pipeline.static.retrieval import ExampleIndex, named_paths
from pipeline.static.table import StaticTable
from pipeline.static.tokens import TokenKind, tokenize
from pipeline.values import Action, Platform, SafetyLevel, Shell, Userland

ROOT = Path(__file__).resolve().parents[1]
GNU = Platform("linux", Userland.GNU, Shell.BASH)
BSD = Platform("macos", Userland.BSD, Shell.BASH)
TABLE = StaticTable.default()
WRITTEN = written_examples()
TABLE_EXAMPLES = table_examples(TABLE, GNU)


def _rendered(example: Example) -> tuple[str, str]:
    if example.command is None:
        pair = render_table_example(example, (), TABLE, GNU)
        assert pair is not None, example.request
        return pair
    return render_written(example, fill(example, ()))


def test_the_corpus_is_much_larger_than_the_table() -> None:
    # The table alone gave 258 examples (its intents whose required slots have defaults).
    assert len(WRITTEN) >= 450
    assert len(TABLE_EXAMPLES) >= 700
    assert len({e.intent for e in TABLE_EXAMPLES}) >= 0.9 * len(TABLE.intents)
    assert len(fixed_examples()) >= 20


@pytest.mark.parametrize("example", WRITTEN + TABLE_EXAMPLES, ids=lambda e: e.request)
def test_every_example_parses_and_is_never_blocked(example: Example) -> None:
    request, command = _rendered(example)
    assert not NAME.search(request + command)
    assert parse_script(command).ok, command
    verdict = assess(command, shell=Shell.BASH, rules=RULES, level=SafetyLevel.MODERATE, cwd="/home/u/project", home="/home/u")
    assert verdict.action is not Action.BLOCKED, command


from pipeline.slots import opaque, slots  # noqa: E402

RULES = RuleSet.load([default_rules_path()])


@pytest.mark.parametrize("pair", fixed_examples(), ids=lambda p: p[0])
def test_every_fixed_example_parses_and_is_never_blocked(pair: tuple[str, str]) -> None:
    # A template's slots (`<file>`) are read as the operands they stand for, as caro reads them.
    command = opaque(pair[1])
    assert parse_script(command).ok
    verdict = assess(command, shell=Shell.BASH, rules=RULES, level=SafetyLevel.MODERATE, cwd="/home/u/project", home="/home/u")
    assert verdict.action is not Action.BLOCKED


def test_the_fixed_examples_teach_slots_for_what_a_request_does_not_name() -> None:
    """Some fixed example answers a request that names no file with a template (pipeline/slots.py),
    and every slot in one stands where its request names nothing of the kind."""
    templates = [(request, command) for request, command in fixed_examples() if slots(command)]
    assert templates
    for request, command in templates:
        assert not _PATHLIKE.search(request), request


# A path with an extension the request never names: a sample the model would copy.
_PATHLIKE = re.compile(r"[\w./-]*\w\.[a-z]{1,4}\b")


def test_every_name_in_a_command_is_in_its_request() -> None:
    for example in WRITTEN + TABLE_EXAMPLES:
        request, command = _rendered(example)
        for name in _PATHLIKE.findall(command):
            # System files, a project's own conventional files and well-known services are not samples.
            if name.startswith(("/dev/", "/etc/", "/proc/", "//")) or name in {"requirements.txt", "Makefile"}:
                continue
            # A new file named after a name the request gives (`assets` -> `assets.tar.gz`) is the request's too.
            stem = name.strip("'\"").split(".")[0]
            if not stem:  # a suffix after an expansion: "$(date +%F).tar.gz"
                continue
            assert name.strip("'\"") in request or stem in request, (request, command, name)


def test_the_loader_refuses_a_command_naming_what_its_request_does_not(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[example]]\nrequest = "count the lines"\ncommand = "wc -l {{txt}}"\n')
    with pytest.raises(ValueError, match="txt"):
        load_examples(bad)
    bad.write_text('[[example]]\nrequest = "count {{nothing}}"\ncommand = "wc -l {{nothing}}"\n')
    with pytest.raises(ValueError, match="unknown kinds"):
        load_examples(bad)


def test_gnu_only_examples_are_not_shown_on_bsd() -> None:
    gnu_only = [e for e in WRITTEN if e.userland is Userland.GNU]
    assert gnu_only
    index = ExampleIndex(TABLE, BSD, examples=WRITTEN)
    assert not set(map(id, gnu_only)) & set(map(id, index.examples))


# -- no leakage: the corpus never holds a request of the development set or the shared suites ----


def _shape(text: str) -> tuple[str, ...]:
    """A request as the same request however it is spelled: its words in order, lower case, without
    punctuation, a leading "show"/"list"/"print" dropped, and every name reduced to its kind
    (`data/x.csv` and `{{csv}}` -> `csv`, a quoted text -> `text`)."""
    kinds = list(slot_kinds().values())
    text = NAME.sub(lambda m: f" {m.group(1)} ", text.replace("what's", "what is"))
    words: list[str] = []
    for token in tokenize(text):
        if token.kind is TokenKind.PATH:
            words.append(next((k.name for k in kinds if not k.any_file and k.takes(token.text)), "file"))
        elif token.kind is TokenKind.QUOTED:
            words.append("text")
        else:
            words.append(token.norm)
    while words and words[0] in _VERBS:
        words.pop(0)
    return tuple(words)


_VERBS = frozenset({"show", "list", "print", "display", "get", "find", "me", "please"})


def _leaks(requests: dict[str, str]) -> dict[str, str]:
    """The requests (by id) that an example shares, and the example.

    A phrasing of a table intent may share a request the table answers itself (`list files`):
    no model ever sees that request, so no example can tell it the answer. Any other shared
    request, and every written or fixed one, is a leak.
    """
    written = {_shape(e.request): e.request for e in WRITTEN}
    written.update({_shape(request): request for request, _ in fixed_examples()})
    phrasings = {_shape(e.request): e.request for e in TABLE_EXAMPLES}
    found = {}
    for key, request in requests.items():
        shape = _shape(request)
        if shape in written:
            found[key] = written[shape]
        elif shape in phrasings and TABLE.match(request, GNU) is None:
            found[key] = phrasings[shape]
    return found


def test_no_example_is_a_request_of_the_development_set() -> None:
    rows = [json.loads(line) for line in (ROOT / "bench/devset/devset.jsonl").read_text().splitlines() if line.strip()]
    assert _leaks({row["id"]: row["request"] for row in rows}) == {}


@pytest.mark.skipif(absent_reason() is not None, reason=absent_reason() or "")
def test_no_example_is_a_request_of_the_shared_suites() -> None:
    requests = {}
    for suite in sorted(cases_dir().glob("*.jsonl")):
        for number, line in enumerate(suite.read_text().splitlines()):
            row = json.loads(line) if line.strip() else {}
            for key in ("input", "input_request", "prompt", "request"):
                if isinstance(row.get(key), str):
                    requests[f"{suite.name}:{row.get('id') or number}"] = row[key]
    assert requests
    assert _leaks(requests) == {}


# -- retrieval ----------------------------------------------------------------------------------


def test_retrieved_examples_use_the_names_the_request_gives() -> None:
    index = ExampleIndex(TABLE, GNU)
    request = "add up the values in the third field of reports/2024.csv"
    examples = index.nearest(request, 3, named_paths(request))
    assert examples
    assert any("reports/2024.csv" in command for _, command in examples)
    pools = {value for kind in slot_kinds().values() if kind.ext for value in kind.values}
    assert not any(value in command for _, command in examples for value in pools if value.endswith(".csv"))


def test_a_folder_of_the_working_directory_named_in_the_request_fills_folder_names() -> None:
    assert named_paths("newest file in logs", ("logs", "data")) == ("logs/",)
    assert named_paths("delete all .pyc files") == ()
    assert named_paths("mirror https://example.com/a") == ("https://example.com/a",)
    index = ExampleIndex(TABLE, GNU)
    examples = index.nearest("the biggest files under logs", 3, ("logs/",))
    assert any(re.search(r"\blogs\b", command) for _, command in examples)


def test_retrieval_gives_distinct_commands_and_at_most_k() -> None:
    index = ExampleIndex(TABLE, resolve_platform(None, None))
    for request in ("show the git log", "largest files", "count lines in notes.txt", "xyzzy plugh"):
        examples = index.nearest(request, 3, named_paths(request))
        assert len(examples) <= 3
        assert len({command for _, command in examples}) == len(examples)


def test_other_names_come_from_the_words_where_the_example_has_them() -> None:
    def values(template: str, request: str) -> dict[str, str]:
        return fill(Example(template, "x", "written:t"), named_paths(request), request=request)

    assert values("install {{pkg}} with apt", "install htop") == {"pkg": "htop"}
    assert values("the logs of the container {{container}}", "show the logs of container web-1") == {"container": "web-1"}
    assert values("files owned by {{user}}", "find files owned by bob") == {"user": "bob"}
    assert values("lines of {{log}} that contain {{text}}", "lines with 'disk full' in logs/a.log") == {"log": "logs/a.log", "text": "disk full"}
    assert values("the {{n}} biggest files under {{dir}}", "the 7 largest files")["n"] == "7"
    # No anchor in the request: the pool's value, never a filler or a word of the example.
    assert values("restart {{service}}", "stop the docker service")["service"] in slot_kinds()["service"].values
    assert values("install {{pkg}} with apt", "install the")["pkg"] in slot_kinds()["pkg"].values


def test_the_nearest_example_comes_last_when_the_plan_says_so() -> None:
    from dataclasses import replace

    from nodes.generate import prompt_examples
    from pipeline.generation_plan import DEFAULT_PLAN

    request = "count the lines of reports/2024.csv"
    first = prompt_examples(True, request, TABLE, GNU, None, replace(DEFAULT_PLAN, nearest_last=False))
    last = prompt_examples(True, request, TABLE, GNU, None, replace(DEFAULT_PLAN, nearest_last=True))
    assert first and last == tuple(reversed(first))


def test_a_request_that_names_no_file_gets_examples_with_slots_not_sample_names() -> None:
    """eval_harness got `chmod 444 notes/plan.txt` for "change file permissions to read-only": the
    example's sample name, copied. With slots, the examples carry `<file>` and no sample file name."""
    from pipeline.platform import resolve_platform
    from pipeline.static.retrieval import corpus_index
    from pipeline.static.table import StaticTable, default_table_paths

    index = corpus_index(StaticTable.load(default_table_paths()), resolve_platform(None, None))
    request = "merge multiple log files by timestamp"
    with_slots = index.nearest(request, 2, (), slots=True)
    written = [pair for pair in with_slots if "sort -m" in pair[1]]
    assert written and all("<file>" in command or "*" in command for _, command in written)
    assert not any(_PATHLIKE.search(command.replace("<file>", "").replace("<file2>", "")) for _, command in written if "<file>" in command)
    # Where the request names a file, its name fills the example as before; no slot.
    named = index.nearest("merge app.log and db.log by timestamp", 2, ("app.log", "db.log"), slots=True)
    assert any("app.log" in command for _, command in named)
    assert not any("<file" in command for _, command in named)
