"""The interactive prompt's parts, one at a time: follow-ups in the DAG, the prompt's layout, copying, telemetry.

The prompt itself is driven in real caro processes in tests/test_interactive.py; these call
the nodes, the prompt builder, the clipboard writer and the telemetry validator directly.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.backends.answers import AnswerFormat
from pipeline.cli.interactive import KEYS, copy_to_clipboard
from pipeline.follow_up import refers_back
from pipeline.service import Caro, RequestOptions
from pipeline.telemetry.builders import prompt_action_events
from pipeline.telemetry.events import PromptAction, PromptChoice, VOCABULARY
from pipeline.telemetry.schemas import validate_events
from pipeline.telemetry.store import TelemetryStore
from pipeline.values import FollowUp, Generation, Shell, Source, TextKind
from tests.test_telemetry_privacy_property import _adversarial, requests
from tests.test_telemetry_schemas import NOTHING, SID, TS, sample_events

REPO = Path(__file__).resolve().parents[1]
FIND = "find . -type f -name '*.py'"
PYTHON = FollowUp("list all python files", FIND)


@pytest.fixture(scope="module")
def caro() -> Caro:
    return Caro(backend="none")


# -- the static table and passthrough, for a follow-up ---------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["now only the top 5", "only python files", "sort them by size", "and delete them", "the same but for txt files",
     "show disk usage instead", "also include hidden files"],
)
def test_a_follow_up_that_points_back_goes_to_the_model_not_the_table(caro: Caro, text: str) -> None:
    assert refers_back(text)
    result = caro.run(text, TextKind.REQUEST, RequestOptions(follow_up=PYTHON)).result
    assert result.source is Source.NONE and result.command is None  # no model in this pipeline


def test_a_follow_up_that_stands_on_its_own_is_answered_by_the_table(caro: Caro) -> None:
    assert not refers_back("show disk usage")
    result = caro.run("show disk usage", TextKind.REQUEST, RequestOptions(follow_up=PYTHON)).result
    assert result.source is Source.STATIC and result.command == "df -h"
    # The same words that point back, as a first request, are the table's as before.
    assert caro.handle("only python files").command == FIND


@pytest.mark.parametrize("text", ["head -n 5", "grep error", "wc -l"])
def test_a_follow_up_typed_as_a_command_is_never_passed_through(caro: Caro, text: str) -> None:
    assert caro.handle(text).source is Source.PASSTHROUGH  # as a request of its own, it is a command
    result = caro.run(text, TextKind.REQUEST, RequestOptions(follow_up=PYTHON)).result
    assert result.source is Source.NONE  # as a follow-up, words for the model to add to the command
    assert caro.run(text, TextKind.COMMAND, RequestOptions(follow_up=PYTHON)).result.source is Source.PASSTHROUGH


# -- the generation prompt, read from the DAG (whatever the generate stage's nodes take) ------------


def _values(caro: Caro, names: list[str], text: str, follow_up: FollowUp | None, cwd: Path | None = None, **overrides):
    options = RequestOptions(shell=Shell.BASH, follow_up=follow_up, working_directory=str(cwd) if cwd else None)
    return caro.driver.execute(names, inputs=caro.inputs(text, TextKind.REQUEST, options), overrides=overrides or None)


def test_a_follow_up_prompt_keeps_the_shared_prefix_and_ends_with_the_previous_exchange(caro: Caro) -> None:
    plain = _values(caro, ["generation_prompt"], "now only the top 5", None)["generation_prompt"]
    found = _values(caro, ["generation_prompt", "prompt_examples", "task_text"], "now only the top 5", PYTHON)
    revised = found["generation_prompt"]
    assert revised.prefix_messages() == plain.prefix_messages()  # the cached part is untouched
    messages = revised.messages()
    assert messages[-3] == {"role": "user", "content": "list all python files"}
    assert messages[-2]["role"] == "assistant" and FIND in messages[-2]["content"]
    assert messages[-1]["role"] == "user" and messages[-1]["content"].startswith("Change that command: now only the top 5")
    # The previous command and the question are in the format the plan asks for (a code block by
    # default): a revision once wrote them as JSON while the rest of the prompt asked for code.
    assert revised.answer_format is AnswerFormat.CODE
    assert messages[-2]["content"] == f"```sh\n{FIND}\n```" and messages[-1]["content"].endswith("in a code block.")
    # Examples are retrieved for the whole task, so the previous request's words count.
    assert found["task_text"] == "list all python files\nnow only the top 5"
    alone = _values(caro, ["prompt_examples"], "now only the top 5", None)["prompt_examples"]
    assert found["prompt_examples"] and found["prompt_examples"] != alone
    # A repair round of a revision keeps the revision whole and comes after it.
    from pipeline.prompting import repair_prompt

    assert repair_prompt(revised, "find . | head", ()).messages()[: len(messages)] == messages


def test_without_a_follow_up_the_task_is_the_request_and_the_prompt_ends_with_it(caro: Caro) -> None:
    found = _values(caro, ["generation_prompt", "task_text"], "print the weekday of 2024-01-01", None)
    assert found["task_text"] == "print the weekday of 2024-01-01"
    assert found["generation_prompt"].messages()[-1] == {"role": "user", "content": "print the weekday of 2024-01-01"}


def test_refine_reads_the_whole_task_so_a_path_from_the_previous_request_is_not_invented(caro: Caro, tmp_path: Path) -> None:
    generation = Generation(ran=True, command="grep error logs/app.log | head -n 5", backend="llama_cpp")
    earlier = FollowUp("show the errors in logs/app.log", "grep error logs/app.log")
    alone = _values(caro, ["candidate_findings"], "now only the first 5", None, tmp_path, llm_generation=generation)
    whole = _values(caro, ["candidate_findings"], "now only the first 5", earlier, tmp_path, llm_generation=generation)
    assert any("logs/app.log" in f.message for f in alone["candidate_findings"])
    assert not any("logs/app.log" in f.message for f in whole["candidate_findings"])


# -- copying ----------------------------------------------------------------------------------------


def _copied(environ: dict[str, str], capsys) -> tuple[str, str]:
    said = copy_to_clipboard("ls -la | head", environ)
    return said, capsys.readouterr().err


def test_copy_sends_osc52_and_wraps_it_for_tmux_and_screen(capsys) -> None:
    sequence = "\x1b]52;c;" + base64.b64encode(b"ls -la | head").decode() + "\x07"
    said, written = _copied({"TERM": "xterm-256color"}, capsys)
    assert written == sequence and "copied" in said
    _, written = _copied({"TERM": "tmux-256color", "TMUX": "/tmp/tmux-0/default,1,0"}, capsys)
    assert written == sequence + "\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"
    _, written = _copied({"TERM": "screen", "STY": "1.pts-0.host"}, capsys)
    assert written == "\x1bP" + sequence + "\x1b\\"


@pytest.mark.parametrize(
    "environ", [{"TERM": "linux"}, {"TERM": "dumb"}, {}, {"TERM": "xterm", "TERM_PROGRAM": "Apple_Terminal"}, {"TERM": "xterm", "VTE_VERSION": "7600"}]
)
def test_copy_says_when_the_terminal_cannot_and_sends_nothing(environ: dict[str, str], capsys) -> None:
    said, written = _copied(environ, capsys)
    assert "cannot take a copy" in said and written == ""


def test_copy_refuses_a_command_too_long_for_a_terminal(capsys) -> None:
    assert "too long" in copy_to_clipboard("x" * 100_000, {"TERM": "xterm"}) and capsys.readouterr().err == ""


# -- the keys and their telemetry ----------------------------------------------------------------------


def test_one_key_per_action_and_the_actions_are_the_telemetry_categories() -> None:
    keys = [key for key, _, _ in KEYS]
    assert len(set(keys)) == len(keys) and all(len(k) == 1 and k.islower() for k in keys)
    assert [action for _, action, _ in KEYS] == [c.value for c in PromptChoice]


@pytest.mark.parametrize("doc", ["docs/cli.md", "docs/shell.md"])
def test_the_keys_are_documented(doc: str) -> None:
    text = (REPO / doc).read_text()
    for key, action, _ in KEYS:
        assert f"| `{key}` | {action} |" in text, (doc, key)


def test_only_known_choices_at_real_times_become_events() -> None:
    drafts = prompt_action_events([("explain", 1_750_000_000.25), ["run", 1_750_000_001], ("rm -rf /", 1.0), ("quit", "soon"), "edit", ("copy", 1e30)])
    assert [(d.fields["choice"], d.at) for d in drafts] == [
        (PromptChoice.EXPLAIN, "2025-06-15T15:06:40.250Z"), (PromptChoice.RUN, "2025-06-15T15:06:41.000Z"),
    ]


def test_a_prompt_action_row_holds_a_closed_category_and_nothing_else() -> None:
    good = PromptAction(session_id=SID, ts=TS, choice=PromptChoice.REVISE)
    assert good.row() == {"event_type": "prompt_action", "session_id": SID, "ts": TS, "schema_version": 1, "choice": "revise"}
    typed = {**good.row(), "choice": "now only the top 5"}
    extra = {**good.row(), "text": "now only the top 5"}
    batch = validate_events([good, typed, extra], NOTHING)
    assert batch.rows == {"prompt_action": [good.row()]} and batch.dropped == {"prompt_action": 2}


def test_an_older_database_gains_the_choice_column_and_keeps_its_rows(tmp_path: Path) -> None:
    from pipeline.telemetry.migrations import Database, migrations

    path = tmp_path / "old.db"
    old = Database(path)
    migrations.apply(old, stop_before="m004_prompt_choices")  # the file an older caro made
    old.execute(
        "INSERT INTO events (event_type, ts, session_id, schema_version, outcome, duration_ms, executed) "
        "VALUES ('session_end', ?, ?, 1, 'command', 12, 0)", [TS, SID],
    )
    old.conn.commit()
    assert "choice" not in {row[1] for row in old.execute("PRAGMA table_info(events)").fetchall()}
    old.close()
    with TelemetryStore(path) as store:
        assert store.write(validate_events([PromptAction(session_id=SID, ts=TS, choice=PromptChoice.COPY)], NOTHING)).ok
        rows = store.query()
    assert [(r["event_type"], r.get("choice")) for r in rows] == [("session_end", None), ("prompt_action", "copy")]
    assert rows[0]["duration_ms"] == 12


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data(), case=requests())
def test_no_secret_planted_in_a_prompt_action_reaches_the_database(tmp_path_factory, data: st.DataObject, case) -> None:
    context, secrets = case
    base = PromptAction(session_id=SID, ts=TS, choice=PromptChoice.EDIT).row()
    events: list[object] = [*sample_events(), PromptAction(session_id=SID, ts=TS, choice=PromptChoice.RUN)]
    for _ in range(data.draw(st.integers(5, 15))):
        how = data.draw(st.sampled_from(["value", "suffix", "key"]))
        events.append(_adversarial(base, data.draw(st.sampled_from(sorted(base))), data.draw(st.sampled_from(secrets)), how))
    path = tmp_path_factory.mktemp("prompt") / "t.db"
    with TelemetryStore(path) as store:
        assert store.write(validate_events(events, context)).ok
        assert store.counts().get("prompt_action") == 1
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.is_file())
    for secret in secrets:
        if not any(secret.casefold() in word for word in VOCABULARY):
            assert secret.encode() not in stored
