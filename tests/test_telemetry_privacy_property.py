"""Property: whatever a request holds, and wherever an attacker puts it, none of it reaches the database file.

Hypothesis builds requests laced with paths, e-mail and IP addresses, API tokens, user and
host names and environment values; puts the same strings into the sensitive context and,
adversarially, into event fields (closed categories, formats, list items, numbers, flags,
keys); sends everything through `validate_events` and `TelemetryStore.write`; then reads the
database, WAL and shared-memory files as bytes and looks for every one of those strings.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.telemetry.privacy import SensitiveContext

from pipeline.telemetry.schemas import validate_events

from pipeline.telemetry.store import TelemetryStore
from pipeline.telemetry.events import VOCABULARY
from tests.test_telemetry_schemas import sample_events

EXAMPLES = 200
MIN_EVENTS = 60  # per example: 200 x 60 = 12,000 events at the least

_lower = "abcdefghijklmnopqrstuvwxyz"
_alnum = _lower + _lower.upper() + "0123456789"
_name = st.text(_lower, min_size=4, max_size=9)
_user = st.builds(lambda n, d: f"{n}{d}", _name, st.integers(10, 9999))
_host = st.builds(
    lambda n, kind, d, domain: f"{n}-{kind}{d}{domain}",
    _name, st.sampled_from(["laptop", "desktop", "build", "mbp"]), st.integers(1, 99),
    st.sampled_from(["", ".local", ".corp.example.com", ".lan"]),
)
_path = st.builds(
    lambda root, user, parts: "/".join([root, user, *parts]),
    st.sampled_from(["/home", "/Users", "/srv/data", "/mnt/backup"]), _user, st.lists(_name, min_size=1, max_size=3),
)
_email = st.builds(lambda u, h: f"{u}@{h}", _user, st.sampled_from(["example.com", "mail.example.org", "corp.io"]))
_ipv4 = st.builds(lambda *o: ".".join(map(str, o)), *[st.integers(1, 254)] * 4).filter(lambda ip: len(ip) >= 8)
_ipv6 = st.builds(lambda a, b: f"fe80::{a:x}:{b:x}", st.integers(0x1000, 0xFFFF), st.integers(0x1000, 0xFFFF))
_token = st.one_of(
    st.builds(lambda s: "ghp_" + s, st.text(_alnum, min_size=36, max_size=36)),
    st.builds(lambda s: "sk-" + s, st.text(_alnum, min_size=32, max_size=48)),
    st.builds(lambda s: "AKIA" + s, st.text(_lower.upper() + "234567", min_size=16, max_size=16)),
    st.text("0123456789abcdef", min_size=32, max_size=32),  # a hex key: fits a session id exactly
)
_env_value = st.one_of(_path, _token, st.builds(lambda u: f"postgres://{u}:pw@db.internal:5432/app", _user))
# Strings a stored row may legitimately contain are not secrets; none of these generators
# should make one, and the filter says so rather than hoping.
_secret = st.one_of(_path, _email, _ipv4, _ipv6, _token, _user, _host).filter(
    lambda s: not any(s.casefold() in word for word in VOCABULARY)
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[SensitiveContext, list[str]]:
    """A request, its surroundings, and every secret string among them."""
    user, host = draw(_user), draw(_host)
    home = f"/home/{user}"
    cwd = f"{home}/{draw(_name)}/{draw(_name)}"
    laced = draw(st.lists(_secret, min_size=2, max_size=6))
    env = draw(st.lists(_env_value, min_size=1, max_size=5))
    verb = draw(st.sampled_from(["find", "delete", "compress", "copy", "grep for", "upload"]))
    request = f"{verb} {' and '.join(laced)} in {cwd}"
    command = f"{verb.split()[0]} {' '.join(laced)} {cwd}/*"
    context = SensitiveContext(
        request=request, command=command, cwd=cwd, home=home, user=user, host=host,
        env_values=(*env, "1000", "C.UTF-8"),
    )
    return context, [*laced, user, host, home, cwd, *env]


def _adversarial(row: dict[str, object], field: str, secret: str, how: str) -> dict[str, object]:
    """A copy of `row` with `secret` planted: as a field's value, inside a list, or as a key."""
    planted = dict(row)
    if how == "value":
        planted[field] = secret
    elif how == "list_item":
        planted[field] = f'["{secret}"]'
    elif how == "suffix":
        planted[field] = f"{row[field]}{secret}"
    else:
        planted[secret] = 1
    return planted


@st.composite
def batches(draw: st.DrawFn, secrets: list[str]) -> tuple[list[object], int]:
    """Events for one request: honest ones, and ones with a secret planted; and the honest count."""
    count = draw(st.integers(MIN_EVENTS, MIN_EVENTS + 20))
    honest = draw(st.integers(count // 2, count - 1))
    events: list[object] = []
    base = sample_events()
    for i in range(honest):
        events.append(base[i % len(base)])
    for i in range(count - honest):
        row = base[i % len(base)].row()
        field = draw(st.sampled_from(sorted(row)))
        how = draw(st.sampled_from(["value", "value", "list_item", "suffix", "key"]))
        events.append(_adversarial(row, field, draw(st.sampled_from(secrets)), how))
    return events, honest


def test_no_sensitive_string_ever_reaches_the_database_file() -> None:
    seen: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(data=st.data(), case=requests())
    def check(data: st.DataObject, case: tuple[SensitiveContext, list[str]]) -> None:
        context, secrets = case
        events, honest = data.draw(batches(secrets))
        batch = validate_events(events, context)
        with tempfile.TemporaryDirectory(prefix="caro-prop-") as folder:
            path = Path(folder) / "telemetry.db"
            with TelemetryStore(path) as store:
                outcome = store.write(batch)
                # Read while the WAL and shared-memory files still exist, then again once closed.
                during = _file_bytes(path)
            after = _file_bytes(path)
        assert outcome.ok and outcome.written == honest and outcome.dropped == len(events) - honest
        for secret in secrets:
            for form in {secret, secret.casefold()}:
                assert form.encode() not in during and form.encode() not in after
        seen.append(len(events))

    check()
    assert sum(seen) >= 10_000, f"only {sum(seen)} events were tried"


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def test_the_laced_context_itself_is_searched_for() -> None:
    # A planted secret is dropped by the privacy check even where the schema would accept it.
    context = SensitiveContext(env_values=("0123456789abcdef0123456789abcdef",))
    row = sample_events()[0].row()
    planted = replace(sample_events()[0], session_id="0123456789abcdef0123456789abcdef").row()
    batch = validate_events([row, planted], context)
    assert batch.row_count == 1 and batch.dropped == {"session_start": 1}
