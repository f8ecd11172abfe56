"""Static-match stage: an instant answer from the table in configs/static/, or no match."""

from __future__ import annotations

from pipeline.follow_up import refers_back
from pipeline.static.table import StaticTable
from pipeline.values import FollowUp, InputProblem, Platform, Refusal, StaticMatch


def static_match(
    request_text: str,
    request_problem: InputProblem | None,
    passthrough_command: str | None,
    static_table: StaticTable,
    platform_profile: Platform,
    follow_up: FollowUp | None = None,
    request_refusal: Refusal | None = None,
) -> StaticMatch | None:
    """The best table entry for the request, or None (also when there is nothing to match).

    A follow-up is looked up alone only when it stands on its own (no word of it points back
    at the previous command: `pipeline/follow_up.py`); one that does needs the model.
    """
    if request_problem is not None or passthrough_command is not None or request_refusal is not None:
        return None
    if follow_up is not None and refers_back(request_text):
        return None
    return static_table.match(request_text, platform_profile)
