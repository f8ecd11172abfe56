"""Follow-up requests ("now only the top 5"): when one stands on its own, and the task it adds to.

A follow-up revises the command on screen (caro's interactive prompt, `revise`). Most of them
only make sense against it: "now only the top 5", "sort them by size", "in logs instead". The
static table reads a request alone and ignores filler words ("now", "only", "them" are filler
to it), so it would answer "only python files" with a fresh `find` that forgets everything the
previous command did. So a follow-up goes to the table only when it stands on its own: when no
word of it points back at the previous request or command. Everything else goes to the model,
with the previous request and command in its prompt. A follow-up is never passed through as a
typed command either: "head -n 5" or "grep error" typed there mean "add this", not "replace
everything with this" (the prompt's `edit` is for replacing the command).

Policy, like the matcher's fillers (`pipeline/static/vocab.py`): code, not user data.
"""

from __future__ import annotations

import re

from pipeline.values import FollowUp

# Words that tie a follow-up to what came before: pronouns and determiners that need an
# antecedent, and the adverbs and conjunctions of a change ("also", "instead", "only", "but").
BACK_REFERENCES: frozenset[str] = frozenset(
    """
    it its itself them they their theirs those these that this such same ones one
    now also too again instead rather else otherwise
    more less fewer only just but and plus except without
    previous above before earlier result results output
    """.split()
)
_WORD = re.compile(r"[a-z']+")


def refers_back(text: str) -> bool:
    """Whether a follow-up has a word that points back at the previous request or command."""
    return any(word.strip("'") in BACK_REFERENCES for word in _WORD.findall(text.lower()))


def task_words(request_text: str, follow_up: FollowUp | None) -> str:
    """The user's words for the whole task: the earlier requests, then this one (just this one when it is not a follow-up)."""
    if follow_up is None:
        return request_text
    return f"{follow_up.request}\n{request_text}"
