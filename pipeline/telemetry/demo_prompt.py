"""The interactive prompt in the synthetic telemetry: what demo users choose once they see a command.

A share of the requests answered with a command are made at a terminal, where the user picks
actions until one runs the command or quits (`pipeline/cli/interactive.py`). As in a real
session, an edit is judged again (a `passthrough` generation and a safety validation follow
its `prompt_action`), and a revision is generated and judged again. The choices are drawn with
the session's shape (`demo._shape`), because they decide how many events it has.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from pipeline.telemetry.events import Backend, CommandGeneration, PromptAction, PromptChoice, SafetyValidation
from pipeline.values import Action, Risk, SafetyLevel, action_for

if TYPE_CHECKING:
    from pipeline.telemetry.demo import _Session

RUN, QUIT, EDIT, REVISE, EXPLAIN, COPY = (
    PromptChoice.RUN, PromptChoice.QUIT, PromptChoice.EDIT, PromptChoice.REVISE, PromptChoice.EXPLAIN, PromptChoice.COPY,
)
P_PROMPTED = 0.45  # of the requests answered with a command (the rest: -x, --dry-run, a pipe, the shell key)
# The choices in order, by weight; index + 1 is the sequence's number in a shape (0: no prompt).
SEQUENCES: tuple[tuple[tuple[PromptChoice, ...], float], ...] = (
    ((RUN,), 0.52), ((QUIT,), 0.18), ((EXPLAIN, RUN), 0.07), ((EXPLAIN, QUIT), 0.03), ((EDIT, RUN), 0.07),
    ((EDIT, QUIT), 0.01), ((REVISE, RUN), 0.06), ((REVISE, REVISE, RUN), 0.02), ((COPY, QUIT), 0.04),
)  # fmt: skip
_REJUDGED = frozenset({EDIT, REVISE})
_EDIT_RISKS = ((Risk.SAFE, 0.6), (Risk.MODERATE, 0.25), (Risk.HIGH, 0.12), (Risk.CRITICAL, 0.03))
_REVISE_RISKS = ((Risk.SAFE, 0.75), (Risk.MODERATE, 0.17), (Risk.HIGH, 0.06), (Risk.CRITICAL, 0.02))


def pick_sequence(rng: random.Random, has_model: bool) -> int:
    """The number of a session's choice sequence (0: not at a prompt); revising needs a model."""
    from pipeline.telemetry.demo import _pick

    if rng.random() >= P_PROMPTED:
        return 0
    pool = tuple((n, w) for n, (choices, w) in enumerate(SEQUENCES, start=1) if has_model or REVISE not in choices)
    return _pick(rng, pool)  # type: ignore[return-value]


def extra_events(sequence: int) -> int:
    """How many events a choice sequence adds: one per choice, two more per edit or revision."""
    if sequence == 0:
        return 0
    choices = SEQUENCES[sequence - 1][0]
    return len(choices) + 2 * sum(c in _REJUDGED for c in choices)


def prompt_events(rng: random.Random, s: _Session, sequence: int, model: Backend, level: SafetyLevel, action: Action) -> bool:
    """Append the sequence's events to the session (after its first safety validation); whether the command ran."""
    from pipeline.telemetry.demo import _categories, _ms, _pick

    choices = SEQUENCES[sequence - 1][0]
    for choice in choices:
        # Each step takes at least a millisecond, so the session's events keep their order by time.
        s.later(max(1, _ms(rng, 2_500 if choice is not RUN else 1_200, 0.7)))  # reading, thinking, typing
        if action is Action.BLOCKED and choice in (RUN, COPY):
            choice = QUIT if choice is RUN else EXPLAIN  # a blocked command is never run or copied
        s.events.append(PromptAction(session_id=s.session_id, ts=s.ts(), choice=choice))
        if choice not in _REJUDGED:
            continue
        edited = choice is EDIT
        s.later(max(1, _ms(rng, 8_000, 0.6) if edited else 1))  # typing the edit
        started = s.clock
        s.later(max(1, _ms(rng, 1, 0.4) if edited else _ms(rng, 1_800, 0.45)))
        s.events.append(
            CommandGeneration(
                session_id=s.session_id, ts=s.ts(), backend=Backend.PASSTHROUGH if edited else model,
                duration_ms=s.clock - started, success=True, error_category=None, refine_ran=False, refine_changed=False,
            )
        )
        risk: Risk = _pick(rng, _EDIT_RISKS if edited else _REVISE_RISKS)  # type: ignore[assignment]
        action = action_for(risk, level)
        s.later(max(1, _ms(rng, 4, 0.5)))
        s.events.append(SafetyValidation(session_id=s.session_id, ts=s.ts(), risk=risk, action=action, categories=_categories(rng, risk)))
    return choices[-1] is RUN and action is not Action.BLOCKED
