"""Evaluating caro: suites of requests, two judges (equivalence and confined execution), reports.

`load_suite` reads a JSON-lines suite into `EvalCase`s, `evaluate` runs them through a `Caro`
(or the bare model, for the baseline) and judges each answer, and `Report` aggregates pass rates
overall, per category and per source, for each judge and combined.
"""

from pipeline.evaluation.judges import ExecutionJudge, ExecutionVerdict, judge, load_builder
from pipeline.evaluation.report import Outcome, Report
from pipeline.evaluation.runner import BARE_SYSTEM, bare_model, evaluate, model_path
from pipeline.evaluation.suites import EvalCase, JudgeKind, Rule, load_suite, sample

__all__ = [
    "BARE_SYSTEM", "EvalCase", "ExecutionJudge", "ExecutionVerdict", "JudgeKind", "Outcome", "Report", "Rule",
    "bare_model", "evaluate", "judge", "load_builder", "load_suite", "model_path", "sample",
]
