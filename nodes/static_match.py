"""Static-match stage: an instant answer from the table in configs/static/, or no match."""

from __future__ import annotations

from pipeline.static.table import StaticTable
from pipeline.values import InputProblem, Platform, StaticMatch


def static_match(
    request_text: str,
    request_problem: InputProblem | None,
    passthrough_command: str | None,
    static_table: StaticTable,
    platform_profile: Platform,
) -> StaticMatch | None:
    """The best table entry for the request, or None (also when there is nothing to match)."""
    if request_problem is not None or passthrough_command is not None:
        return None
    return static_table.match(request_text, platform_profile)
