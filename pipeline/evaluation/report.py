"""Pass rates of an evaluation: overall, per category and per source, by each judge and combined."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pipeline.evaluation.judges import ExecutionVerdict
from pipeline.evaluation.suites import EvalCase


@dataclass(frozen=True)
class Outcome:
    """One case's answer and both judges' verdicts on it."""

    case: EvalCase
    source: str
    command: str | None
    equivalent: bool
    execution: ExecutionVerdict | None = None
    # Equivalent only as a template: its slots (`cat <file>`) stand where the expected command has
    # stand-ins (`cat file.txt`) for what the request does not name (judges.template_passes).
    template: bool = False

    @property
    def executed(self) -> bool | None:
        """The execution judge's verdict, None where it gave none."""
        return None if self.execution is None else self.execution.passed

    @property
    def passed(self) -> bool:
        """The verdict that counts: the execution judge's where it gave one, else equivalence."""
        return self.executed if self.executed is not None else self.equivalent


def _rate(items: Iterable[Outcome], verdict: Callable[[Outcome], bool | None]) -> dict[str, Any]:
    judged = [v for o in items if (v := verdict(o)) is not None]
    passed = sum(judged)
    return {"passed": passed, "total": len(judged), "rate": round(passed / len(judged), 3) if judged else 0.0}


VERDICTS: dict[str, Callable[[Outcome], bool | None]] = {
    "combined": lambda o: o.passed,
    "equivalence": lambda o: o.equivalent,
    "execution": lambda o: o.executed,
}


@dataclass
class Report:
    """The outcomes of a run, aggregated on demand."""

    outcomes: list[Outcome] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def _grouped(self, key: Callable[[Outcome], str], verdict: Callable[[Outcome], bool | None]) -> dict[str, Any]:
        groups: dict[str, list[Outcome]] = defaultdict(list)
        for o in self.outcomes:
            groups[key(o)].append(o)
        return {name: _rate(members, verdict) for name, members in sorted(groups.items())}

    def as_dict(self) -> dict[str, Any]:
        """Combined rates at the top level (as before), each judge's under `judges`, and the failures."""
        combined = VERDICTS["combined"]
        judges = {}
        for name in ("equivalence", "execution"):
            verdict = VERDICTS[name]
            judges[name] = {
                "overall": _rate(self.outcomes, verdict),
                "by_category": self._grouped(lambda o: o.case.category, verdict),
                "by_source": self._grouped(lambda o: o.source, verdict),
            }
        not_judged = Counter(
            o.execution.reason for o in self.outcomes if o.execution is not None and o.execution.passed is None
        )
        judges["execution"]["not_judged"] = dict(not_judged.most_common())
        judges["execution"]["cases"] = sum(o.execution is not None for o in self.outcomes)
        return {
            "overall": _rate(self.outcomes, combined),
            "templates": {
                "passed": sum(o.template and o.passed for o in self.outcomes),
                "ids": [o.case.id for o in self.outcomes if o.template and o.passed],
            },
            "by_category": self._grouped(lambda o: o.case.category, combined),
            "by_source": self._grouped(lambda o: o.source, combined),
            "judges": judges,
            "failures": [
                {
                    "id": o.case.id,
                    "category": o.case.category,
                    "request": o.case.request,
                    "got": o.command,
                    "expected": list(o.case.expected),
                    "rule": o.case.rule.value,
                    "equivalent": o.equivalent,
                    "executed": o.executed,
                    "execution_reason": o.execution.reason if o.execution is not None else None,
                }
                for o in self.outcomes
                if not o.passed
            ],
        }
