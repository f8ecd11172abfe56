"""What a simple command really runs, seen through wrappers such as sudo, env, nice and xargs.

`sudo -u root env A=1 nice -n 5 /bin/rm -rf /` runs `rm -rf /`; `sh -c '...'`, `eval ...` and
`su -c ...` run shell text that must be parsed again; `find ... -exec rm {} ;` spawns a command;
`curl ... | sh` makes `sh` read its script from its input. This module knows those shapes;
it knows nothing about danger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.shell.words import DYNAMIC, PROCSUB_MARK, is_dynamic

INPUT_MARK = f"{DYNAMIC}$__CARO_INPUT{DYNAMIC}"  # arguments that xargs reads from its input
MAX_WRAPPERS = 16

SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "fish", "csh", "tcsh", "yash", "posh"})
INTERPRETERS = frozenset({"python", "python2", "python3", "perl", "ruby", "node", "nodejs", "php", "lua", "osascript"})
_CODE_FLAGS = {"python": "-c", "python2": "-c", "python3": "-c", "perl": "-e", "ruby": "-e", "node": "-e", "nodejs": "-e", "php": "-r", "lua": "-e", "osascript": "-e"}
_PRIVILEGED = frozenset({"sudo", "doas", "pkexec", "run0", "su", "runuser"})


@dataclass(frozen=True)
class _Opts:
    """How a wrapper takes its options: which take a value, and which mark special modes."""

    short_value: str = ""  # short options that take a value (`-u root`, `-uroot`)
    long_value: frozenset[str] = frozenset()  # long options that take a value (`--user root`)
    assignments: bool = False  # `NAME=value` words may come before the command
    positional: int = 0  # operands the wrapper itself takes before the command (timeout DURATION)


_WRAPPERS: dict[str, _Opts] = {
    "sudo": _Opts("ugpChDrtTURc", frozenset({"--user", "--group", "--prompt", "--close-from", "--host", "--chdir", "--role", "--type", "--command-timeout", "--other-user", "--chroot", "--login-class"}), assignments=True),
    "doas": _Opts("uC"),
    "pkexec": _Opts("", frozenset({"--user"})),
    "run0": _Opts("uDg", frozenset({"--user", "--group", "--chdir", "--unit", "--property", "--description", "--slice", "--nice", "--setenv"})),
    "env": _Opts("uCS", frozenset({"--unset", "--chdir", "--split-string", "--default-signal", "--ignore-signal", "--block-signal"}), assignments=True),
    "nohup": _Opts(),
    "setsid": _Opts(),
    "time": _Opts("fo", frozenset({"--format", "--output"})),
    "nice": _Opts("n", frozenset({"--adjustment"})),
    "ionice": _Opts("cnpPtu", frozenset({"--class", "--classdata", "--pid", "--pgid", "--uid"})),
    "stdbuf": _Opts("ioe", frozenset({"--input", "--output", "--error"})),
    "timeout": _Opts("sk", frozenset({"--signal", "--kill-after"}), positional=1),
    "chroot": _Opts("", frozenset({"--userspec", "--groups", "--skip-chdir"}), positional=1),
    "exec": _Opts("a"),
    "command": _Opts(),
    "builtin": _Opts(),
    "unbuffer": _Opts(),
    "caffeinate": _Opts("tw"),
    "strace": _Opts("abeEoOpPsSuUX", frozenset({"--output", "--attach", "--user", "--trace"})),
    "ltrace": _Opts("aAeEfnopsSuxX", frozenset({"--output", "--user"})),
    "watch": _Opts("nqg", frozenset({"--interval", "--differences", "--equexit"})),
    "busybox": _Opts(),
    "toybox": _Opts(),
    "torsocks": _Opts("uaPp"),
    "proxychains": _Opts("f"),
    "proxychains4": _Opts("f"),
    "firejail": _Opts(),
    "flock": _Opts("wEc", frozenset({"--timeout", "--conflict-exit-code", "--command"}), positional=1),
    "xargs": _Opts("adEILnPs", frozenset({"--arg-file", "--delimiter", "--eof", "--replace", "--max-lines", "--max-args", "--max-procs", "--max-chars", "--process-slot-var"})),
}
_SHELL_VALUE_OPTS = frozenset({"-o", "+o", "-O", "+O", "--rcfile", "--init-file"})
_SSH_VALUE = "bcDEeFIiJLlmOopQRSWwB"


@dataclass(frozen=True)
class Invocation:
    """The command a simple command actually runs, and how it was reached."""

    argv: tuple[str, ...]  # argv[0] is the utility's basename in lower case
    wrappers: tuple[str, ...] = ()  # wrappers seen through, outermost first
    privileged: bool = False  # reached through sudo, doas, su, pkexec or run0
    scripts: tuple[str, ...] = ()  # shell text it runs (sh -c, eval, su -c, watch, ssh, env -S)
    script_input: bool = False  # runs code from its input, a `<(...)` file, or text built at run time
    code: str | None = None  # inline interpreter code (python -c, perl -e ...)
    spawned: tuple[tuple[str, ...], ...] = ()  # commands it starts itself (find -exec)
    too_deep: bool = False  # more wrappers than MAX_WRAPPERS

    @property
    def name(self) -> str:
        """The utility's name, or '' when there is none."""
        return self.argv[0] if self.argv else ""


def utility_name(word: str) -> str:
    """The name a command word runs: basename, lower case (macOS file systems ignore case)."""
    return word.rsplit("/", 1)[-1].lower() if "/" in word and not is_dynamic(word) else word.lower()


def unwrap(argv: Sequence[str], *, xargs_input: Sequence[str] = (INPUT_MARK,)) -> Invocation:
    """See through wrappers to the command that runs; `xargs_input` stands for what xargs reads."""
    args = list(argv)
    wrappers: list[str] = []
    privileged = False
    scripts: list[str] = []
    for _ in range(MAX_WRAPPERS):
        if not args:
            break
        name = utility_name(args[0])
        args[0] = name
        if name == "xargs":
            rest = _after_options(args, _WRAPPERS["xargs"])
            replace = _xargs_replace(args[1 : len(args) - len(rest)])
            rest = rest or ["echo"]
            if replace is not None:
                rest = [rest[0]] + [w.replace(replace, xargs_input[0]) if replace in w else w for w in rest[1:]]
                if not any(xargs_input[0] in w for w in rest[1:]):
                    rest = rest + list(xargs_input)
            else:
                rest = rest + list(xargs_input)
            wrappers.append(name)
            args = rest
            continue
        if name in ("su", "runuser"):
            command = _value_of(args[1:], "-c", "--command")
            if command is None:
                break
            wrappers.append(name)
            return _finish([name], wrappers, True, scripts + [command])
        if name == "watch" and "-x" not in args and "--exec" not in args:
            rest = _after_options(args, _WRAPPERS["watch"])
            if not rest:
                break
            wrappers.append(name)
            return _finish(["watch"], wrappers, privileged, scripts + [" ".join(rest)])
        if name == "flock" and ("-c" in args or "--command" in args):
            command = _value_of(args[1:], "-c", "--command")
            wrappers.append(name)
            return _finish(["flock"], wrappers, privileged, scripts + [command or ""])
        if name == "env":
            split = _value_of(args[1:], "-S", "--split-string")
            if split is not None:
                scripts.append(split)
        if name in ("command", "builtin") and len(args) > 1 and args[1] in ("-v", "-V"):
            break  # `command -v rm` only looks the name up
        opts = _WRAPPERS.get(name)
        if name == "busybox" or name == "toybox":
            opts = _Opts()
        if opts is None:
            break
        rest = _after_options(args, opts)
        if not rest:
            break  # `sudo -i`, `env` alone: the wrapper itself is the command
        wrappers.append(name)
        privileged = privileged or name in _PRIVILEGED
        args = rest
    else:
        return _finish(args, wrappers, privileged, scripts, too_deep=True)
    return _finish(args, wrappers, privileged, scripts)


def _finish(args: list[str], wrappers: list[str], privileged: bool, scripts: list[str], *, too_deep: bool = False) -> Invocation:
    """Work out what the innermost command runs: shell text, its input, interpreter code, -exec."""
    name = utility_name(args[0]) if args else ""
    argv = (name, *args[1:]) if args else ()
    script_input = False
    code: str | None = None
    spawned: tuple[tuple[str, ...], ...] = ()
    if name in SHELLS:
        text, reads_input = _shell_script(argv)
        if text is not None:
            scripts.append(text)
            script_input = is_dynamic(text)
        script_input = script_input or reads_input
    elif name == "eval":
        text = " ".join(argv[1:])
        scripts.append(text)
        script_input = is_dynamic(text)
    elif name in ("source", "."):
        script_input = len(argv) > 1 and _is_input_file(argv[1])
    elif name in INTERPRETERS:
        code, script_input = _interpreter(argv)
    elif name == "ssh":
        remote = _ssh_command(argv)
        if remote:
            scripts.append(remote)
    elif name == "find":
        spawned = _find_exec(argv)
    return Invocation(
        argv=argv,
        wrappers=tuple(wrappers),
        privileged=privileged,
        scripts=tuple(scripts),
        script_input=script_input,
        code=code,
        spawned=spawned,
        too_deep=too_deep,
    )


def _after_options(args: list[str], opts: _Opts) -> list[str]:
    """The words after a wrapper's own options, assignments and positional operands."""
    i, n = 1, len(args)
    while i < n:
        word = args[i]
        if word == "--":
            i += 1
            break
        if word.startswith("--"):
            key = word.split("=", 1)[0]
            i += 2 if key in opts.long_value and "=" not in word else 1
            continue
        if word.startswith("-") and len(word) > 1:
            i += 1
            for pos, letter in enumerate(word[1:], start=1):
                if letter in opts.short_value:
                    if pos == len(word) - 1:
                        i += 1  # the value is the next word
                    break
            continue
        if opts.assignments and "=" in word and not word.startswith("=") and word.split("=", 1)[0].replace("_", "a").isalnum():
            i += 1
            continue
        break
    i += opts.positional
    return args[i:] if i < n else []


def _value_of(args: Sequence[str], short: str, long: str) -> str | None:
    """The value of an option given as `-c VALUE`, `-cVALUE`, `--long VALUE` or `--long=VALUE`."""
    for i, word in enumerate(args):
        if word in (short, long):
            return args[i + 1] if i + 1 < len(args) else None
        if word.startswith(long + "="):
            return word[len(long) + 1 :]
        if word.startswith(short) and len(word) > len(short) and not word.startswith("--"):
            return word[len(short) :]
    return None


def _xargs_replace(options: Sequence[str]) -> str | None:
    for i, word in enumerate(options):
        if word == "-I" and i + 1 < len(options):
            return options[i + 1]
        if word.startswith("-I") and len(word) > 2:
            return word[2:]
        if word.startswith("--replace"):
            return word.split("=", 1)[1] if "=" in word else "{}"
        if word == "-i":
            return "{}"
    return None


def _shell_script(argv: Sequence[str]) -> tuple[str | None, bool]:
    """For `sh [options] [-c text | file]`: the text it runs and whether it reads code from input."""
    i, n = 1, len(argv)
    command_mode = False
    stdin_mode = False
    while i < n:
        word = argv[i]
        if word in ("--", "-"):
            i += 1
            stdin_mode = stdin_mode or word == "-"
            break
        if word in _SHELL_VALUE_OPTS:
            i += 2
            continue
        if word.startswith("--"):
            i += 1
            continue
        if (word.startswith("-") or word.startswith("+")) and len(word) > 1:
            command_mode = command_mode or "c" in word[1:]
            stdin_mode = stdin_mode or "s" in word[1:]
            i += 1
            continue
        break
    if command_mode:
        return (argv[i] if i < n else ""), False
    if i >= n or stdin_mode:
        return None, True
    return None, _is_input_file(argv[i])


def _is_input_file(word: str) -> bool:
    return word in ("/dev/stdin", "-", "/dev/fd/0") or word == PROCSUB_MARK or word.startswith(PROCSUB_MARK)


def _interpreter(argv: Sequence[str]) -> tuple[str | None, bool]:
    """Inline code of `python -c`, `perl -e` ... and whether the interpreter reads code from input."""
    flag = _CODE_FLAGS.get(argv[0], "-e")
    for i, word in enumerate(argv[1:], start=1):
        if word == flag or (word.startswith("-") and not word.startswith("--") and word.endswith(flag[1]) and len(word) <= 4):
            return (argv[i + 1] if i + 1 < len(argv) else ""), False
        if word == "-m" or word == "-" :
            return None, word == "-"
        if not word.startswith("-"):
            return None, _is_input_file(word)
    return None, True


def _ssh_command(argv: Sequence[str]) -> str | None:
    """The remote command of `ssh [options] host command...`, joined as the remote shell reads it."""
    i, n = 1, len(argv)
    while i < n:
        word = argv[i]
        if word == "--":
            i += 1
            break
        if word.startswith("-") and len(word) > 1:
            i += 2 if word[-1] in _SSH_VALUE and len(word) == 2 else 1
            continue
        break
    return " ".join(argv[i + 1 :]) if i + 1 < n else None


def find_paths(argv: Sequence[str]) -> tuple[str, ...]:
    """What `find` walks, as glob words: `find / -name x` finds things in `/*`."""
    paths: list[str] = []
    for word in argv[1:]:
        if word.startswith("-") or word in ("(", "!", ")"):
            break
        paths.append(word)
    return tuple(p.rstrip("/") + "/*" if p.rstrip("/") else "/*" for p in (paths or ["."]))


def _find_exec(argv: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """Commands `find` runs through -exec/-execdir/-ok/-okdir, with `{}` standing for what it finds."""
    found = find_paths(argv)
    spawned: list[tuple[str, ...]] = []
    i, n = 1, len(argv)
    while i < n:
        if argv[i] in ("-exec", "-execdir", "-ok", "-okdir"):
            j = i + 1
            while j < n and argv[j] not in (";", "+"):
                j += 1
            words: list[str] = []
            for w in argv[i + 1 : j]:
                words.extend(found if w == "{}" else [w.replace("{}", found[0])] if "{}" in w else [w])
            if words:
                spawned.append(tuple(words))
            i = j + 1
        else:
            i += 1
    return tuple(spawned)
