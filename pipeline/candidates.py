"""Several answers from the model for one request: asking for them, and choosing among them.

The first answer is the greedy one (temperature 0); the others are sampled (the plan's
temperature, a seed per answer, so a run is repeatable). They are asked for within the
request's one time budget, and asking stops when it is spent, so more answers never make a
request late, only fewer. Choosing: answers that do the same thing (`pipeline/equivalence.py`)
vote together; the largest group wins, then the one the linters find least wrong in, then the
one holding the greedy answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pipeline.backends.base import BackendChain, Prompt, Reply, generate_with_fallback
from pipeline.equivalence import equivalent
from pipeline.values import GenerationError


@dataclass(frozen=True)
class Answers:
    """The model's answers to one request, greedy first, and every failure on the way."""

    replies: tuple[Reply, ...] = ()
    failures: tuple[GenerationError, ...] = ()


def ask(chain: BackendChain, prompt: Prompt, timeout_s: float, count: int, temperature: float, *, want_distinct: int = 0) -> Answers:
    """Up to `count` answers: the greedy one, then sampled ones, while the budget lasts.

    With `want_distinct` (for `caro -n`), asking goes on until that many different commands
    are in hand, up to twice that many answers.
    """
    first = generate_with_fallback(chain, prompt, timeout_s=timeout_s)
    if first.reply is None:
        return Answers((), first.failures)
    replies = [first.reply]
    failures = list(first.failures)
    for seed in range(1, max(count, 2 * want_distinct)):
        if len(replies) >= count and len(distinct([r.command for r in replies])) >= want_distinct:
            break
        outcome = generate_with_fallback(chain, replace(prompt, temperature=temperature, seed=seed), timeout_s=timeout_s, retries=0)
        failures.extend(outcome.failures)
        if outcome.reply is None:
            break  # the budget is spent, or the backend failed: what is in hand stands
        replies.append(outcome.reply)
    return Answers(tuple(replies), tuple(failures))


def groups(commands: Sequence[str]) -> list[list[int]]:
    """Indexes of the commands, grouped by equivalence, in order of first appearance."""
    found: list[list[int]] = []
    for index, command in enumerate(commands):
        for group in found:
            if equivalent(commands[group[0]], command):
                group.append(index)
                break
        else:
            found.append([index])
    return found


def distinct(commands: Sequence[str]) -> list[str]:
    """One command of each equivalence group, in order of first appearance."""
    return [commands[group[0]] for group in groups(commands)]


def ranked(commands: Sequence[str], badness: Callable[[str], int]) -> list[int]:
    """One index per equivalence group, best first: most votes, then least bad (lint), then earliest."""
    scored = [(-len(group), badness(commands[group[0]]), group[0]) for group in groups(commands)]
    return [index for _, _, index in sorted(scored)]
