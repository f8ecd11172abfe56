"""The example corpus: worked (request, command) pairs shown to the model, with the names to use.

Two sources, one shape (`Example`): the written examples in configs/static/examples/*.toml, for
tasks beyond the static table (CSV fields, pipelines, time in hours, archives, ...), and the
table's own intents, phrased as requests the table understands (`pipeline/static/phrasings.py`).
Requests and commands are templates holding `{{kind}}` names (schema: configs/static/examples/
README.md). An example is rendered for one request (`render`): a name of a kind the request
gives (`data/sales.csv` for `{{csv}}`) fills that kind; any other takes a value of the kind's
realistic pool, chosen by a hash of the example so that one prompt's examples differ. Every
name in a command is in the request it answers, so an example teaches carrying the request's
names over, and never offers a sample path to copy (`/var/log/nginx/access.log` for
`logs/access.log`, as a 0.5B model did).
"""

from __future__ import annotations

import functools
import re
import shlex
import tomllib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.paths import REPO_CONFIGS
from pipeline.values import Userland

EXAMPLES_DIR = REPO_CONFIGS / "static" / "examples"
# `{{kind}}`, `{{kind2}}` (a second name of the kind), `{{kind:raw}}` (unquoted, inside quotes the template writes).
NAME = re.compile(r"\{\{([a-z]+?)(\d?)(?::(raw))?\}\}")
_KEYS = frozenset({"request", "command", "userland"})


@dataclass(frozen=True)
class SlotKind:
    """A kind of name: the extensions that make a path one (file kinds), or a folder, and its pool."""

    name: str
    values: tuple[str, ...]
    ext: tuple[str, ...] = ()
    any_file: bool = False
    folder: bool = False
    url: bool = False

    def takes(self, path: str) -> bool:
        """Whether a path the request names is a name of this kind."""
        if self.folder:
            return path.endswith("/")
        if self.url:
            return "://" in path
        lowered = path.lower()
        if self.any_file:
            return "://" not in path and "." in lowered.rsplit("/", 1)[-1].strip(".")
        return lowered.endswith(self.ext)


@dataclass(frozen=True)
class Example:
    """One worked example: request and command templates, and where it comes from."""

    request: str
    command: str | None  # None: the table renders it (`intent`)
    source: str  # "written:<file>", "table:<intent id>", "fixed"
    intent: str | None = None
    userland: Userland | None = None  # only for this userland
    words: frozenset[str] = field(default=frozenset(), compare=False)  # extra retrieval words (an intent's vocabulary)

    def kinds(self) -> tuple[str, ...]:
        """The kinds of name the request template holds, in order, each once (`csv`, `csv2`)."""
        return tuple(dict.fromkeys(m.group(1) + m.group(2) for m in NAME.finditer(self.request)))


def _fail(path: Path, why: str) -> ValueError:
    return ValueError(f"{path.name}: {why}")


@functools.cache
def slot_kinds(path: Path = EXAMPLES_DIR / "slots.toml") -> Mapping[str, SlotKind]:
    """The kinds of name, from slots.toml (read once per process)."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    kinds = {}
    for name, spec in raw.get("kind", {}).items():
        values = tuple(spec.get("values", ()))
        if not values:
            raise _fail(path, f"kind {name} has no values")
        kinds[name] = SlotKind(
            name,
            values,
            tuple(spec.get("ext", ())),
            any_file=bool(spec.get("any", False)),
            folder=bool(spec.get("folder", False)),
            url=bool(spec.get("url", False)),
        )
    return kinds


def load_examples(path: Path, kinds: Mapping[str, SlotKind] | None = None) -> list[Example]:
    """The written examples of one file; ValueError names the file and the problem."""
    kinds = slot_kinds() if kinds is None else kinds
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    examples = []
    for number, entry in enumerate(raw.get("example", []), start=1):
        if not isinstance(entry, dict) or set(entry) - _KEYS or not isinstance(entry.get("command"), str):
            raise _fail(path, f"example {number} needs request and command (and at most userland)")
        requests = entry["request"] if isinstance(entry["request"], list) else [entry["request"]]
        command = entry["command"]
        for request in requests:
            asked = {m.group(1) + m.group(2) for m in NAME.finditer(request)}
            used = {m.group(1) + m.group(2) for m in NAME.finditer(command)}
            unknown = {m.group(1) for m in NAME.finditer(request + command)} - set(kinds)
            if unknown:
                raise _fail(path, f"example {number} names unknown kinds: {', '.join(sorted(unknown))}")
            if not used <= asked:
                # The point of the corpus: a command uses only names its request gives.
                raise _fail(path, f"example {number}: the command names {', '.join(sorted(used - asked))}, which {request!r} does not")
            userland = Userland(entry["userland"]) if "userland" in entry else None
            examples.append(Example(request, command, f"written:{path.stem}", userland=userland))
    return examples


def written_examples(folder: Path = EXAMPLES_DIR) -> list[Example]:
    """Every written example: the domain files of the folder, in name order (not slots.toml or fixed.toml)."""
    return [e for path in sorted(folder.glob("*.toml")) if path.stem not in {"slots", "fixed"} for e in load_examples(path)]


@functools.cache
def fixed_examples(path: Path = EXAMPLES_DIR / "fixed.toml") -> tuple[tuple[str, str], ...]:
    """The few-shot block every prompt shares: literal (request, command) pairs, in file order (read once per process)."""
    with path.open("rb") as handle:
        raw = tomllib.load(handle)
    return tuple((entry["request"], entry["command"]) for entry in raw.get("example", []))


# -- rendering -------------------------------------------------------------------------


def _pick(kind: SlotKind, example: Example, taken: set[str]) -> str:
    """A pool value of the kind for this example (stable: a hash of its request), unlike those already used."""
    start = zlib.crc32(example.request.encode())
    for step in range(len(kind.values)):
        value = kind.values[(start + step) % len(kind.values)]
        if value not in taken:
            return value
    return kind.values[start % len(kind.values)]


def fill(
    example: Example, named: Sequence[str], kinds: Mapping[str, SlotKind] | None = None, request: str = ""
) -> dict[str, str]:
    """The value of each of the example's names: the request's own of its kind, else a pool value.

    Files, folders and URLs come from the paths the request names (`named`). With `request`,
    other names come from it too where the example's words show where they stand: the word
    after the one before the name (`install {{pkg}}` and "install htop": htop), or before the
    one after it; a quoted text and a number, in order. A pool value that a small model would
    copy into its answer (`curl` for "install htop") is the last resort.
    """
    kinds = slot_kinds() if kinds is None else kinds
    values: dict[str, str] = {}
    taken: set[str] = set()
    said = _Said(request) if request else None
    for key in example.kinds():
        kind = kinds[key.rstrip("0123456789")]
        mine = [path for path in named if kind.takes(path) and path not in taken]
        if mine:
            value = mine[0].rstrip("/")
        else:
            value = (said.value(example.request, key, kind, taken) if said else None) or _pick(kind, example, taken)
        values[key] = value
        taken.add(value)
    return values


_TOKEN = re.compile(r"'[^']+'|\"[^\"]+\"|[^\s,;:!?()]+")
_NAME_TOKEN = re.compile(r"^[\w.@+/-]+$")
_SKIPPED = frozenset({"the", "a", "an", "my", "this", "that", "called", "named", "package", "container", "service", "user"})


class _Said:
    """The words of a request, for finding the names an example's template puts in the same place."""

    def __init__(self, request: str) -> None:
        self.tokens = _TOKEN.findall(request)
        self.words = [t.lower().rstrip(".") for t in self.tokens]
        self.quoted = [t[1:-1] for t in self.tokens if t[:1] in "'\"" and len(t) > 2]
        self.numbers = [t for t in self.tokens if t.isdigit()]

    def value(self, template: str, key: str, kind: SlotKind, taken: set[str]) -> str | None:
        if kind.name == "text":
            return next((q for q in self.quoted if q not in taken and "'" not in q), None)
        if kind.name == "n":
            return next((n for n in self.numbers if n not in taken), None)
        if kind.ext or kind.folder or kind.url or kind.any_file:
            return None  # names of files, folders and URLs come only from the request's paths
        before, _, after = template.partition("{{%s}}" % key)
        left = [w.lower() for w in _TOKEN.findall(NAME.sub(" ", before))]
        right = [w.lower() for w in _TOKEN.findall(NAME.sub(" ", after))]
        literal = set(left) | set(right)
        if left and left[-1] in self.words:
            index = self.words.index(left[-1]) + 1
            while index < len(self.words) and self.words[index] in _SKIPPED:
                index += 1
            if index < len(self.tokens) and self._usable(self.tokens[index], literal, taken):
                return self.tokens[index]
        if right and right[0] in self.words:
            index = self.words.index(right[0]) - 1
            if index >= 0 and self._usable(self.tokens[index], literal, taken):
                return self.tokens[index]
        return None

    @staticmethod
    def _usable(token: str, literal: set[str], taken: set[str]) -> bool:
        from pipeline.static.vocab import STOPWORDS

        lowered = token.lower()
        return bool(_NAME_TOKEN.match(token)) and lowered not in literal and lowered not in STOPWORDS and token not in taken


_SLOT_VALUE = re.compile(r"^<[a-z][a-z0-9]*>$")


def _substitute(template: str, values: Mapping[str, str], *, shell: bool) -> str:
    def one(match: re.Match[str]) -> str:
        value = values[match.group(1) + match.group(2)]
        if _SLOT_VALUE.match(value):
            return value  # a slot (`<file>`, pipeline/slots.py) is written as it is, never quoted
        if match.group(3) == "raw" or not shell:
            return f"'{value}'" if not shell and (" " in value or match.group(1) == "text") else value
        return shlex.quote(value)

    return NAME.sub(one, template)


def render_written(example: Example, values: Mapping[str, str]) -> tuple[str, str]:
    """A written example as (request, command) with these names."""
    assert example.command is not None
    return _substitute(example.request, values, shell=False), _substitute(example.command, values, shell=True)


def render_request(example: Example, values: Mapping[str, str]) -> str:
    """The example's request with these names (as a user would type them)."""
    return _substitute(example.request, values, shell=False)
