"""How caro asks the model: what goes into the prompt, how the model answers, how one answer is chosen.

Each part was measured on the development set's model path, the same cases in one run
(`bench/bench_prompt.py`; figures and what did not help in docs/quality.md). `DEFAULT_PLAN` is
what measured best at an acceptable cost; `BASELINE_PLAN` is the prompt as it was before that
work, kept so that the bench can measure every change against it. The plan is a DAG input with
`DEFAULT_PLAN` as its default: the CLI and the service never pass one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pipeline.backends.answers import AnswerFormat


class ExampleSource(str, Enum):
    """Where the retrieved examples come from."""

    TABLE = "table"  # the static table's summaries, each with its slot defaults (before issue 13)
    CORPUS = "corpus"  # the example corpus, rendered with the request's names (pipeline/static/retrieval.py)


class ExampleForm(str, Enum):
    """How the retrieved examples are written into the prompt."""

    TURNS = "turns"  # a user turn and an assistant turn each, the answer in the plan's format
    NOTES = "notes"  # lines at the end of the request's notes, "- request: `command`": no turn markers or fences


@dataclass(frozen=True)
class GenerationPlan:
    """The choices that make a prompt and pick the model's answer."""

    fixed_examples: bool = True  # the few-shot block in the shared prefix (configs/static/examples/fixed.toml)
    folder_names: bool = True  # the platform and the working directory's names, in the request's part of the prompt
    csv_headers: bool = True  # the numbered columns of the CSV/TSV files the request names (pipeline/headers.py), with the names
    # Examples retrieved for the request, after the shared prefix: 2, and no utility one-liners,
    # keep the 1.5B model's per-request tokens within its time (measured on all 179 model-path
    # rows: 86/118 right by execution either way, p50 1.49 s against 1.74 s; docs/quality.md).
    retrieved: int = 2
    example_source: ExampleSource = ExampleSource.CORPUS
    names_from_words: bool = True  # examples take their other names (a package, a user) from the request's words too
    nearest_last: bool = True  # the nearest example right before the request (a small model follows the last one most)
    # As turns: lines of the notes are 11 tokens fewer per request (64 against 75) and 0.125 s
    # faster (paired median over 40 model-path requests), but less right: 78/118 by execution
    # against 86/118 on all 179 rows (docs/quality.md, part 6; part 5's 87 measured another plan).
    example_form: ExampleForm = ExampleForm.TURNS
    # A free answer, its first code block: as right as JSON-constrained output on the model path
    # (55% vs 55% on all 179 rows) and 0.25 s faster at p50, as constrained decoding costs grammar
    # work per token (docs/quality.md).
    answer_format: AnswerFormat = AnswerFormat.CODE
    installed_list: bool = True  # every common utility installed here, in the shared rules
    utility_notes: bool = False  # `whatis` one-liners of the utilities the examples use and the request names
    # Slots for what the request does not name (`cat <file>`, pipeline/slots.py): a rule and two
    # fixed examples that teach writing them instead of a made-up name (docs/quality.md, part 4).
    slots: bool = True
    samples: int = 1  # 1: the greedy answer; more: that and samples - 1 sampled ones, chosen by agreement, then lint
    temperature: float = 0.7  # of the sampled answers


DEFAULT_PLAN = GenerationPlan()
BASELINE_PLAN = GenerationPlan(
    utility_notes=True,
    fixed_examples=False,
    folder_names=False,
    csv_headers=False,
    retrieved=4,
    example_source=ExampleSource.TABLE,
    names_from_words=False,
    nearest_last=False,
    example_form=ExampleForm.TURNS,
    answer_format=AnswerFormat.JSON,
    slots=False,
)
