"""The whole pipeline as one callable: request and options in, `Result` out.

A `Caro` holds what is expensive to make (the Hamilton driver, the static table, the safety
rules, later the model) and nothing about any one request, so a resident process can serve
many requests from one instance.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline.backends.base import BackendChain, request_scope
from pipeline.errors import CaroError
from pipeline.values import FollowUp, Result, SafetyLevel, Shell, TextKind, Userland

if TYPE_CHECKING:
    from pipeline.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class RequestOptions:
    """Per-request choices; None means detect (shell, userland) or use the current one (directories)."""

    safety: SafetyLevel = SafetyLevel.MODERATE
    shell: Shell | None = None
    userland: Userland | None = None
    working_directory: str | None = None
    home_directory: str | None = None
    follow_up: FollowUp | None = None  # the request and command a follow-up revises (interactive `revise`)
    count: int = 1  # how many different commands to give, best first (`caro -n`; at most 3)


@dataclass(frozen=True)
class Handled:
    """A request's result, the telemetry drafts its stages declared, and each node's run time (ms)."""

    result: Result
    drafts: tuple[Any, ...]
    durations_ms: dict[str, float]


class Caro:
    """A loaded pipeline that turns requests into judged commands."""

    def __init__(
        self,
        *,
        backend: str = "llama_cpp",
        extra_static_tables: Sequence[str | Path] = (),
        extra_safety_rules: Sequence[str | Path] = (),
        llm_settings: Mapping[str, Any] | None = None,
        llm_chain: BackendChain | None = None,
        generation_timeout_s: float = 20.0,
    ) -> None:
        from pipeline.driver import build_driver
        from pipeline.safety.rules import RuleSet, default_rules_path
        from pipeline.static.table import StaticTable, default_table_paths

        self.static_table = _load(
            "static table", "extra_static_tables", StaticTable.load, [*default_table_paths(), *map(Path, extra_static_tables)]
        )
        self.safety_rules = _load(
            "safety rule", "extra_safety_rules", RuleSet.load, [default_rules_path(), *map(Path, extra_safety_rules)]
        )
        self.backend = backend
        # The backends are DAG nodes chosen by `backend` (@config.when); `llm_chain` replaces
        # them wholesale (tests, benches) through Hamilton's overrides.
        from pipeline.settings import default_values

        self.llm_settings = {**default_values(), **(llm_settings or {}), "backend": backend}
        self.llm_chain_override = llm_chain
        self.generation_timeout_s = generation_timeout_s
        from dataclasses import replace

        from pipeline.backends.answers import AnswerFormat
        from pipeline.generation_plan import DEFAULT_PLAN

        # The measured plan, in the answer format the settings ask for (`generation.answer_format`).
        self.generation_plan = replace(DEFAULT_PLAN, answer_format=AnswerFormat(self.llm_settings.get("generation.answer_format", "code")))
        from pipeline.telemetry.declare import TELEMETRY_TAG, StageTimer

        self.timer = StageTimer()
        self.driver = build_driver(backend, (self.timer,))
        # The nodes @emits injected: asked for with `result`, so their events are computed too.
        self.telemetry_nodes = tuple(
            v.name for v in self.driver.list_available_variables() if v.tags.get(TELEMETRY_TAG)
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Caro:
        """A pipeline configured from effective settings (backends are built, models load on first use)."""
        return cls(
            backend=settings["backend"],
            extra_static_tables=settings["extra_static_tables"],
            extra_safety_rules=settings["extra_safety_rules"],
            llm_settings=settings.values,
            generation_timeout_s=settings["generation.timeout_s"],
        )

    def handle(self, request: str, options: RequestOptions = RequestOptions()) -> Result:
        """The judged command for a plain-language request (or a typed command passed through)."""
        return self._run(request, TextKind.REQUEST, options)

    def check(self, command: str, options: RequestOptions = RequestOptions()) -> Result:
        """The judgement of a given command, with nothing generated."""
        return self._run(command, TextKind.COMMAND, options)

    def inputs(self, text: str, kind: TextKind, options: RequestOptions) -> dict[str, Any]:
        """The DAG's inputs for one request."""
        return {
            "raw_request": text,
            "text_kind": kind,
            "requested_shell": options.shell,
            "requested_userland": options.userland,
            "safety_level": options.safety,
            "working_directory": options.working_directory or os.getcwd(),
            "home_directory": options.home_directory or os.path.expanduser("~"),
            "follow_up": options.follow_up,
            "command_count": options.count,
            "static_table": self.static_table,
            "safety_rules": self.safety_rules,
            "llm_settings": self.llm_settings,
            "generation_timeout_s": self.generation_timeout_s,
            "generation_plan": self.generation_plan,
        }

    def _run(self, text: str, kind: TextKind, options: RequestOptions) -> Result:
        return self.run(text, kind, options).result

    def run(self, text: str, kind: TextKind = TextKind.REQUEST, options: RequestOptions = RequestOptions()) -> Handled:
        """The result of one request, with the telemetry drafts its stages declared and their timings."""
        overrides = {"llm_chain": self.llm_chain_override} if self.llm_chain_override is not None else None
        self.timer.start()
        with request_scope():  # the request's model calls (retries, the repair round) share one time budget
            outputs = self.driver.execute(
                ["result", *self.telemetry_nodes], inputs=self.inputs(text, kind, options), overrides=overrides
            )
        durations, _failed = self.timer.take()
        drafts = tuple(d for name in self.telemetry_nodes for d in outputs[name])
        return Handled(outputs["result"], drafts, durations)

    def chain(self) -> BackendChain:
        """The backend chain this pipeline asks when a request needs a model."""
        if self.llm_chain_override is not None:
            return self.llm_chain_override
        from pipeline.backends.chain import build_chain

        return build_chain(self.llm_settings)


def _load(what: str, key: str, loader: Callable[[list[Path]], T], paths: list[Path]) -> T:
    """`loader(paths)`, with a broken file reported as a one-line CaroError naming the setting to check."""
    try:
        return loader(paths)
    except (OSError, ValueError) as exc:
        lines = str(exc).strip().splitlines()
        raise CaroError(
            f"a {what} file is invalid: {lines[0] if lines else type(exc).__name__}",
            code="config_invalid",
            hint=f"check the files listed in {key} (`caro config get {key}`)",
        ) from None
