"""Requests caro refuses before a model sees them (configs/refusals.toml).

A request whose every faithful answer the safety validator blocks ("format the hard drive",
"fork bomb the system") gains nothing from the model: its answer is either blocked anyway or,
as measured on the peer's eval_harness suite, unrelated and harmless-looking (`df -h`), which
misleads. So the parse stage checks the request's words against a small table of refusals and
the request ends at once with the reason. The validator stays the last line: a request that
words the same thing differently still reaches the model, and its answer is judged as always.

Matching is on whole words, in order for phrases; every group of `all` must find a phrase and
no phrase of `none` may be there. The table is policy, like the matcher's destructive words
(`pipeline/static/vocab.py`): built in, not extended by user files.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.values import Refusal

REFUSALS_PATH = Path(__file__).resolve().parents[1] / "configs" / "refusals.toml"
# Words are letters, digits and the characters that hold a path or a number together.
_SEPARATORS = re.compile(r"[^a-z0-9/._'+\-]+")
_EDGES = ".,;:!?'\"-"

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class RefusalRule:
    """One entry of the table: when it applies, and what the user is told."""

    id: str
    category: str
    why: str
    all: tuple[tuple[Phrase, ...], ...]
    none: tuple[Phrase, ...]
    example: str


def words(text: str) -> tuple[str, ...]:
    """The request's words in lower case, punctuation at their edges dropped (`drive.` is `drive`)."""
    found = (w.strip(_EDGES) for w in _SEPARATORS.split(text.lower()))
    return tuple(w for w in found if w)


def _phrases(raw: object, where: str) -> tuple[Phrase, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(p, str) and p.strip() for p in raw):
        raise ValueError(f"{where}: a non-empty list of phrases is needed")
    return tuple(words(p) for p in raw)


def load(path: Path = REFUSALS_PATH) -> tuple[RefusalRule, ...]:
    """The table's entries; ValueError names the entry that is malformed (the file is caro's own)."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle).get("refusal", [])
    rules = []
    for number, entry in enumerate(raw, start=1):
        where = f"{path.name}: refusal {entry.get('id', number)}"
        for key in ("id", "category", "why", "example"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ValueError(f"{where}: `{key}` must be a non-empty string")
        groups = entry.get("all")
        if not isinstance(groups, list) or not groups:
            raise ValueError(f"{where}: `all` must list at least one group")
        rules.append(
            RefusalRule(
                id=entry["id"],
                category=entry["category"],
                why=entry["why"],
                all=tuple(_phrases(group, where) for group in groups),
                none=_phrases(entry["none"], where) if "none" in entry else (),
                example=entry["example"],
            )
        )
    return tuple(rules)


@lru_cache(maxsize=1)
def default_rules() -> tuple[RefusalRule, ...]:
    """The built-in table, read once per process."""
    return load()


def _has(request: tuple[str, ...], phrase: Phrase) -> bool:
    size = len(phrase)
    return any(request[i : i + size] == phrase for i in range(len(request) - size + 1))


def refusal_for(text: str, rules: tuple[RefusalRule, ...] | None = None) -> Refusal | None:
    """The refusal that applies to a request's text, or None (the usual case)."""
    request = words(text)
    if not request:
        return None
    for rule in default_rules() if rules is None else rules:
        if all(any(_has(request, p) for p in group) for group in rule.all) and not any(_has(request, p) for p in rule.none):
            return Refusal(rule=rule.id, category=rule.category, why=rule.why)
    return None
