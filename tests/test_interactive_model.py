"""Revise with the tiny real model (SmolLM2-135M through llama.cpp), in a real `caro` under a pseudo-terminal.

A 135M model cannot be relied on to write the right command, or any: what is asserted is what
caro itself guarantees around it. The follow-up reaches the model (telemetry records a
llama_cpp generation for it, after the table's for the request); whatever comes back is judged
and shown, or caro says there is no command and keeps the one shown; the prompt asks again; and
nothing runs until `y`: quitting leaves the folder as it was.
"""

from __future__ import annotations

import pexpect
import pytest

from tests.test_interactive import FIND, MENU, PYTHON_FILES, choose, prompt_choices, spawn, stored_events
from tests.tiny_model import TINY_MODEL, needs_tiny_model


@needs_tiny_model
@pytest.mark.parametrize("serve", [True, False], ids=["service", "in-process"])
def test_a_revision_goes_to_the_real_model_and_nothing_runs_until_asked(tmp_path, serve: bool) -> None:
    work = tmp_path / "work"
    work.mkdir()
    for n in range(7):
        (work / f"m{n}.py").write_text("")
    before = sorted(p.name for p in work.iterdir())
    env = {
        "CARO_BACKEND": "llama_cpp", "CARO_MODEL": str(TINY_MODEL), "CARO_GENERATION_TIMEOUT_S": "120",
        "CARO_TELEMETRY_ENABLED": "1",
    }
    child = spawn([PYTHON_FILES], work, serve=serve, env=env)
    child.expect(MENU)
    assert f"$ {FIND}" in child.before  # the request itself is the table's
    choose(child, "r", then="what should change\\? ")
    child.send("now only the first 5\r")
    # In process, the sign of life on stderr is erased (`\r`, erase line) right before the command.
    index = child.expect([r"(?:\n|\x1b\[K)\$ ([^\r\n]+)\r?\n", r"caro: no command[^\r\n]*", r"caro: not run: ([^\r\n]+)"], timeout=300)
    if index == 1:  # the model gave nothing usable: the command shown stays
        child.expect_exact(f"caro: still: {FIND}")
    child.expect(MENU)
    child.send("q")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus in (0, 10, 11)  # the shown command's verdict: allowed, blocked, or needs confirmation
    assert sorted(p.name for p in work.iterdir()) == before  # nothing ran
    rows = stored_events()
    assert prompt_choices(rows) == ["revise", "quit"]
    generations = [r["backend"] for r in rows if r["event_type"] == "command_generation"]
    assert generations == ["static", "llama_cpp"]  # the follow-up went to the model, not the table
    assert not any(r["executed"] for r in rows if r["event_type"] == "session_end")
