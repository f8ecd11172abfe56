"""The static table: intents loaded once, then matched against many requests.

Matching is on words, never substrings. An intent matches when each of its required groups
finds a word, phrase or filled slot in the request and every other token is explained by the
intent's own words or by filler; a single unexplained word rejects the intent, so "find python
files and compress them" never reaches the find-files entry. Among intents that explain the
whole request, the one whose required words and slots cover the most tokens wins.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.static import vocab
from pipeline.static.schema import PLACEHOLDER, Intent, load_file
from pipeline.static.slots import CLAIM_ORDER, SlotHit, SlotSpec, SlotValue, default_value, find_hits
from pipeline.static.tokens import Token, TokenKind, tokenize
from pipeline.values import Platform, StaticMatch, Userland

# Requests longer than this are never answered from the table: the longest phrasing any
# intent explains is a fraction of it, and the bound makes matching cost constant beyond it.
MAX_REQUEST_CHARS = 400
MAX_TOKENS = 40
CONFIDENCE_THRESHOLD = 0.5
# Optional slots left empty leave runs of spaces; templates never need two spaces in a row.
_SPACES = re.compile(" {2,}")

# Weight of a token in the confidence: named by the intent (required word or slot), in the
# intent's optional vocabulary, or generic filler.
_W_SPECIFIC, _W_OPTIONAL, _W_FILLER = 1.0, 0.75, 0.4


def default_table_paths() -> list[Path]:
    """The built-in table files, configs/static/*.toml, in name order."""
    folder = Path(__file__).resolve().parents[2] / "configs" / "static"
    return sorted(folder.glob("*.toml"))


@dataclass(frozen=True)
class _Fit:
    """How one intent explains one request."""

    intent: Intent
    slots: dict[str, SlotValue]
    specific: int
    confidence: float

    @property
    def key(self) -> tuple[int, int, int, float]:
        return (self.specific, len(self.intent.require), len(self.slots), self.confidence)


def _refused(tokens: tuple[Token, ...]) -> bool:
    for tok in tokens:
        words = tok.norm.split() if tok.kind is TokenKind.QUOTED else [tok.norm]
        if any(w.strip("-'\".,;:!?") in vocab.REFUSE for w in words):
            return True
    return False


def _extensions(tokens: tuple[Token, ...]) -> set[str]:
    """The extensions of the file names in a request (`a.tar.gz` gives tar and gz)."""
    found: set[str] = set()
    for tok in tokens:
        if tok.kind is TokenKind.PATH and "://" not in tok.norm:
            found.update(part for part in tok.norm.rsplit("/", 1)[-1].split(".")[1:] if part.isalnum())
    return found


def _find_phrase(
    tokens: tuple[Token, ...], used: list[bool], phrase: tuple[str, ...], positions: dict[str, list[int]]
) -> int:
    size = len(phrase)
    for i in positions.get(phrase[0], ()):
        if i + size <= len(tokens) and not any(used[i : i + size]) and all(
            tokens[i + k].norm == phrase[k] for k in range(1, size)
        ):
            return i
    return -1


@dataclass(frozen=True)
class _Prepared:
    """An intent with what the per-request pre-checks need, computed once at load."""

    intent: Intent
    template: str
    # Per required group: the first words of its word alternatives, or None when a slot can satisfy it.
    groups: tuple[frozenset[str] | None, ...]
    # For intents without slots, every word they can explain: anything else rules them out.
    vocabulary: frozenset[str] | None


def _prepare(intent: Intent, userland: Userland) -> _Prepared | None:
    template = intent.command_for(userland)
    if template is None:
        return None
    groups = tuple(
        None if any(a[0].startswith("{") for a in group) else frozenset(a[0] for a in group)
        for group in intent.require
    )
    vocabulary = None
    if not intent.slots:
        words = {w for group in intent.require for alt in group for w in alt}
        words |= intent.words | {w for phrase in intent.phrases for w in phrase}
        vocabulary = frozenset(words) | vocab.FILLERS
    return _Prepared(intent, template, groups, vocabulary)


class StaticTable:
    """Intents in specificity order (most required groups first), ready to match."""

    def __init__(self, intents: Sequence[Intent]) -> None:
        self.intents: tuple[Intent, ...] = tuple(sorted(intents, key=lambda x: (-len(x.require), x.id)))
        self._prepared: dict[Userland, tuple[_Prepared, ...]] = {
            userland: tuple(p for i in self.intents if (p := _prepare(i, userland)) is not None)
            for userland in Userland
        }

    @classmethod
    def load(cls, paths: Sequence[Path]) -> StaticTable:
        """Intents from the files in order; a later entry with the same id replaces an earlier one."""
        by_id: dict[str, Intent] = {}
        for path in paths:
            for intent in load_file(Path(path)):
                by_id[intent.id] = intent
        return cls(list(by_id.values()))

    @classmethod
    def default(cls) -> StaticTable:
        """The built-in table."""
        return cls.load(default_table_paths())

    def example(self, intent: Intent, platform: Platform) -> str | None:
        """The intent's command with its slot defaults, for use as a worked example; None when a
        slot the intent requires has no default, or the intent does not apply to the platform.

        Filling such slots with typical values was tried and measured: the 0.5B model copied
        them ("nginx", "TODO") into answers about other things, and the pass rate fell.
        """
        if intent.os and platform.os not in intent.os:
            return None
        template = intent.command_for(platform.userland)
        if template is None:
            return None
        required = {alt[0][1:-1] for group in intent.require if len(group) == 1 for alt in group if alt[0].startswith("{")}
        filled: dict[str, SlotValue] = {}
        for spec in intent.slots:
            value = default_value(spec)
            if value is None and spec.name in required:
                return None
            if value is not None:
                filled[spec.name] = value
        return self._render(template, filled)

    def match(self, request: str, platform: Platform) -> StaticMatch | None:
        """The best intent's command for the request, or None when none is sure enough."""
        if len(request) > MAX_REQUEST_CHARS:
            return None
        tokens = tokenize(request)
        if not tokens or len(tokens) > MAX_TOKENS or _refused(tokens):
            return None
        positions: dict[str, list[int]] = {}
        for i, tok in enumerate(tokens):
            positions.setdefault(tok.norm, []).append(i)
        norms = positions.keys()
        # A forbidden word may also come as a file's extension: `forbid = ["zip"]` sees bundle.zip.
        visible = norms | _extensions(tokens)
        hits_cache: dict[SlotSpec, tuple[SlotHit, ...]] = {}
        best: _Fit | None = None
        best_template = ""
        for prepared in self._prepared[platform.userland]:
            intent = prepared.intent
            if intent.os and platform.os not in intent.os:
                continue
            if prepared.vocabulary is not None and not norms <= prepared.vocabulary:
                continue
            if intent.forbid & visible or not all(g is None or not g.isdisjoint(norms) for g in prepared.groups):
                continue
            fit = self._fit(intent, tokens, hits_cache, positions)
            if fit is not None and (best is None or fit.key > best.key):
                best, best_template = fit, prepared.template
        if best is None or best.confidence < CONFIDENCE_THRESHOLD:
            return None
        command = self._render(best_template, best.slots)
        return StaticMatch(
            intent_id=best.intent.id,
            command=command,
            confidence=round(best.confidence, 3),
            category=best.intent.domain.value,
            slots={name: value.shown for name, value in best.slots.items()},
        )

    @staticmethod
    def _fit(
        intent: Intent,
        tokens: tuple[Token, ...],
        cache: dict[SlotSpec, tuple[SlotHit, ...]],
        positions: dict[str, list[int]],
    ) -> _Fit | None:
        used = [False] * len(tokens)
        weights = [0.0] * len(tokens)
        filled: dict[str, SlotValue] = {}
        # A slot's leading trigger word ("column" in "column 3") may also be a word the intent
        # requires; each trigger can stand for one required word. A trailing one ("nginx
        # process") cannot: any word before it would then pass for a name.
        triggers: set[int] = set()
        # Slots with trigger words or explicit values claim their tokens before the words do.
        for spec in sorted(intent.slots, key=lambda s: (not s.after, CLAIM_ORDER[s.type])):
            if spec not in cache:
                cache[spec] = find_hits(spec, tokens)
            for hit in cache[spec]:
                if not any(used[hit.start : hit.end]):
                    for k in range(hit.start, hit.end):
                        used[k], weights[k] = True, _W_SPECIFIC
                    filled[spec.name] = hit.value
                    if hit.end - hit.start > 1 and tokens[hit.start].norm in spec.after:
                        triggers.add(hit.start)
                    break
        for group in intent.require:
            satisfied = False
            for alt in group:
                if alt[0].startswith("{"):
                    if alt[0][1:-1] in filled:
                        satisfied = True
                        break
                    continue
                at = _find_phrase(tokens, used, alt, positions)
                if at >= 0:
                    for k in range(at, at + len(alt)):
                        used[k], weights[k] = True, _W_SPECIFIC
                    satisfied = True
                    break
                trigger = next((k for k in positions.get(alt[0], ()) if k in triggers), None) if len(alt) == 1 else None
                if trigger is not None:
                    triggers.discard(trigger)
                    satisfied = True
                    break
            if not satisfied:
                return None
        specific = sum(used)
        for phrase in intent.phrases:
            while (at := _find_phrase(tokens, used, phrase, positions)) >= 0:
                for k in range(at, at + len(phrase)):
                    used[k], weights[k] = True, _W_OPTIONAL
        for i, tok in enumerate(tokens):
            if used[i]:
                continue
            if tok.norm in intent.words:
                weights[i] = _W_OPTIONAL
            elif tok.norm in vocab.FILLERS:
                weights[i] = _W_FILLER
            else:
                return None  # a word the intent does not explain may change what is meant
        for spec in intent.slots:
            if spec.name not in filled and (value := default_value(spec)) is not None:
                filled[spec.name] = value
        return _Fit(intent, filled, specific, sum(weights) / len(tokens))

    @staticmethod
    def _render(template: str, slots: dict[str, SlotValue]) -> str:
        def fill(m: re.Match[str]) -> str:
            name, form = m.group(1), m.group(2) or ""
            value = slots.get(name)
            return value.render(form) if value is not None else ""

        # Optional slots that were not filled leave double spaces behind; collapse them.
        return _SPACES.sub(" ", PLACEHOLDER.sub(fill, template)).strip()
