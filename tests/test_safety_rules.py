"""Rule files: the shipped file, user overrides, clear errors, and option normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.safety import RuleSet, Target, assess, classify, default_rules_path
from pipeline.safety.flags import UtilitySpec, parse_options
from pipeline.values import Action, Category, Risk, SafetyLevel, Shell

RULES = RuleSet.load([default_rules_path()])
GOOD = '[[rule]]\nid = "x"\ncategory = "process"\nrisk = "high"\nmessage = "m"\nutility = "x"\n'


def test_default_rules_load_with_unique_ids_and_messages() -> None:
    assert default_rules_path().name == "safety_rules.toml" and default_rules_path().is_file()
    ids = [r.id for r in RULES.rules]
    assert len(ids) == len(set(ids)) and len(ids) > 80
    assert all(r.message and len(r.message) < 120 for r in RULES.rules)
    assert {r.category for r in RULES.rules} == set(Category)


def _write(tmp_path: Path, text: str, name: str = "user.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_user_file_overrides_and_disables_by_id(tmp_path: Path) -> None:
    user = _write(
        tmp_path,
        '[[rule]]\nid = "kill-force"\ncategory = "process"\nrisk = "high"\nmessage = "No SIGKILL here"\nutility = "kill"\nflags_any = ["-9"]\n'
        '[[rule]]\nid = "power"\nenabled = false\n',
    )
    rules = RuleSet.load([default_rules_path(), user])
    assert assess("kill -9 42", shell=Shell.BASH, level=SafetyLevel.MODERATE, rules=rules).risk is Risk.HIGH
    reboot = assess("reboot", shell=Shell.BASH, level=SafetyLevel.MODERATE, rules=rules)
    assert "power" not in {f.rule_id for f in reboot.findings} and reboot.risk is Risk.MODERATE  # still not understood
    assert len(rules.rules) == len(RULES.rules) - 1


def test_user_utility_spec_teaches_new_flags(tmp_path: Path) -> None:
    user = _write(
        tmp_path,
        '[utility.nuke]\naliases = { "--everything" = "-a" }\n'
        '[[rule]]\nid = "nuke-all"\ncategory = "destructive_rm"\nrisk = "critical"\nmessage = "Nukes everything"\nutility = "nuke"\nflags_any = ["-a"]\n',
    )
    rules = RuleSet.load([default_rules_path(), user])
    for command in ("nuke --everything", "sudo nuke -va", "sh -c 'nuke -a'"):
        assert assess(command, shell=Shell.BASH, level=SafetyLevel.MODERATE, rules=rules).action is Action.BLOCKED


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (GOOD.replace('"process"', '"nonsense"'), "unknown category"),
        (GOOD.replace('"high"', '"extreme"'), "unknown risk"),
        (GOOD.replace('message = "m"\n', ""), "`message` is required"),
        (GOOD + 'args_any = ["[invalid regex("]\n', "invalid regex"),
        (GOOD + 'targets = ["everywhere"]\n', "unknown target class"),
        (GOOD + "colour = 1\n", "unknown keys"),
        (GOOD + 'shape = "spiral"\n', "unknown shape"),
        (GOOD.replace('"high"', '"safe"') + "allow = true\n" + GOOD.replace('id = "x"', 'id = "y"') + "allow = true\n", "allow rule"),
        (GOOD + 'target_from = ["elsewhere"]\n', "unknown target_from"),
        ('[[rule]]\ncategory = "process"\n', "no string `id`"),
        ("[[rule]\n", "not valid TOML"),
    ],
)
def test_bad_rule_files_raise_clear_errors(tmp_path: Path, text: str, fragment: str) -> None:
    path = _write(tmp_path, text, "broken.toml")
    with pytest.raises(ValueError) as info:
        RuleSet.load([path])
    assert "broken.toml" in str(info.value) and fragment in str(info.value)
    if "id = " in text and "no string" not in fragment and "TOML" not in fragment:
        assert "'x'" in str(info.value) or "'y'" in str(info.value)


def test_missing_rule_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="absent.toml"):
        RuleSet.load([tmp_path / "absent.toml"])


@pytest.mark.parametrize("args", [["-rf", "/"], ["-r", "-f", "/"], ["-fr", "/"], ["--recursive", "--force", "/"], ["-R", "-f", "/"], ["-f", "--", "/"]])
def test_rm_flags_normalise(args: list[str]) -> None:
    opts = parse_options(args, RULES.spec("rm"))
    assert opts.operands == ("/",) and "-f" in opts.flags
    if args != ["-f", "--", "/"]:
        assert "-r" in opts.flags


def test_option_parsing_per_utility() -> None:
    assert parse_options(["--", "-rf"], RULES.spec("rm")).operands == ("-rf",)
    chmod = parse_options(["-x", "file"], RULES.spec("chmod"))
    assert chmod.operands == ("-x", "file") and not chmod.flags
    kill = parse_options(["-9", "-1"], RULES.spec("kill"))
    assert kill.flags == {"-9"} and kill.operands == ("-1",)
    assert parse_options(["-s", "KILL", "42"], RULES.spec("kill")).flags == {"-9"}
    push = parse_options(["-C", "repo", "push", "-f", "origin", "main"], RULES.spec("git"))
    assert push.subcommand == ("push",) and "--force" in push.flags and push.operands == ("origin", "main")
    find = parse_options([".", "-name", "*.pyc", "-delete"], RULES.spec("find"))
    assert "-delete" in find.flags and find.operands == (".",)
    generic = parse_options(["-n5", "x"], UtilitySpec(takes_value=frozenset({"-n"})))
    assert generic.values["-n"] == ("5",)


@pytest.mark.parametrize(
    ("word", "cwd", "home", "expected"),
    [
        ("/", None, None, Target.ROOT), ("/*", None, None, Target.ROOT), ("//", None, None, Target.ROOT), ("/.", None, None, Target.ROOT),
        ("/etc/..", None, None, Target.ROOT), ("~", None, None, Target.HOME), ("~/", None, None, Target.HOME), ("~/*", None, None, Target.HOME),
        ("/home/alice", None, None, Target.HOME), ("/Users/bob/", None, None, Target.HOME), ("/root", None, None, Target.HOME),
        ("/etc", None, None, Target.SYSTEM_DIR), ("/usr/*", None, None, Target.SYSTEM_DIR), ("/System", None, None, Target.SYSTEM_DIR),
        ("/var/log/x", None, None, Target.SYSTEM_PATH), ("/etc/passwd", None, None, Target.ESSENTIAL), ("/boot/vmlinuz", None, None, Target.ESSENTIAL),
        ("/dev/sda", None, None, Target.DEVICE), ("/dev/nvme0n1", None, None, Target.DEVICE), ("/dev/disk2", None, None, Target.DEVICE),
        ("/dev/mmcblk0", None, None, Target.DEVICE), ("/dev/null", None, None, Target.PSEUDO_DEVICE), ("/dev/tcp/1.2.3.4/80", None, None, Target.NET_DEVICE),
        (".", None, None, Target.WORKDIR), ("*", None, None, Target.WORKDIR), ("./*", None, None, Target.WORKDIR), ("..", None, None, Target.WORKDIR),
        ("./target", None, None, Target.LOCAL), ("build/", None, None, Target.LOCAL), ("/tmp/x", None, None, Target.TMP),
        ("/data/x", None, None, Target.ABSOLUTE), ("~/.ssh/id_rsa", None, None, Target.SECRET), ("host:path", None, None, Target.REMOTE),
        ("https://x", None, None, Target.URL), ("*", "/", None, Target.ROOT), (".", "/home/a", "/home/a", Target.HOME), ("x", "/etc", None, Target.SYSTEM_PATH),
    ],
)
def test_target_classes(word: str, cwd: str | None, home: str | None, expected: Target) -> None:
    assert expected in classify(word, cwd, home)


def test_home_is_not_system_and_local_is_not_root() -> None:
    assert Target.SYSTEM_PATH not in classify("/home/alice/project/x")
    assert Target.ROOT not in classify("./target", "/home/alice/project")
    assert Target.HOME not in classify("~/project")
