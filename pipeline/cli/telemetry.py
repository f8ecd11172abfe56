"""`caro telemetry status|show|export|clear|enable|disable|demo`: look at, take out and delete what caro recorded.

Thin over `pipeline.telemetry`: the store does the SQL, `consent` decides whether telemetry is
on. A missing database is an empty store and is never created by these commands; a corrupt or
unreadable one is a one-line error (from the store) and is left exactly as it is. `demo` writes
synthetic events for trying the analysis notebook, into a file of its own unless told otherwise.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, Optional

import typer

from pipeline.cli.common import config_path, settings_from
from pipeline.cli.options import ConfigOpt, OutputOpt, YesOpt, sub_app
from pipeline.errors import CaroError, ExitCode, os_reason, usage_error
from pipeline.settings import OutputFormat
from pipeline.telemetry.events import EventType

if TYPE_CHECKING:
    from pipeline.telemetry.consent import Consent
    from pipeline.telemetry.store import TelemetryStore

# events.py is light (no pandas, pandera or sqlite-utils), so `--help` can list the types.
EVENT_TYPE_NAMES = tuple(kind.value for kind in EventType)
EXPORT_FORMATS = ("jsonl", "csv")
_RELATIVE = re.compile(r"^\s*([0-9]{1,6})\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_COMMON = ("id", "event_type", "ts", "session_id", "schema_version")

telemetry_app = sub_app("Inspect, export or delete the local usage telemetry, and turn it on or off (off by default).")

TypeOpt = Annotated[
    Optional[str],
    typer.Option("--type", "-t", help=f"Only events of this type: {', '.join(EVENT_TYPE_NAMES)}.", show_default=False),
]
LastOpt = Annotated[int, typer.Option("--last", "-n", min=1, help="Only the most recent N events.")]
SinceOpt = Annotated[
    Optional[str],
    typer.Option(
        "--since",
        help="Only events at or after this time: ISO 8601 (UTC unless it names a zone) or relative (30m, 1h, 2d, 1w).",
        show_default=False,
    ),
]


def _database() -> Path:
    """The telemetry database, once the writes still pending in background children are done."""
    from pipeline.paths import state_paths
    from pipeline.telemetry.pending import wait_for_writes

    path = state_paths().database
    wait_for_writes(path)  # so `exists()` and the counts include the request just answered
    return path


def _consent(config: Path | None) -> Consent:
    from pipeline.telemetry.consent import ENABLED_KEY, telemetry_state

    settings = settings_from(config)
    return telemetry_state(settings.values, os.environ, source=settings.layers[ENABLED_KEY])


def _store(path: Path) -> TelemetryStore:
    from pipeline.telemetry.store import TelemetryStore

    return TelemetryStore(path)


def _emit(data: Any, fmt: OutputFormat) -> None:
    """Write one data value (object or list) to stdout as JSON or YAML."""
    if fmt is OutputFormat.YAML:
        import yaml

        sys.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _format(output: OutputFormat | None, config: Path | None) -> OutputFormat:
    return output or settings_from(config).output


def _size(path: Path) -> int:
    """Bytes the database takes on disk, its write-ahead log included."""
    total = 0
    for part in (path, path.with_name(path.name + "-wal")):
        try:
            total += part.stat().st_size
        except OSError:
            pass
    return total


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """The moment `--since` names: relative (`90m`, `2d`: that long before now) or ISO 8601 (UTC if naive)."""
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(timezone.utc)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise usage_error(
            "--since must be an ISO 8601 date or time, or a relative time", hint="e.g. --since 2d or --since 2025-03-04T12:00"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _event_type(name: str | None) -> str | None:

    if name is None:
        return None
    try:
        return EventType(name.strip().lower()).value
    except ValueError:
        raise usage_error("unknown event type", hint=f"one of: {', '.join(e.value for e in EventType)}") from None


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "(none)"
    return str(value)


def _fields(row: Mapping[str, object]) -> str:
    """An event's own fields, compactly: `backend=static duration_ms=3 success=true`."""
    return " ".join(f"{k}={_cell(v)}" for k, v in row.items() if k not in _COMMON)


# -- commands --------------------------------------------------------------------------


@telemetry_app.command("status")
def status(output: OutputOpt = None, config: ConfigOpt = None) -> int:
    """Say whether telemetry is on and why, where the database is, and how many events it holds."""

    from pipeline.telemetry.connect import writable

    consent = _consent(config)
    path = _database()
    exists = path.exists()
    with _store(path) as store:  # reads only: a missing file stays missing
        counts, by_reason = store.counts(), store.dropped_by_reason()
    events = {kind.value: counts.get(kind.value, 0) for kind in EventType}
    dropped: dict[str, int] = {}
    reasons: dict[str, int] = {}
    for (reason, kind), n in by_reason.items():
        dropped[kind] = dropped.get(kind, 0) + n
        reasons[reason] = reasons.get(reason, 0) + n
    report = {
        "enabled": consent.enabled,
        "debug": consent.debug,
        "reason": consent.reason,
        "database": str(path),
        "exists": exists,
        "writable": writable(path),
        "size_bytes": _size(path) if exists else 0,
        "total": sum(events.values()),
        "events": events,
        "dropped": dropped,
        "dropped_by_reason": reasons,
    }
    fmt = _format(output, config)
    if fmt is not OutputFormat.PLAIN:
        _emit(report, fmt)
        return 0
    sys.stdout.write("\n".join(_status_lines(report, consent)) + "\n")
    return 0


# What each reason for not storing events means, for `caro telemetry status`.
_DROP_REASONS = {
    "invalid": "failed validation",
    "sensitive": "held a piece of the request's context (privacy check)",
    "locked": "the database was busy for too long",
    "read_only": "the database could not be written",
    "corrupt": "the database is damaged",
    "disk_full": "the disk was full",
    "io_error": "the disk or the system refused the write",
    "failed": "telemetry itself failed",
}


def _status_lines(report: Mapping[str, Any], consent: Consent) -> list[str]:
    """`caro telemetry status` for a person: state, database, events by type, and what was not stored."""
    state = "debug (printed, not stored)" if consent.debug else "on" if consent.enabled else "off"
    path, exists, events = Path(str(report["database"])), bool(report["exists"]), dict(report["events"])
    lines = [f"telemetry: {state} ({consent.reason})", f"database:  {path}"]
    total, size = sum(events.values()), _human(_size(path)) if exists else ""
    if not total:
        lines.append("events:    no events yet" + (f" ({size})" if exists else ""))
    else:
        lines.append(f"events:    {total} ({size})")
        width = max(map(len, events))
        lines += [f"  {kind:<{width}}  {n}" for kind, n in events.items()]
    reasons = dict(report["dropped_by_reason"])
    if reasons:
        lines.append(f"dropped:   {sum(reasons.values())} events were not stored")
        width = max(map(len, reasons))
        lines += [f"  {reason:<{width}}  {n}  ({_DROP_REASONS.get(reason, reason)})" for reason, n in sorted(reasons.items())]
    if consent.enabled and not report["writable"]:
        lines.append("warning:   caro cannot write to the database or its folder: new events are lost, uncounted")
    return lines


@telemetry_app.command("show")
def show(
    type_: TypeOpt = None, last: LastOpt = 20, since: SinceOpt = None, output: OutputOpt = None, config: ConfigOpt = None
) -> int:
    """Print stored events, oldest first: time, type and the type's own fields."""
    kind = _event_type(type_)
    moment = parse_since(since) if since is not None else None
    fmt = _format(output, config)
    path = _database()
    rows: list[dict[str, object]] = []
    if path.exists():
        with _store(path) as store:
            rows = store.query(event_type=kind, last=last, since=moment)
    if fmt is not OutputFormat.PLAIN:
        _emit(rows, fmt)
        return 0
    if not rows:
        filtered = kind is not None or moment is not None
        sys.stderr.write(f"caro: {'no events match' if filtered and path.exists() else 'no events yet'}\n")
        return 0
    width = max(len(str(r["event_type"])) for r in rows)
    sys.stdout.write(f"{'ts':<24}  {'event_type':<{width}}  fields\n")
    for row in rows:
        sys.stdout.write(f"{row['ts']}  {row['event_type']!s:<{width}}  {_fields(row)}\n")
    return 0


@telemetry_app.command("export")
def export(
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl (one JSON object a line) or csv.")] = "jsonl",
    output_file: Annotated[
        Optional[Path], typer.Option("--output-file", help="Write to this file instead of stdout.", show_default=False)
    ] = None,
) -> int:
    """Write every stored event, oldest first, as JSON lines or CSV (the only way data leaves caro)."""
    fmt = fmt.strip().lower()
    if fmt not in EXPORT_FORMATS:
        raise usage_error("--format must be jsonl or csv")
    path = _database()
    if output_file is None:
        count = _export_to(sys.stdout, path, fmt)
        sys.stdout.flush()
    else:
        # Written beside the target and moved into place, so a failure never leaves half a file.
        partial = output_file.with_name(output_file.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8", newline="") as fp:
                count = _export_to(fp, path, fmt)
            os.replace(partial, output_file)
        except OSError as exc:
            raise CaroError(f"the export file cannot be written: {os_reason(exc)}", code="export_failed") from None
        finally:
            try:
                partial.unlink(missing_ok=True)
            except OSError:
                pass  # never made: its folder is missing, read-only, or a file
    sys.stderr.write(f"caro: exported {count} event{'s' if count != 1 else ''}\n")
    return 0


def _export_to(fp: IO[str], path: Path, fmt: str) -> int:
    """Export the database at `path` to `fp`; a missing database exports no rows (CSV: the header alone)."""
    if path.exists():
        with _store(path) as store:
            store.counts()  # a damaged file fails here, before anything is written
            return store.export(fp, fmt)
    if fmt == "csv":
        from pipeline.telemetry.store import ALL_COLUMNS

        fp.write(",".join(ALL_COLUMNS) + "\n")
    return 0


@telemetry_app.command("clear")
def clear(yes: YesOpt = False) -> int:
    """Delete every stored event and dropped count (asks first unless -y); a damaged file is left alone."""
    path = _database()
    if not path.exists():
        sys.stderr.write("caro: no events yet; nothing to clear\n")
        return 0
    with _store(path) as store:
        total = sum(store.counts().values())  # a damaged file fails here, untouched
        if not yes:
            if sys.stdin is None or not sys.stdin.isatty():
                raise CaroError("clear needs confirmation", code="declined", exit_code=ExitCode.DECLINED, hint="pass -y")
            sys.stderr.write(f"Delete all {total} telemetry events? [y/N] ")
            sys.stderr.flush()
            if sys.stdin.readline().strip().lower() not in ("y", "yes"):
                return int(ExitCode.DECLINED)
        deleted = store.clear()
    sys.stderr.write(f"caro: deleted {deleted} event{'s' if deleted != 1 else ''}\n")
    return 0


def _switch(on: bool, output: OutputFormat | None, config: Path | None) -> int:
    """Store `telemetry.enabled`, then say what is in effect, and what overrides the file if anything does."""
    from pipeline.settings import set_user_value

    set_user_value(config_path(config), "telemetry.enabled", "true" if on else "false")
    consent = _consent(config)
    fmt = _format(output, config)
    if fmt is not OutputFormat.PLAIN:
        _emit({"enabled": consent.enabled, "debug": consent.debug, "reason": consent.reason}, fmt)
        return 0
    sys.stderr.write(f"caro: telemetry.enabled = {'true' if on else 'false'}\n")
    if consent.enabled != on or consent.debug:
        effect = "debug (printed, not stored)" if consent.debug else "on" if consent.enabled else "off"
        sys.stderr.write(f"caro: telemetry is still {effect}: {consent.reason}\n")
    elif on:
        sys.stderr.write("caro: events stay on this machine; `caro telemetry show` lists them\n")
    return 0


@telemetry_app.command("enable")
def enable(output: OutputOpt = None, config: ConfigOpt = None) -> int:
    """Turn telemetry on in the user config (DO_NOT_TRACK or CARO_TELEMETRY=0 still keep it off)."""
    return _switch(True, output, config)


@telemetry_app.command("disable")
def disable(output: OutputOpt = None, config: ConfigOpt = None) -> int:
    """Turn telemetry off in the user config; what was recorded stays until `caro telemetry clear`."""
    return _switch(False, output, config)


from pipeline.cli import telemetry_demo  # noqa: E402,F401  (registers `caro telemetry demo`, in a module of its own)
