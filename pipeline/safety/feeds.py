"""What feeds a command: earlier pipeline stages, substitutions in its words, what xargs reads, redirects."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.safety.targets import Target, classify
from pipeline.shell.finders import FOUND_MARK
from pipeline.shell.script import Redirect, Script
from pipeline.shell.unwrap import INPUT_MARK, Invocation
from pipeline.shell.words import is_dynamic


def xargs_input(feeder: Invocation | None) -> tuple[str, ...]:
    """What xargs reads, as words: echo's words, what ls lists, what find finds, or unknown."""
    if feeder is None:
        return (INPUT_MARK,)
    if feeder.name in ("echo", "printf"):
        text = " ".join(w for w in feeder.argv[1:] if not w.startswith("-"))
        words = tuple(w for w in text.replace("\\n", " ").replace("\\t", " ").split() if "%" not in w)
        return words if words and not is_dynamic(text) else (INPUT_MARK,)
    if feeder.name == "ls":
        # ls prints names, not paths: `xargs -I{} rm ~/{}` puts them under ~, a bare `xargs rm` under cwd.
        folders = [w for w in feeder.argv[1:] if not w.startswith("-")] or ["."]
        return ("*", *(f if f.endswith("/*") else (f.rstrip("/") + "/*" if f.rstrip("/") else "/*") for f in folders))
    if feeder.name == "find":
        return (FOUND_MARK,)
    return (INPUT_MARK,)


def feeds(script: Script, invocations: list[Invocation], cwd: str | None, home: str | None) -> list[tuple[frozenset[str], frozenset[Target]]]:
    """For each command, the names of the commands whose output it reads and the classes of what they read.

    Feeders are earlier stages of its pipeline and the commands inside substitutions in its
    words. Both are accumulated as sets in one pass, so a pipeline of thousands of stages
    stays linear.
    """
    own = [(inv.name, _classes([*inv.argv[1:], *ins(cmd.redirects)], cwd, home)) for cmd, inv in zip(script.commands, invocations)]
    hosted: dict[int, tuple[set[str], set[Target]]] = {}
    for i, cmd in enumerate(script.commands):
        if cmd.host is not None:
            names, classes = hosted.setdefault(cmd.host, (set(), set()))
            names.add(own[i][0])
            classes.update(own[i][1])
    state: dict[int, tuple[int, set[str], set[Target], set[str], set[Target]]] = {}
    result: list[tuple[frozenset[str], frozenset[Target]]] = []
    for i, cmd in enumerate(script.commands):
        host_names, host_classes = hosted.get(i, (set(), set()))
        names, classes = set(host_names), set(host_classes)
        if cmd.pipeline is not None:
            stage, before_n, before_c, cur_n, cur_c = state.get(cmd.pipeline, (0, set(), set(), set(), set()))
            if cmd.stage > stage:
                before_n, before_c, cur_n, cur_c = before_n | cur_n, before_c | cur_c, set(), set()
                stage = cmd.stage
            names |= before_n
            classes |= before_c
            cur_n.add(own[i][0])
            cur_c.update(own[i][1])
            state[cmd.pipeline] = (stage, before_n, before_c, cur_n, cur_c)
        result.append((frozenset(names), frozenset(classes)))
    return result


def _classes(words: list[str], cwd: str | None, home: str | None) -> frozenset[Target]:
    found: frozenset[Target] = frozenset()
    for word in words:
        found |= classify(word, cwd, home)
    return found


def outs(redirects: Sequence[Redirect]) -> tuple[str, ...]:
    """The files a command's redirects write to."""
    return tuple(r.target for r in redirects if r.writes)


def ins(redirects: Sequence[Redirect]) -> tuple[str, ...]:
    """The files a command's redirects read from (here-documents are text, not files)."""
    return tuple(r.target for r in redirects if r.op in ("<", "<>"))


# git configuration whose value is a command git runs (`!` for aliases and helpers).
_GIT_COMMANDS = ("core.sshcommand", "core.pager", "core.editor", "core.fsmonitor", "core.hookspath", "sequence.editor", "diff.external", "credential.helper", "pager.", "alias.", "gpg.program", "gpg.ssh.program", "uploadpack.packobjectshook", "filter.", "merge.", "difftool.", "mergetool.", "protocol.")


def later_shell(inv: Invocation) -> tuple[str, ...]:
    """Shell text a command stores to run later or elsewhere: an alias's body, a trap handler,
    `less +!CMD`, git's `-c core.sshCommand=CMD` or `git config alias.x '!CMD'`."""
    args = inv.argv[1:]
    if inv.name == "alias":
        return tuple(w.split("=", 1)[1] for w in args if "=" in w)
    if inv.name == "trap":
        return args[:1] if args and not args[0].startswith("-") else ()
    if inv.name in ("less", "more"):
        return tuple(w[2:] for w in args if w.startswith("+!"))
    if inv.name != "git":
        return ()
    settings = []
    for i, word in enumerate(args):
        setting = args[i + 1] if word == "-c" and i + 1 < len(args) else word[2:] if word.startswith("-c") and "=" in word else None
        if setting and "=" in setting:
            settings.append(tuple(setting.split("=", 1)))
    if "config" in args:
        rest = [w for w in args[args.index("config") + 1 :] if not w.startswith("-")]
        if len(rest) >= 2:
            settings.append((rest[0], rest[1]))
    found = []
    for key, value in settings:
        key = key.lower()
        if key.startswith("alias.") and not value.startswith("!"):
            continue  # an alias without `!` names another git command
        if key.startswith(_GIT_COMMANDS):
            found.append(value.lstrip("!"))
    return tuple(found)
