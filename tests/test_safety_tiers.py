"""The three tiers: what is allowed, what asks and why, user allow entries and wrappers, inline code, messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.safety import RuleSet, assess, default_rules_path
from pipeline.values import Action, Category, Risk, SafetyLevel, SafetyVerdict, Shell

RULES = RuleSet.load([default_rules_path()])


def judge(command: str, level: SafetyLevel = SafetyLevel.MODERATE, rules: RuleSet = RULES) -> SafetyVerdict:
    return assess(command, shell=Shell.BASH, level=level, rules=rules, cwd="/home/alice/project", home="/home/alice")


def test_every_allow_entry_says_why_and_the_files_load() -> None:
    assert len(RULES.allow.entries) > 300 and all(e.why for e in RULES.allow.entries.values())
    assert {"sudo", "coproc", "systemd-run", "nsenter", "parallel"} <= set(RULES.wrappers)


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        ("a=$(cat cmd.txt); $a -rf build", "cannot tell what `$a` runs"),
        ("frobnicate --all", "does not know what `frobnicate` does"),
        ("ls --color=auto; sort -o sorted.txt data.txt", "`sort` with the option `-o`"),
        ("cp notes.txt /data/notes.txt", "`cp` writes outside the working directory"),
        ("./build.sh", "runs a program by its path"),
        ("python3 setup.py install", "runs a script file"),
        ("python3 -c 'import socket; print(socket.gethostname())'", "python code"),
        ("sed 's/x/y/w out.txt' in.txt", "sed script"),
        ("LD_LIBRARY_PATH=/tmp/lib ls", "`LD_LIBRARY_PATH`"),
        ("echo hi > ~/notes.txt", "writes (with >) outside"),
        ("rm -rf \"$TARGET\"", "`$TARGET`"),
    ],
)
def test_what_caro_does_not_understand_asks_with_a_reason(command: str, reason: str) -> None:
    verdict = judge(command)
    assert verdict.action is Action.CONFIRM and Category.UNKNOWN in {f.category for f in verdict.findings}, verdict
    assert reason.lower() in verdict.explanation.lower(), verdict.explanation
    assert judge(command, SafetyLevel.PERMISSIVE).action is Action.ALLOWED  # permissive: the rules only, as before


def test_hidden_characters_ask_at_every_level() -> None:
    for level in SafetyLevel:
        assert judge("ls \u202e", level).action is Action.CONFIRM


def test_a_user_allow_entry_and_wrapper_extend_the_tiers(tmp_path: Path) -> None:
    user = tmp_path / "mine.toml"
    user.write_text(
        '[allow.frobnicate]\nwhy = "our build tool; reads only"\nflags = ["--all"]\n'
        '[wrapper.inside]\nwhy = "runs a command inside our sandbox"\npositional = 1\n',
        encoding="utf-8",
    )
    rules = RuleSet.load([default_rules_path(), user])
    assert judge("frobnicate --all", rules=rules).action is Action.ALLOWED
    assert judge("frobnicate --all --force", rules=rules).action is Action.CONFIRM
    assert judge("inside box ls -la", rules=rules).action is Action.ALLOWED
    assert judge("inside box ls -la").action is Action.CONFIRM  # without the user's wrapper
    assert judge("inside box rm -rf ~", rules=rules).action is Action.BLOCKED


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('[allow.x]\nflags = "*"\n', "`why` is required"),
        ('[allow.x]\nwhy = "w"\nwrite_targets = ["root"]\n', "write_targets may not include"),
        ('[allow.x]\nwhy = "w"\ncolour = 1\n', "unknown keys"),
        ('[allow.x]\nwhy = "w"\ncode = "cobol"\n', "unknown `code`"),
        ('[wrapper.x]\npositional = 1\n', "needs a `why`"),
        ('include = "x.toml"\n', "`include` must be a list"),
    ],
)
def test_bad_allow_entries_and_wrappers_raise_clear_errors(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as info:
        RuleSet.load([path])
    assert "broken.toml" in str(info.value) and fragment in str(info.value)


@pytest.mark.parametrize(
    ("command", "action"),
    [
        ("python3 -c 'import json,sys; print(json.dumps(sys.argv))'", Action.ALLOWED),
        ("python3 -c 'import os; print(os.path.exists(\"x\"))'", Action.ALLOWED),
        ("python3 -c 'import os; os.remove(\"notes.txt\")'", Action.CONFIRM),
        ("python3 -c 'import shutil; shutil.rmtree(\"/etc\")'", Action.BLOCKED),
        ("python3 -c 'open(\"/etc/passwd\", \"w\").write(\"\")'", Action.BLOCKED),
        ("perl -ne 'print if /x/' log", Action.ALLOWED),
        ("perl -i -pe 's/a/b/' notes.txt", Action.ALLOWED),
        ("perl -i -pe 's/a/b/' /etc/hosts", Action.BLOCKED),
        ("ruby -e 'puts 1+1'", Action.ALLOWED),
        ("node -e 'console.log(1)'", Action.ALLOWED),
        ("node -e 'require(\"fs\").writeFileSync(\"/etc/hosts\", \"\")'", Action.BLOCKED),
        ("awk '{print $2}' data", Action.ALLOWED),
        ("awk '{system(\"rm -rf ~\")}' data", Action.BLOCKED),
        ("awk '{print > \"/etc/passwd\"}' data", Action.BLOCKED),
        ("sed -n '1,5p' f", Action.ALLOWED),
        ("sed 's/.*/rm -rf ~/e' f", Action.CONFIRM),
        ("sed -f script.sed f", Action.CONFIRM),
    ],
)
def test_inline_code_is_judged_by_what_it_calls(command: str, action: Action) -> None:
    assert judge(command).action is action, judge(command)


def test_find_exec_rm_is_explained_as_deleting_found_files() -> None:
    """Issue 12, finding 13: it was explained as "Deletes the root filesystem"."""
    verdict = judge("find / -name '*.log' -exec rm {} \\;")
    assert verdict.action is Action.BLOCKED
    assert "root filesystem" not in verdict.explanation and "found" in verdict.explanation


def test_git_reset_hard_to_an_older_commit_says_commits_are_dropped() -> None:
    """Issue 12, finding 13: `git reset --hard HEAD~3` was explained as only discarding uncommitted changes."""
    older = judge("git reset --hard HEAD~3")
    assert older.risk is Risk.HIGH and "commits after it are dropped" in older.explanation
    here = judge("git reset --hard")
    assert "uncommitted" in here.explanation and "dropped" not in here.explanation
    assert "dropped" not in judge("git reset --hard HEAD").explanation


def test_force_push_is_history_rewrite_not_destructive_rm() -> None:
    """Issue 12, finding 13: a force push was categorised destructive_rm."""
    for command in ("git push --force origin main", "git push -f origin feature", "git push origin +main"):
        verdict = judge(command)
        assert "history_rewrite" in verdict.categories and "destructive_rm" not in verdict.categories, command


@pytest.mark.parametrize(
    "command",
    ["sudo hdparm -I /dev/sda", "sudo cat /dev/sda | head | xxd", "find . -name node_modules -prune -exec rm -rf {} +",
     "mkfs.ext4 -F ./disk.img", "sudo shutdown -c", "ln -s /usr/bin/python3 ~/bin/python"],
)
def test_issue_class_8_false_positives_are_allowed(command: str) -> None:
    verdict = judge(command)
    assert verdict.action is Action.ALLOWED, verdict
