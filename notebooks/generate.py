"""Write notebooks/telemetry_analysis.ipynb from the cells below, without outputs.

    .venv/bin/python notebooks/generate.py          # rewrite the notebook
    .venv/bin/python notebooks/generate.py --check  # exit 1 when it is out of date (tests run this)

The notebook is kept in git with its outputs stripped; editing the cells here (not in Jupyter)
keeps it that way and keeps the diff readable. Cells tagged `plot` draw one figure each; the
tests count them. The first code cell is tagged `parameters` (papermill's convention).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOK = Path(__file__).resolve().parent / "telemetry_analysis.ipynb"

INTRO = """\
# caro telemetry

What caro's local, opt-in telemetry says about how it is used: how many requests, which backend
answers them and how fast, what fails, how often the safety stage steps in, and what refine does.

The figures read the database through `pipeline.telemetry.analysis`, which lets SQLite aggregate
(nothing here loads the raw events), opens the file read-only and never creates it. Times are UTC.

Set `database` below, or the `CARO_TELEMETRY_DB` environment variable, to analyse another file,
such as the one `caro telemetry demo --events 10000` writes."""

PARAMETERS = """\
# Path of the telemetry database. None: $CARO_TELEMETRY_DB if set, else caro's own (under CARO_HOME).
database = None"""

SETUP = """\
%matplotlib inline
import matplotlib.pyplot as plt

from pipeline.telemetry import analysis

path = analysis.resolve_database(database)
overview = analysis.summary(path)
plt.rcParams.update({"figure.figsize": (11, 3.8), "axes.spines.top": False, "axes.spines.right": False})


def nothing_yet(ax, what):
    \"\"\"Say on an empty panel that there is nothing to draw.\"\"\"
    ax.text(0.5, 0.5, f"no {what} yet", ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_axis_off()


if overview.empty:
    print(analysis.NO_DATA_MESSAGE)
    if not path.exists():
        print("(The database file does not exist yet.)")
else:
    print(
        f"events: {overview.events:,}   requests: {overview.requests:,}   "
        f"from {overview.first:%Y-%m-%d %H:%M} to {overview.last:%Y-%m-%d %H:%M} UTC ({overview.days:.1f} days)"
    )
    for kind, count in sorted(overview.by_type.items()):
        print(f"  {kind:<20}{count:>12,}")"""

REQUESTS_MD = """\
## Requests over time

Requests per day (left) and the average number per hour of the day (right). Read it for the trend
and the rhythm: use should follow working hours and weekdays; a sudden drop on a working day
usually means caro broke for someone, or telemetry was turned off."""

REQUESTS = """\
if not overview.empty:
    daily = analysis.requests_over_time(path, freq="day")
    hourly = analysis.requests_over_time(path, freq="hour")
    fig, (left, right) = plt.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    left.bar(daily["period"], daily["requests"], width=0.8, color="tab:blue")
    left.set(title="Requests per day", ylabel="requests")
    left.tick_params(axis="x", labelrotation=45)
    by_hour = hourly.groupby(hourly["period"].dt.hour)["requests"].mean().reindex(range(24), fill_value=0)
    right.bar(by_hour.index, by_hour.values, color="tab:blue")
    right.set(title="Average requests per hour of the day", xlabel="hour (UTC)", xticks=range(0, 24, 3))
    fig.tight_layout()
    plt.show()"""

BACKENDS_MD = """\
## Static table or model

Which backend produced the commands: over the whole span (left) and day by day (right). The larger
the static table's share, the more requests are answered instantly and without a model; a growing
model share points at requests the static table should learn."""

BACKENDS = """\
if not overview.empty:
    share = analysis.backend_share(path)
    daily_share = analysis.backend_share_over_time(path, freq="day")
    fig, (left, right) = plt.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
    if share["successes"].sum() > 0:
        left.barh(share["backend"], share["share"] * 100, color="tab:green")
        left.invert_yaxis()
        left.set(title="Share of commands produced", xlabel="% of commands")
    else:
        nothing_yet(left, "commands")
    backends = [c for c in daily_share.columns if c != "period"]
    if backends:
        right.stackplot(daily_share["period"], *(daily_share[b] * 100 for b in backends), labels=backends)
        right.set(title="Share per day", ylabel="% of commands", ylim=(0, 100))
        right.legend(loc="lower left", fontsize="small")
        right.tick_params(axis="x", labelrotation=45)
    else:
        nothing_yet(right, "commands")
    fig.tight_layout()
    plt.show()"""

LATENCY_MD = """\
## How long generation takes

Median and 95th percentile of the generation time per backend, on a log scale. The median is the
usual wait; the p95 is the slow request one in twenty meets. The static table should be a few
milliseconds, the embedded model seconds; a rising p95 with a steady median means timeouts."""

LATENCY = """\
if not overview.empty:
    latency = analysis.latency_by_backend(path)
    fig, ax = plt.subplots()
    if latency.empty:
        nothing_yet(ax, "generations")
    else:
        x = range(len(latency))
        ax.bar([i - 0.2 for i in x], latency["p50_ms"].clip(lower=0.5), width=0.4, label="median")
        ax.bar([i + 0.2 for i in x], latency["p95_ms"].clip(lower=0.5), width=0.4, label="p95")
        ax.set_xticks(list(x), [f"{b}\\n({n:,})" for b, n in zip(latency["backend"], latency["count"])])
        ax.set(yscale="log", ylabel="milliseconds", title="Generation time per backend (number of generations)")
        ax.legend()
    fig.tight_layout()
    plt.show()"""

FAILURES_MD = """\
## What fails

Left: generations that produced no command, by why, as a share of all generations. Right: model
backend errors per 100 requests, split by whether caro could go on (a retry or the fallback
backend) or had to give up. Unrecoverable errors are the ones users see."""

FAILURES = """\
if not overview.empty:
    failures = analysis.generation_failure_rates(path)
    errors = analysis.backend_error_rates(path)
    fig, (left, right) = plt.subplots(1, 2)
    if failures.empty:
        nothing_yet(left, "failed generations")
    else:
        left.barh(failures["error_category"], failures["rate"] * 100, color="tab:red")
        left.invert_yaxis()
        left.set(title="Failed generations by category", xlabel="% of generations")
    if errors.empty:
        nothing_yet(right, "backend errors")
    else:
        table = errors.pivot_table(index="error_category", columns="recoverable", values="rate", aggfunc="sum", fill_value=0) * 100
        table = table.reindex(columns=[True, False], fill_value=0)
        table = table.loc[table.sum(axis=1).sort_values().index]
        right.barh(table.index, table[True], color="tab:orange", label="recovered")
        right.barh(table.index, table[False], left=table[True], color="tab:red", label="gave up")
        right.set(title="Backend errors by category", xlabel="errors per 100 requests")
        right.legend()
    fig.tight_layout()
    plt.show()"""

SAFETY_MD = """\
## The safety stage

Left: the share of judged commands that needed confirmation or were blocked, per day. Right: how
often each risk category matched, per day. A jump in blocked commands, or a category that
suddenly grows, is worth a look at the rules or at what the model proposes."""

SAFETY = """\
if not overview.empty:
    actions = analysis.safety_actions_over_time(path, freq="day")
    categories = analysis.safety_categories_over_time(path, freq="day")
    fig, (left, right) = plt.subplots(1, 2)
    judged = actions[list(analysis.ACTIONS)].sum(axis=1)
    if judged.sum() > 0:
        for action, color in (("confirm", "tab:orange"), ("blocked", "tab:red")):
            left.plot(actions["period"], actions[action] / judged.where(judged > 0) * 100, color=color, label=action)
        left.set(title="Commands held back", ylabel="% of judged commands")
        left.legend()
        left.tick_params(axis="x", labelrotation=45)
    else:
        nothing_yet(left, "judged commands")
    names = [c for c in categories.columns if c != "period"]
    if names:
        top = categories[names].sum().sort_values(ascending=False).index[:6].tolist()
        series = [categories[n] for n in top]
        labels = list(top)
        if len(names) > len(top):
            series.append(categories[[n for n in names if n not in top]].sum(axis=1))
            labels.append("other")
        right.stackplot(categories["period"], *series, labels=labels)
        right.set(title="Risk categories matched per day", ylabel="matches")
        right.legend(loc="upper left", fontsize="small", ncol=2)
        right.tick_params(axis="x", labelrotation=45)
    else:
        nothing_yet(right, "risk categories")
    fig.tight_layout()
    plt.show()"""

REFINE_MD = """\
## Refine

For each model backend: how often refine found problems in the model's command and asked for a
repair (ran), and how often the repaired command was kept (changed), as a share of that backend's
generations. A high ran rate means the model often writes commands that shellcheck or the parser
reject; changed close to ran means the repairs work."""

REFINE = """\
if not overview.empty:
    refine = analysis.refine_rates(path)
    fig, ax = plt.subplots(figsize=(7, 3.8))
    if refine.empty:
        nothing_yet(ax, "model generations")
    else:
        x = range(len(refine))
        ax.bar([i - 0.2 for i in x], refine["ran_rate"] * 100, width=0.4, label="refine ran")
        ax.bar([i + 0.2 for i in x], refine["changed_rate"] * 100, width=0.4, label="refine changed the command")
        ax.set_xticks(list(x), [f"{b}\\n({n:,})" for b, n in zip(refine["backend"], refine["generations"])])
        ax.set(ylabel="% of generations", title="Refine per model backend (number of generations)")
        ax.legend()
    fig.tight_layout()
    plt.show()"""

SECTIONS = (
    ("requests", REQUESTS_MD, REQUESTS),
    ("backends", BACKENDS_MD, BACKENDS),
    ("latency", LATENCY_MD, LATENCY),
    ("failures", FAILURES_MD, FAILURES),
    ("safety", SAFETY_MD, SAFETY),
    ("refine", REFINE_MD, REFINE),
)


def notebook() -> nbformat.NotebookNode:
    """The notebook, outputs stripped, with fixed cell ids so that the file is the same on every run."""
    cells = [
        new_markdown_cell(INTRO, id="intro"),
        new_code_cell(PARAMETERS, id="parameters", metadata={"tags": ["parameters"]}),
        new_code_cell(SETUP, id="setup"),
    ]
    for name, text, code in SECTIONS:
        cells.append(new_markdown_cell(text, id=f"{name}-about"))
        cells.append(new_code_cell(code, id=f"{name}-plot", metadata={"tags": ["plot"]}))
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
    )


def main(argv: list[str]) -> int:
    text = nbformat.writes(notebook()) + "\n"
    if "--check" in argv:
        if not NOTEBOOK.exists() or NOTEBOOK.read_text(encoding="utf-8") != text:
            print(f"out of date: {NOTEBOOK.name} (run python notebooks/generate.py)", file=sys.stderr)
            return 1
        return 0
    NOTEBOOK.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
