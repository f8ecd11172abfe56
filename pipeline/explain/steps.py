"""A command line explained step by step, from the shell parser, the wrappers it sees through and
each utility's own documentation. Nothing here runs the command or any part of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from pipeline.explain.docs import DocSource, UtilityDocs
from pipeline.explain.model import Explanation, Step
from pipeline.explain.structure import Link, layout, parsed_source
from pipeline.explain.words import readable, read_options, redirection, shown, shown_command
from pipeline.shell import Invocation, Redirect, parse_script, strip_markers, unwrap
from pipeline.shell.unwrap import utility_name
from pipeline.values import Userland

MAX_DEPTH = 4  # scripts inside scripts (`sh -c "sh -c '...'"`) are explained this deep

_WRAPPER_NOTES = {
    "sudo": "runs the command below as another user, by default root",
    "doas": "runs the command below as another user, by default root",
    "pkexec": "runs the command below as another user, by default root",
    "run0": "runs the command below as another user, by default root",
    "env": "runs the command below with the environment changed as given",
    "nice": "runs the command below with a changed scheduling priority",
    "ionice": "runs the command below with a changed I/O priority",
    "nohup": "runs the command below so that it keeps running after the terminal closes",
    "setsid": "runs the command below in a new session",
    "timeout": "runs the command below and stops it when the time limit is reached",
    "time": "runs the command below and reports how long it took",
    "xargs": "runs the command below with the items it reads from its input added as arguments",
    "stdbuf": "runs the command below with changed buffering of its standard streams",
    "chroot": "runs the command below with another directory as the root directory",
    "exec": "replaces the shell with the command below",
    "command": "runs the command below, bypassing shell functions and aliases",
    "flock": "runs the command below while holding a file lock",
    "watch": "runs the command below again and again, showing its output",
    "strace": "runs the command below while tracing its system calls",
}


def explain(command: str, *, userland: Userland = Userland.GNU) -> Explanation:
    """The command line `command` explained: each simple command in order, with how they connect."""
    return _explain(command, userland, 0)


def _explain(command: str, userland: Userland, depth: int) -> Explanation:
    script = parse_script(command)
    shape = layout(command)
    src = parsed_source(command)
    commands = script.commands
    # A command leads to the next one in the same substitution and the same compound region.
    levels = [(shape.scope_of(c.span), shape.where(c.span)) for c in commands]
    following: list[int | None] = [None] * len(commands)
    seen: dict[tuple[int, str | None], int] = {}
    for index in reversed(range(len(commands))):
        following[index] = seen.get(levels[index])
        seen[levels[index]] = index
    steps: list[Step] = []
    for index, simple in enumerate(commands):
        text = readable(src[simple.span[0] : simple.span[1]].decode("utf-8", "replace"))
        step = _step(simple.argv, userland, depth, text=text, assignments=simple.assignments, redirects=simple.redirects)
        where = levels[index][1]
        if simple.in_substitution and simple.host is not None:
            where = f"inside a $(…) or <(…) of step {simple.host + 1}: that command uses its output"
        after = following[index]
        if simple.pipes_to_next:
            link: Link | None = Link.PIPE
        elif after is not None:
            link = shape.link(simple.span, commands[after].span)
        else:
            link = Link.BACKGROUND if simple.background else None
        notes = step.notes + (("runs in the background",) if simple.background and link is not Link.BACKGROUND else ())
        steps.append(replace(step, where=where, next=link, notes=notes))
    compound = tuple(redirection(r) for r in script.redirects if r.owner is None)
    return Explanation(command=command, steps=tuple(steps), parsed=script.ok, problem=script.error, redirections=compound)


def _inner_start(argv: Sequence[str], outer: Invocation) -> int:
    """Where the command a wrapper runs begins in `argv` (len(argv) when it cannot be told)."""
    rest = outer.wrappers[1:]
    for k in range(1, len(argv)):
        inner = unwrap(argv[k:])
        if inner.wrappers == rest and inner.argv[:1] == outer.argv[:1]:
            return k
    return len(argv)


def _step(
    argv: Sequence[str],
    userland: Userland,
    depth: int,
    *,
    text: str,
    assignments: Sequence[str] = (),
    redirects: Sequence[Redirect] = (),
) -> Step:
    """One simple command explained; what a wrapper or `find -exec` runs comes as nested steps."""
    shown_assignments = tuple(shown(a) for a in assignments)
    shown_redirects = tuple(redirection(r) for r in redirects)
    if not argv:
        names = ", ".join(a.split("=", 1)[0] for a in shown_assignments)
        return Step(text, "", True, None, DocSource.NONE, assignments=shown_assignments, redirections=shown_redirects,
                    notes=(f"sets the shell variable{'s' if len(assignments) > 1 else ''} {names}",) if names else ())
    name = utility_name(argv[0])
    docs = UtilityDocs(name, userland)
    summary, source = docs.summary()
    outer = unwrap(argv)
    notes: list[str] = []
    runs: list[Step] = []
    own = list(argv)
    if outer.wrappers and not (outer.argv[:1] == (name,) and outer.scripts):
        start = _inner_start(argv, outer)
        own, inner = list(argv[:start]), list(argv[start:])
        if inner:
            notes.append(_WRAPPER_NOTES.get(name, "runs the command below"))
            runs.append(_step(inner, userland, depth + 1, text=shown_command(inner)))
    else:
        runs.extend(_runs(outer, userland, depth, notes))
    if shown_assignments:
        notes.append("runs with these environment variables set: " + ", ".join(shown_assignments))
    if not docs.installed:
        notes.append("not found here: not on PATH and not a shell builtin")
    options, arguments = read_options(own, docs)
    return Step(
        text=text,
        utility=name,
        installed=docs.installed,
        summary=summary,
        summary_source=source,
        options=options,
        arguments=arguments,
        assignments=shown_assignments,
        redirections=shown_redirects,
        notes=tuple(notes),
        runs=tuple(runs),
    )


def _runs(invocation: Invocation, userland: Userland, depth: int, notes: list[str]) -> list[Step]:
    """What a command runs itself: shell text (`sh -c`, `eval`, `ssh host CMD`), `find -exec`, inline code."""
    runs: list[Step] = []
    for script in invocation.scripts:
        notes.append("runs this shell code, explained below: " + shown(script))
        if depth < MAX_DEPTH:
            # Stripped of markers the text parses again; their stand-ins read as `$(…)` once more.
            runs.extend(_explain(strip_markers(script), userland, depth + 1).steps)
    for spawned in invocation.spawned:
        notes.append("runs a command for the files it finds, explained below ({} is a file name)")
        runs.append(_step(spawned, userland, depth + 1, text=shown_command(spawned)))
    if invocation.code is not None:
        notes.append(f"runs inline {invocation.name} code, which caro does not explain: " + shown(invocation.code))
    if invocation.script_input:
        notes.append("runs code it reads from its input or that is built when it runs: caro cannot see it")
    return runs
