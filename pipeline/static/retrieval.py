"""Retrieving the examples nearest a request from the corpus, rendered with the request's names.

Scoring is BM25 over words (each example's request, the utilities its command runs, and for a
table intent its vocabulary), with plurals folded and a path standing for its kind (`data/x.csv`
for `csv`) and the words of its name. It is cheap (a dictionary walk over the request's words)
and needs no model; the corpus is built once per table and platform.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from pipeline.static.examples import NAME, Example, SlotKind, fill, render_written, slot_kinds, written_examples
from pipeline.static.phrasings import render_table_example, table_examples
from pipeline.static.table import StaticTable
from pipeline.static.tokens import TokenKind, tokenize
from pipeline.static.vocab import FILLERS
from pipeline.values import Platform

_WORD = re.compile(r"[a-z0-9][a-z0-9+_-]*")
_K1, _B = 1.2, 0.75
MAX_PER_INTENT = 1  # two phrasings of one intent teach nothing the first did not


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _plain_words(text: str) -> list[str]:
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in FILLERS]


def _path_words(path: str, kinds: Sequence[SlotKind]) -> list[str]:
    """A named path's words: the kinds it is (csv, log, dir) and the words of its last name."""
    words = [k.name for k in kinds if not k.any_file and k.takes(path)]
    base = path.rstrip("/").rsplit("/", 1)[-1]
    words.extend(_stem(w) for w in re.split(r"[^a-z0-9]+", base.lower()) if w and not w.isdigit())
    return words


def request_words(request: str, kinds: Sequence[SlotKind]) -> list[str]:
    """The words a request is retrieved by (paths stand for their kinds and names)."""
    words: list[str] = []
    for token in tokenize(request):
        if token.kind is TokenKind.PATH:
            words.extend(_path_words(token.text, kinds))
        elif token.kind is TokenKind.QUOTED:
            words.append("text")
        else:
            words.extend(_plain_words(token.text))
    return words


def _utilities(command: str) -> list[str]:
    """The first word of each stage of a command template (`grep`, `sort`, ...)."""
    stages = re.split(r"\|\||&&|[|;]", NAME.sub(" ", command))
    return [stage.split()[0] for stage in stages if stage.split() and stage.split()[0][0].isalpha()]


def _example_words(example: Example) -> set[str]:
    words = set(_plain_words(NAME.sub(lambda m: f" {m.group(1)} ", example.request)))
    if example.command is not None:
        words.update(_utilities(example.command))
    words.update(_stem(w) for w in example.words)
    return words


_VERSION = re.compile(r"^v?\d+(?:\.\d+)+$")  # v1.0, 3.12: a version, not a file


def named_paths(request: str, folders: Sequence[str] = ()) -> tuple[str, ...]:
    """The files and folders a request names: its paths, and words that are folders here (as `name/`)."""
    here = set(folders)
    named: list[str] = []
    for token in tokenize(request):
        text = token.text.removeprefix("./")
        extension_only = text.startswith(".") and "/" not in text and text.count(".") == 1  # ".pyc"
        if token.kind is TokenKind.PATH and "*" not in text and not extension_only and not _VERSION.match(text):
            named.append(text if text.rstrip("/") not in here else text.rstrip("/") + "/")
    for word in request.split():  # whole words only: "www-data" does not name the folder data
        bare = word.strip(".,;:!?\"'()")
        if bare in here:
            named.append(bare + "/")
    return tuple(dict.fromkeys(named))


class ExampleIndex:
    """The corpus (written examples and the table's phrasings for a platform), searchable by BM25."""

    def __init__(self, table: StaticTable, platform: Platform, examples: Sequence[Example] | None = None) -> None:
        self.table = table
        self.platform = platform
        corpus = written_examples() + table_examples(table, platform) if examples is None else list(examples)
        self.examples = [e for e in corpus if e.userland is None or e.userland is platform.userland]
        self.kinds = tuple(slot_kinds().values())
        self.postings: dict[str, list[int]] = defaultdict(list)
        self.lengths: list[int] = []
        for number, example in enumerate(self.examples):
            words = _example_words(example)
            self.lengths.append(len(words))
            for word in words:
                self.postings[word].append(number)
        total = max(1, len(self.examples))
        self.average = sum(self.lengths) / total if self.lengths else 1.0
        self.idf = {w: math.log(1 + (total - len(p) + 0.5) / (len(p) + 0.5)) for w, p in self.postings.items()}

    def scores(self, request: str) -> Counter[int]:
        """BM25 score of every example sharing a word with the request."""
        scores: Counter[int] = Counter()
        for word in set(request_words(request, self.kinds)):
            for number in self.postings.get(word, ()):
                norm = 1 - _B + _B * self.lengths[number] / self.average
                scores[number] += self.idf[word] * (_K1 + 1) / (1 + _K1 * norm)
        return scores

    def nearest(
        self, request: str, k: int, named: Sequence[str] = (), *, said: bool = True, slots: bool = False
    ) -> tuple[tuple[str, str], ...]:
        """The `k` best examples for the request, best first, rendered with its names (`said`: also
        the names its words put where an example has one), no two alike. With `slots`, a request
        that names no file or folder gets written examples whose files are slots (`chmod 444 <file>`),
        not sample names it would copy (`notes/plan.txt`, seen on eval_harness)."""
        chosen: list[tuple[str, str]] = []
        intents: Counter[str] = Counter()
        for number, _score in sorted(self.scores(request).items(), key=lambda item: (-item[1], item[0])):
            if len(chosen) == k:
                break
            example = self.examples[number]
            if example.intent is not None and intents[example.intent] >= MAX_PER_INTENT:
                continue
            rendered = self.render(example, named, request if said else "", slots=slots and not named)
            if rendered is None or any(rendered[1] == command for _, command in chosen):
                continue
            chosen.append(rendered)
            if example.intent is not None:
                intents[example.intent] += 1
        return tuple(chosen)

    def render(self, example: Example, named: Sequence[str], request: str = "", *, slots: bool = False) -> tuple[str, str] | None:
        """One example as (request, command), with the request's names where it has names of the
        example's kinds; with `slots`, a written example's files as slots (`<file>`, `<file2>`)."""
        if example.command is None:
            return render_table_example(example, named, self.table, self.platform, request)
        values = fill(example, named, request=request)
        if slots:
            kinds = slot_kinds()
            files = [key for key in values if (kind := kinds[key.rstrip("0123456789")]).ext or kind.any_file]
            values = {**values, **{key: "<file>" if i == 0 else f"<file{i + 1}>" for i, key in enumerate(files)}}
        return render_written(example, values)


_INDEXES: dict[tuple[int, Platform], ExampleIndex] = {}


def corpus_index(table: StaticTable, platform: Platform) -> ExampleIndex:
    """The example corpus's index for a table and platform, built once per process."""
    key = (id(table), platform)
    if key not in _INDEXES:
        _INDEXES[key] = ExampleIndex(table, platform)
    return _INDEXES[key]
