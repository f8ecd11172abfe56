"""Structural checks on the built-in static table."""

from __future__ import annotations

import re
import shlex
from collections import Counter
from pathlib import Path

import pytest

from pipeline.static import measures, names, slot_types
from pipeline.static import slots as slot_module
from pipeline.static import tokens as token_module
from pipeline.static.schema import PLACEHOLDER, Domain, Intent
from pipeline.static.slots import SlotValue, default_value
from pipeline.static.table import StaticTable, default_table_paths
from pipeline.static.vocab import REFUSE
from pipeline.values import Userland

TABLE = StaticTable.default()
GNU_ONLY = [
    re.compile(r"\bps\b[^|]*--sort="),
    re.compile(r"-printf\b"),
    re.compile(r"--max-depth"),
    re.compile(r"\bjournalctl\b"),
    re.compile(r"\bsystemctl\b"),
    re.compile(r"\bfree\b"),
    re.compile(r"\bdate -d\b"),
    re.compile(r"\bstat -c\b"),
    re.compile(r"\bsed -i '?s"),
]


def test_enough_intents_in_every_domain() -> None:
    per_domain = Counter(i.domain for i in TABLE.intents)
    assert len(TABLE.intents) >= 150
    for domain in (Domain.FILES, Domain.TEXT, Domain.DISK, Domain.PROCESSES, Domain.NETWORK,
                   Domain.GIT, Domain.ARCHIVES, Domain.DOCKER, Domain.SYSTEM):
        assert per_domain[domain] >= 5, domain


def test_default_paths_are_the_configs_folder() -> None:
    paths = default_table_paths()
    assert paths and all(p.parent.name == "static" and p.suffix == ".toml" for p in paths)
    assert {p.stem for p in paths} >= {"files", "text", "disk", "processes", "network", "git", "archives", "docker", "system"}


def test_ids_are_unique_across_files() -> None:
    ids = Counter()
    for path in default_table_paths():
        from pipeline.static.schema import load_file

        ids.update(i.id for i in load_file(path))
    assert [i for i, n in ids.items() if n > 1] == []


def test_intents_are_ordered_by_specificity() -> None:
    counts = [len(i.require) for i in TABLE.intents]
    assert counts == sorted(counts, reverse=True)


def test_specificity_examples() -> None:
    order = [i.id for i in TABLE.intents]
    assert order.index("disk.usage_by_directory_sorted") < order.index("disk.usage_by_directory")
    assert order.index("files.list_hidden") < order.index("files.list")


def _bsd_commands() -> list[tuple[str, str]]:
    return [(i.id, c) for i in TABLE.intents if (c := i.command_for(Userland.BSD)) is not None]


@pytest.mark.parametrize(("intent_id", "command"), _bsd_commands())
def test_bsd_commands_avoid_gnu_only_features(intent_id: str, command: str) -> None:
    for pattern in GNU_ONLY:
        assert not pattern.search(command), (intent_id, pattern.pattern)
    if "--color=auto" in command:
        assert command.startswith("git ")


def test_linux_only_tools_have_a_bsd_variant_or_no_bsd_command() -> None:
    for intent in TABLE.intents:
        gnu = intent.command_for(Userland.GNU) or ""
        if re.search(r"\b(journalctl|systemctl|apt-get|yum|dnf)\b", gnu):
            bsd = intent.command_for(Userland.BSD)
            assert bsd is None or not re.search(r"\b(journalctl|systemctl)\b", bsd), intent.id
            assert intent.os <= {"linux"} or bsd is not None, intent.id


def test_no_intent_requires_or_offers_a_destructive_word() -> None:
    for intent in TABLE.intents:
        words = set(intent.words) | {w for group in intent.require for alt in group for w in alt}
        assert not words & REFUSE, intent.id


def test_no_command_is_destructive() -> None:
    destructive = re.compile(r"\brm\b|-delete\b|\bkill\b|\bprune\b|\bchmod\b|\bchown\b|\bmkfs\b|\bdd\b|>\s*/dev/sd")
    for intent in TABLE.intents:
        for _, command in intent.commands:
            assert not destructive.search(command), intent.id


def _render_with_samples(intent: Intent, userland: Userland) -> str:
    sample: dict[str, SlotValue] = {}
    for spec in intent.slots:
        value = default_value(spec)
        if value is None:
            forms = {form: "x" for form in slot_module.FORMS[spec.type]}
            value = SlotValue("x", forms)
        sample[spec.name] = value
    template = intent.command_for(userland) or ""
    return PLACEHOLDER.sub(lambda m: sample[m.group(1)].render(m.group(2) or ""), template)


@pytest.mark.parametrize("intent", TABLE.intents, ids=lambda i: i.id)
def test_every_template_renders_to_a_parsable_command(intent: Intent) -> None:
    for userland, _ in intent.commands:
        rendered = _render_with_samples(intent, userland)
        assert not PLACEHOLDER.search(rendered)  # Go templates (docker --format) keep their own {{...}}
        assert shlex.split(rendered)


def test_every_declared_slot_is_used_or_deliberately_absorbs_words() -> None:
    # A slot that is not in the template only explains words (devops.ssl_expiry's day count).
    unused = {
        (i.id, s.name)
        for i in TABLE.intents
        for s in i.slots
        if not any(re.search(r"\{\{" + s.name + r"(:\w+)?\}\}", c) for _, c in i.commands)
    }
    assert unused == {("devops.ssl_expiry", "days")}


def test_schema_is_documented() -> None:
    readme = (Path(default_table_paths()[0]).parent / "README.md").read_text(encoding="utf-8")
    for key in ("`id`", "`domain`", "`require`", "`words`", "`forbid`", "`slots`", "`gnu`", "`bsd`", "`os`"):
        assert key in readme
    for slot_type in slot_module.SlotType:
        assert f"`{slot_type.value}`" in readme


def _module_regexes() -> list[re.Pattern[str]]:
    found = []
    for module in (token_module, slot_types, measures, names):
        found += [v for v in vars(module).values() if isinstance(v, re.Pattern)]
    return found


NESTED_QUANTIFIER = re.compile(r"\([^()]*[+*][^()]*\)[+*{]")


@pytest.mark.parametrize("pattern", _module_regexes(), ids=lambda p: p.pattern[:30])
def test_regexes_are_non_empty_and_have_no_nested_unbounded_quantifiers(pattern: re.Pattern[str]) -> None:
    assert pattern.pattern
    # Nested quantifiers are allowed only where the inner and outer parts are separated by a
    # character the inner part cannot match (".", "'"), which keeps matching deterministic.
    for m in NESTED_QUANTIFIER.finditer(pattern.pattern):
        assert m.group().startswith(("(?:\\.", "(?:'", "(?:\\+", "(?:_")), pattern.pattern


@pytest.mark.parametrize(
    "text",
    ["find large " + "x" * 500, "a" * 5000, "1" * 5000 + "mb", "." * 5000, "a." * 2500, "*." + "a" * 5000, ":" + "9" * 5000],
)
def test_regexes_terminate_on_adversarial_tokens(text: str) -> None:
    for pattern in _module_regexes():
        pattern.search(text)
    assert token_module.tokenize(text)
