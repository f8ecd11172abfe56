"""Telemetry declared on the DAG: `@emits` injects a node that turns a stage's value into events.

No node body calls a telemetry API. Decorating a node function with
`@emits(EventType.SAFETY_VALIDATION, build=...)` adds a sibling node `<name>_telemetry`
(tagged `caro_telemetry`) whose value is the event drafts built from the decorated node's
value; removing the decorator removes the node and the event. What a plain node cannot see
(how long a stage took, whether it raised) comes from `StageTimer`, a Hamilton lifecycle
adapter. The recorder (recorder.py) completes the drafts and flushes once per request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pipeline.driver import import_hamilton

import_hamilton()  # before any Hamilton module: keeps pandera's import out of the request path

from hamilton import node  # noqa: E402
from hamilton.function_modifiers.base import SingleNodeNodeTransformer  # noqa: E402
from hamilton.lifecycle import api as lifecycle  # noqa: E402

from pipeline.telemetry.events import EventType, utc_timestamp

TELEMETRY_TAG = "caro_telemetry"
SOURCE_TAG = "caro_telemetry_source"


@dataclass(frozen=True)
class Draft:
    """An event without its session id; `timed_by` names the nodes whose run time is its duration.

    `at` is when the event happened (a stored timestamp): set by the `emits` node as soon as
    its stage's value exists, so that a request's events are spread over the time it took.
    """

    event_type: EventType
    fields: dict[str, Any]
    timed_by: tuple[str, ...] = ()
    at: str | None = None

    def timed(self, durations_ms: Mapping[str, float]) -> Draft:
        """This draft with its duration, the run time of its `timed_by` nodes, filled in (if it needs one and has none)."""
        if not self.timed_by or "duration_ms" in self.fields:
            return self
        duration = round(sum(durations_ms.get(name, 0.0) for name in self.timed_by))
        return replace(self, fields={**self.fields, "duration_ms": duration})


class emits(SingleNodeNodeTransformer):  # noqa: N801  (a decorator, named like Hamilton's own)
    """Declares that a node's value becomes telemetry events of one type."""

    def __init__(self, event_type: EventType, *, build: Callable[[Any], Sequence[Draft]]):
        super().__init__()
        self.event_type = event_type
        self.build = build

    def transform_node(self, node_: node.Node, config: dict[str, Any], fn: Callable) -> Collection[node.Node]:
        source, build = node_.name, self.build

        def telemetry(**kwargs: Any) -> tuple[Draft, ...]:
            # The stage has just produced its value: that moment is the events' time.
            now = utc_timestamp()
            return tuple(draft if draft.at else replace(draft, at=now) for draft in build(kwargs[source]))

        event_node = node.Node(
            name=f"{source}_telemetry",
            typ=tuple,
            doc_string=f"{self.event_type.value} events from {source}.",
            callabl=telemetry,
            input_types={source: node_.type},
            tags={TELEMETRY_TAG: self.event_type.value, SOURCE_TAG: source},
            originating_functions=node_.originating_functions,
        )
        return [node_, event_node]

    def validate(self, fn: Callable) -> None:
        """Any node function can emit events."""


@dataclass
class _Run:
    durations_ms: dict[str, float] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # node name -> exception type name, never its message
    started: dict[str, float] = field(default_factory=dict)


class StageTimer(lifecycle.NodeExecutionHook):
    """A lifecycle adapter that times every node of the current request, per thread.

    The driver runs a request's nodes in the calling thread, so one adapter serves concurrent
    requests: each thread sees only its own run (`start` resets it, `take` hands it over).
    """

    def __init__(self) -> None:
        self._local = threading.local()

    def start(self) -> None:
        self._local.run = _Run()

    def take(self) -> tuple[dict[str, float], dict[str, str]]:
        run: _Run = getattr(self._local, "run", _Run())
        self._local.run = _Run()
        return run.durations_ms, run.failed

    def run_before_node_execution(self, *, node_name: str, **future_kwargs: Any) -> None:
        run = getattr(self._local, "run", None)
        if run is not None:
            run.started[node_name] = time.perf_counter()

    def run_after_node_execution(self, *, node_name: str, error: Exception | None, success: bool, **future_kwargs: Any) -> None:
        run = getattr(self._local, "run", None)
        if run is None or node_name not in run.started:
            return
        run.durations_ms[node_name] = (time.perf_counter() - run.started.pop(node_name)) * 1000
        if not success and error is not None:
            run.failed[node_name] = type(error).__name__
