"""The context a small model needs to get a command right, and the prompts built from it.

A 0.5B model alone picks the wrong utility, drops constraint flags and invents placeholder
paths. The prompt gives it what it cannot know: the platform and shell, which utilities are
installed, the man-page one-liners (`whatis`) of the utilities likely to matter, and worked
examples retrieved from the static table by word overlap with the request.
"""

from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from pipeline.backends.answers import AnswerFormat, UnreadableAnswer, answer_instruction, as_answer, read_answer
from pipeline.backends.base import Prompt
from pipeline.generation_plan import BASELINE_PLAN, ExampleForm, GenerationPlan
from pipeline.headers import TableHeader, header_lines
from pipeline.lint import Finding, is_installed
from pipeline.passthrough import vocabulary
from pipeline.slots import slots as slots_in
from pipeline.static.examples import fixed_examples
from pipeline.static.table import StaticTable
from pipeline.static.vocab import FILLERS
from pipeline.values import FollowUp, Platform
from pipeline.workdir import FolderListing, render_listing

_WORD = re.compile(r"[a-z0-9][a-z0-9+._-]*")
_WHATIS_LINE = re.compile(r"^(\S+) \(\d\w*\)\s+- (.+)$")


@functools.cache
def installed_utilities() -> tuple[str, ...]:
    """The common utilities (configs/utilities.toml) installed on this machine, detected once."""
    return tuple(sorted(name for name in vocabulary().commands if is_installed(name)))


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in FILLERS]


class ExampleIndex:
    """Static-table intents rendered as (request, command) examples, searchable by word overlap."""

    def __init__(self, table: StaticTable, platform: Platform) -> None:
        self.entries: list[tuple[str, str, frozenset[str]]] = []
        for intent in table.intents:
            command = table.example(intent, platform)
            if command is None:
                continue
            vocab = set(_words(intent.summary))
            for group in intent.require:
                for alternative in group:
                    vocab.update(w for w in alternative if not w.startswith("{"))
            vocab.update(intent.words)
            vocab.update(spec.type.value for spec in intent.slots)  # "text", "port", "file", ...
            self.entries.append((intent.summary, command, frozenset(vocab) - FILLERS))
        counts = Counter(word for _, _, vocab in self.entries for word in vocab)
        total = max(1, len(self.entries))
        self.weight = {word: math.log(1 + total / n) for word, n in counts.items()}

    def nearest(self, request: str, k: int) -> tuple[tuple[str, str], ...]:
        """The `k` examples sharing the most (rarity-weighted) words with the request."""
        words = set(_words(request))
        scored = []
        for summary, command, vocab in self.entries:
            overlap = sum(self.weight.get(w, 0.0) for w in words & vocab)
            if overlap > 0:
                # An example whose summary says more than the request (a "blank" line count for a
                # line count) would teach the wrong command: its extra words count against it.
                extra = sum(self.weight.get(w, 0.0) for w in set(_words(summary)) - words)
                if overlap - 0.25 * extra > 0:
                    scored.append((overlap - 0.25 * extra, summary, command))
        scored.sort(key=lambda item: -item[0])
        return tuple((summary, command) for _, summary, command in scored[:k])


_INDEXES: dict[tuple[int, Platform], ExampleIndex] = {}


def example_index(table: StaticTable, platform: Platform) -> ExampleIndex:
    """The example index for a table and platform, built once per process."""
    key = (id(table), platform)
    if key not in _INDEXES:
        _INDEXES[key] = ExampleIndex(table, platform)
    return _INDEXES[key]


@functools.cache
def _whatis(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    binary = shutil.which("whatis")
    if binary is None or not names:
        return ()
    try:
        done = subprocess.run([binary, "-l", *names], capture_output=True, text=True, timeout=2)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    found: dict[str, str] = {}
    for line in done.stdout.splitlines():
        if (m := _WHATIS_LINE.match(line.strip())) and m.group(1) in names:
            found.setdefault(m.group(1), m.group(2).strip())
    return tuple(found.items())


def utility_summaries(request: str, examples: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Man-page one-liners for the utilities the examples use and the request names."""
    candidates: list[str] = []
    for _, command in examples:
        first = command.split()[0] if command.split() else ""
        if first and first not in candidates:
            candidates.append(first)
    known = vocabulary().commands
    for word in _words(request):
        if word in known and word not in candidates:
            candidates.append(word)
    return _whatis(tuple(c for c in candidates[:8] if is_installed(c)))


def _platform_line(platform: Platform) -> str:
    return (
        f"Platform: {platform.os}, {platform.userland.value.upper()} utilities, shell {platform.shell.value}; "
        "the command runs in the current directory."
    )


_NAMES_RULE = (
    "- Use . for the current directory. Never invent placeholder paths such as /path/to/dir;"
    " use file and directory names exactly as the request gives them.",
)
_NAMES_RULE_SLOTS = (
    "- Use . for the current directory, and file and folder names exactly as the request gives them.",
    "- Where the request needs a file, folder or value that it does not name, write a slot such as"
    " <file>, <dir> or <pattern> in its place; never make up a name such as file.txt or /path/to/dir.",
)


def _system_text(platform: Platform | None, installed: Sequence[str], answer_format: AnswerFormat, slots: bool = True) -> str:
    """The instructions every request shares (so a model keeps them evaluated); the platform too
    unless it goes with the request's own context (`platform` None)."""
    lines = [
        "You turn a request into one POSIX shell command.",
        *([_platform_line(platform)] if platform is not None else []),
        answer_instruction(answer_format),
        "Rules:",
        "- One command line; pipes and && are fine.",
        *(_NAMES_RULE_SLOTS if slots else _NAMES_RULE),
        "- Pick the utility that fits the request; use find only to search for files by name, type, size or time.",
        "- Keep every constraint the request states (file type, size, time, count, order).",
        "- With find -exec, end with {} + rather than \\;.",
        "- Quote patterns with * or ? in single quotes.",
        "- Do not add sudo unless the request asks for it.",
    ]
    if installed:
        lines.append(f"Installed utilities: {', '.join(installed)}.")
    return "\n".join(lines)


def _context_text(summaries: Sequence[tuple[str, str]], surroundings: str = "", headers: Sequence[TableHeader] = ()) -> str:
    """This request's notes: where it runs (platform, the folder's names), then the numbered
    columns of the CSV/TSV files it names, then the one-liners of the utilities likely to matter.
    Where it runs comes first: it is the same for the requests made in one folder, so the model
    reuses it from the last prompt; the columns depend on the request, so they come after it."""
    lines = [surroundings] if surroundings else []
    lines += [line for header in headers for line in header_lines(header)]
    if summaries:
        lines += ["Relevant utilities:", *(f"- {name}: {summary}" for name, summary in summaries)]
    return "\n".join(lines)


def surroundings_text(platform: Platform, listing: FolderListing | None) -> str:
    """Where the command runs: the platform, and the names in the working directory (when it may be told)."""
    if listing is None:
        return _platform_line(platform)
    if not listing:
        return _platform_line(platform) + "\nThe current directory is empty."
    return _platform_line(platform) + "\nFiles and folders in the current directory:\n" + render_listing(listing)


def _turn(command: str, answer_format: AnswerFormat = AnswerFormat.JSON) -> str:
    return as_answer(command, answer_format)


def build_prompt(
    request: str,
    platform: Platform,
    installed: Sequence[str],
    examples: Sequence[tuple[str, str]],
    summaries: Sequence[tuple[str, str]],
    *,
    plan: GenerationPlan = BASELINE_PLAN,
    listing: FolderListing | None = None,
    headers: Sequence[TableHeader] = (),
) -> Prompt:
    """The generation prompt: the shared rules and fixed examples first, then this request's notes, examples and text.

    With `plan.folder_names`, the platform moves from the shared rules to the request's notes,
    with the folder's names (`listing`; None when they may not be sent). `headers` (the first
    lines of the CSV/TSV files the request names) go into the notes as numbered columns.
    """
    fmt = plan.answer_format
    with_context = plan.folder_names
    return Prompt(
        system=_system_text(None if with_context else platform, installed if plan.installed_list else (), fmt, plan.slots),
        user=request,
        # Turns hold the answer in the plan's format; lines of the notes hold the command alone.
        examples=tuple((asked, _turn(command, fmt) if plan.example_form is ExampleForm.TURNS else command) for asked, command in examples),
        examples_in_notes=plan.example_form is ExampleForm.NOTES,
        fixed_examples=tuple(
            (asked, _turn(command, fmt)) for asked, command in fixed_examples() if plan.slots or not slots_in(command)
        ) if plan.fixed_examples else (),
        context=_context_text(summaries, surroundings_text(platform, listing) if with_context else "", headers),
        answer_format=fmt,
    )


_COMMON_OPERANDS = frozenset({".", "..", "/", "~", "-", "*", "{}", "+", ";"})


def borrowed_names(command: str, request: str, examples: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """Names the command took from an example's command rather than from the request.

    Small models copy an example's sample file or directory (`notes.txt`, `src`) into their
    answer; a name that an example uses and the request never mentions is almost surely one.
    """
    import shlex

    # A request that names nothing ("count lines in file") leaves the model no better name to
    # use; sending it back then only makes it mangle the example's (measured: file.txt -> .file.txt).
    if not re.search(r"[./~'\"]\S|\S\.[a-z0-9]", request, re.I):
        return ()
    try:
        words = shlex.split(command)
    except ValueError:
        return ()
    asked = request.lower()
    example_words: set[str] = set()
    for _, turn in examples:
        try:
            example_words.update(shlex.split(_command_of(turn)))
        except ValueError:  # UnreadableAnswer, or an unbalanced quote
            continue
    borrowed = []
    for word in words[1:]:
        if word.startswith("-") or word in _COMMON_OPERANDS or not re.search(r"[a-z]", word, re.I):
            continue
        if word in example_words and word.lower() not in asked and word not in borrowed and ("." in word or "/" in word or word.isalpha()):
            if word.isalpha() and is_installed(word):
                continue  # a utility name (xargs wc, sort) is vocabulary, not a borrowed name
            borrowed.append(word)
    return tuple(borrowed)


def _command_of(turn: str) -> str:
    """The command of an example's assistant turn, in whichever answer format it is written."""
    try:
        return read_answer(turn, None, AnswerFormat.JSON)
    except UnreadableAnswer:
        pass
    if "```" in turn:
        return read_answer(turn, None, AnswerFormat.CODE)
    return turn.strip()  # the command alone (an example written into the notes)


def repair_prompt(prompt: Prompt, command: str, findings: Sequence[Finding]) -> Prompt:
    """The prompt for one repair round: the first prompt, its answer, and the concrete problems found in it.

    The first prompt is kept whole, so the model reuses everything it evaluated for it.
    """
    problems = "\n".join(f"- {f.message}" for f in findings)
    how = "as JSON" if prompt.answer_format is AnswerFormat.JSON else "in a code block"
    follow_up = f"That command has problems:\n{problems}\nReply with a corrected command for the same request, {how}."
    return replace(prompt, follow_ups=(*prompt.follow_ups, (_turn(command, prompt.answer_format), follow_up)))


# -- Follow-ups: revising the previous command (the interactive prompt's `revise`) ------------
# Kept apart from the generation prompt above: only the per-request end of the prompt changes,
# so the shared prefix (rules, platform, installed utilities) stays evaluated in the model.


def follow_up_prompt(prompt: Prompt, follow_up: FollowUp) -> Prompt:
    """The prompt for a follow-up: the previous request and its command as the last exchange, then the change asked for.

    `prompt` is the generation prompt built for the follow-up's own words (its user turn).
    """
    how = "as JSON" if prompt.answer_format is AnswerFormat.JSON else "in a code block"
    change = (
        f"Change that command: {prompt.user}\n"
        f"Keep everything else it does. Reply with the whole new command {how}."
    )
    return replace(prompt, user=follow_up.request, follow_ups=((_turn(follow_up.command, prompt.answer_format), change),))
