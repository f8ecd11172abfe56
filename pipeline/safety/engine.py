"""The safety verdict of a command: three tiers, fail-closed.

`assess` parses the command with tree-sitter-bash, follows what the line itself sets (variables,
`cd`, downloads), sees through wrappers (sudo, env, xargs ...), parses again the text that
`eval`, `sh -c`, `su -c`, `ssh host cmd`, here-documents and inline interpreter code would run
(at most MAX_DEPTH levels; deeper is the worst case), and judges every simple command twice:

1. against the known-dangerous rules (configs/safety_rules.toml): each match is a finding whose
   risk the safety level turns into an action;
2. against the allow-list of known-harmless commands (configs/safety_allow.toml): a command
   that is not on it, or uses it in a way caro cannot see through, is "not understood".

A command is allowed only when nothing dangerous matched and every part of it was understood;
anything not understood asks (except at `permissive`, which keeps the rules-only behaviour).
Where tree-sitter and bash could read the text differently, bash itself is asked how it reads
it (pipeline/shell/oracle.py); a difference is judged as an attempt to hide a command. No I/O
beyond that: targets are resolved from the text, cwd and home alone.
"""

from __future__ import annotations

from pipeline.safety.faithful import Faithfulness, faithfulness
from pipeline.safety.judge import Judge
from pipeline.safety.rules import RuleSet
from pipeline.terminal import hidden_characters
from pipeline.values import Action, Category, Risk, SafetyLevel, SafetyVerdict, Shell, action_for

MAX_DEPTH = 8  # eval / sh -c / find -exec nesting judged; deeper is judged as the worst case
_ORDER = {Action.ALLOWED: 0, Action.CONFIRM: 1, Action.BLOCKED: 2}
_ASKS = frozenset({Category.UNKNOWN, Category.UNPARSABLE})


def assess(
    command: str,
    *,
    shell: Shell,
    level: SafetyLevel,
    rules: RuleSet,
    cwd: str | None = None,
    home: str | None = None,
    oracle: bool = True,
) -> SafetyVerdict:
    """Judge one command line for the given shell at the given safety level.

    Every POSIX-family shell in `Shell` is read with the bash grammar, which is a superset of
    what caro generates for them; `shell` is accepted so callers state it and so a future
    grammar can be chosen per shell. `oracle=False` never asks bash (for measuring).
    """
    judge = Judge(rules=rules, cwd=cwd, home=home, max_depth=MAX_DEPTH)
    hidden = bool(hidden_characters(command))
    if hidden:
        judge.shape("hidden_characters")
    judge.script(command, depth=0)
    if judge.worst() < Risk.CRITICAL:
        _cross_check(judge, command, oracle)
    findings = judge.result()
    risk = max((f.risk for f in findings), default=Risk.SAFE)
    action = action_for(risk, level)
    asks = hidden or (level is not SafetyLevel.PERMISSIVE and any(f.category in _ASKS for f in findings))
    if asks and _ORDER[action] < _ORDER[Action.CONFIRM]:
        action = Action.CONFIRM
    return SafetyVerdict(risk=risk, action=action, findings=findings, parsed=judge.parsed)


def _cross_check(judge: Judge, command: str, oracle: bool) -> None:
    """Ask bash how it reads the text when tree-sitter may read it differently."""
    for text, depth in judge.texts:
        check = faithfulness(text, judge.scripts[text], ask_bash=oracle)
        if check.verdict is Faithfulness.SAME:
            continue
        if check.verdict is Faithfulness.DIFFERS:
            judge.shape("differential")
            judge.script(check.canonical, depth=depth + 1, cross_checked=True)
        elif check.verdict is Faithfulness.REJECTED:
            judge.parsed = judge.parsed and depth > 0
            judge.shape("unparsable")
        elif check.verdict is Faithfulness.UNCHECKED:
            judge.shape("unchecked")
        if judge.worst() >= Risk.CRITICAL:
            break
