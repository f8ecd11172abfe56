"""Classes of the things a command acts on, worked out lexically from a word, cwd and home.

Nothing here touches the file system: `rm -rf ./build` is judged by its text and the working
directory the caller names, never by what is on disk.
"""

from __future__ import annotations

import posixpath
from enum import Enum
from functools import lru_cache

from pipeline.shell.words import DYNAMIC


class Target(str, Enum):
    """What a word names. Rule files list these in `targets`."""

    ROOT = "root"  # `/` itself or everything in it (`/*`, `/.`, `//`)
    HOME = "home"  # a home directory itself or everything in it (`~`, `$HOME/*`, `/home/alice`)
    SYSTEM_DIR = "system_dir"  # a top-level system directory itself or all of it (`/etc`, `/usr/*`)
    SYSTEM_PATH = "system_path"  # anything inside a system directory (`/etc/hosts`, `/var/log/x`)
    ESSENTIAL = "essential"  # files the system cannot boot or log in without (`/etc/passwd`, `/boot/*`)
    SUDOERS = "sudoers"  # `/etc/sudoers` and `/etc/sudoers.d/*`
    DEVICE = "device"  # a block device (`/dev/sda`, `/dev/nvme0n1`, `/dev/disk2`)
    PSEUDO_DEVICE = "pseudo_device"  # `/dev/null`, `/dev/zero`, `/dev/stdout` ...
    NET_DEVICE = "net_device"  # bash's `/dev/tcp/host/port` and `/dev/udp/...`
    ZERO_SOURCE = "zero_source"  # endless inputs: `/dev/zero`, `/dev/urandom`, `/dev/random`
    WORKDIR = "workdir"  # the whole working directory or its parent (`.`, `*`, `./*`, `..`)
    LOCAL = "local"  # a relative path inside the working directory (`build/`, `./target`)
    TMP = "tmp"  # under /tmp or /var/tmp
    ABSOLUTE = "absolute"  # any other absolute path
    DYNAMIC = "dynamic"  # depends on a variable or command output
    DYNAMIC_ROOT = "dynamic_root"  # `$DIR/...`: an empty variable makes it a path under /
    SECRET = "secret"  # keys and credentials (`~/.ssh/*`, `/etc/shadow`, `~/.aws/credentials`)
    REMOTE = "remote"  # `host:path` or `user@host:path`
    URL = "url"  # `scheme://...`
    STARTUP = "startup"  # runs by itself later: shell startup files, cron, autostart, authorized_keys
    ACCESS = "access"  # decides who may log in or become root: authorized_keys, sudoers, passwd, shadow
    HISTORY = "history"  # records of what was run: shell histories, wtmp, btmp, lastlog


SYSTEM_DIRS = frozenset(
    {
        "/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/boot", "/var", "/sys",
        "/proc", "/dev", "/opt", "/srv", "/root", "/home", "/Users", "/System", "/Library", "/Applications",
        "/private", "/private/etc", "/private/var", "/usr/bin", "/usr/sbin", "/usr/lib", "/usr/lib64",
        "/usr/local", "/usr/share", "/usr/include", "/var/lib", "/var/db", "/snap", "/efi",
        "/run", "/cores", "/nix", "/mnt", "/media", "/Volumes",
    }
)
_NOT_SYSTEM = ("/tmp", "/var/tmp", "/private/tmp", "/dev/shm")
_HOME_PARENTS = ("/home", "/Users")
_ESSENTIAL_FILES = frozenset(
    {
        "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/fstab",
        "/etc/hosts", "/etc/master.passwd", "/etc/ssh/sshd_config", "/etc/resolv.conf", "/etc/inittab",
        "/etc/crontab", "/etc/profile", "/etc/environment", "/etc/ld.so.preload", "/etc/pam.conf",
        "/proc/sysrq-trigger", "/proc/sys/kernel/sysrq", "/sys/power/state",
    }
)
_ESSENTIAL_DIRS = ("/boot", "/etc/pam.d", "/etc/sudoers.d", "/bin", "/sbin", "/usr/bin", "/usr/sbin", "/lib", "/usr/lib", "/System")
_PSEUDO = frozenset({"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/full", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "/dev/ptmx"})
_ZERO = frozenset({"/dev/zero", "/dev/urandom", "/dev/random"})
_BLOCK_PREFIXES = ("sd", "hd", "vd", "xvd", "nvme", "mmcblk", "disk", "rdisk", "md", "dm-", "loop", "sr", "nbd", "mapper/", "mtdblock", "zd", "rbd")
_SECRET_NAMES = ("id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".netrc", ".pgpass", ".git-credentials", "credentials", ".npmrc", ".pypirc", "shadow", "gshadow", "master.passwd", ".bash_history", ".zsh_history", "known_hosts", "authorized_keys", "private.key", ".env")
_SECRET_DIRS = ("/.ssh", "/.aws", "/.gnupg", "/.kube", "/.docker", "/.config/gcloud", "/.azure", "/Library/Keychains")
_HOME_VARS = (f"{DYNAMIC}$HOME{DYNAMIC}", f"{DYNAMIC}$USERPROFILE{DYNAMIC}")

_STANDIN_HOME = "/home/~"  # home when the caller does not say; never a real user's name
# Files and folders whose contents run by themselves later (at login, on a schedule, at boot) or
# let someone in: writing to them is how an attacker stays.
_STARTUP_NAMES = (
    "/.bashrc", "/.bash_profile", "/.bash_login", "/.bash_logout", "/.bash_aliases", "/.profile", "/.zshrc", "/.zshenv",
    "/.zprofile", "/.zlogin", "/.zlogout", "/.cshrc", "/.tcshrc", "/.kshrc", "/.mkshrc", "/.xinitrc", "/.xprofile",
    "/.xsession", "/.xsessionrc", "/.pam_environment", "/.ssh/authorized_keys", "/.ssh/authorized_keys2", "/.ssh/rc",
    "/.ssh/environment", "/.ssh/config", "/.gitconfig", "/.config/git/config", "/.vimrc", "/.exrc", "/.emacs",
    "/.tmux.conf", "/.inputrc", "/.config/fish/config.fish", "/.curlrc", "/.wgetrc", "/.npmrc", "/.pypirc",
    "/etc/profile", "/etc/bash.bashrc", "/etc/bashrc", "/etc/zshrc", "/etc/zshenv", "/etc/environment", "/etc/rc.local",
    "/etc/crontab", "/etc/ld.so.preload", "/etc/ld.so.conf", "/etc/anacrontab",
)
_STARTUP_DIRS = (
    "/.config/autostart", "/.config/systemd/user", "/.local/share/systemd/user", "/Library/LaunchAgents",
    "/Library/LaunchDaemons", "/.config/fish/conf.d", "/.config/fish/functions", "/.zsh", "/etc/profile.d",
    "/etc/zsh", "/etc/init.d", "/etc/rc.d", "/etc/cron.d", "/etc/cron.hourly", "/etc/cron.daily",
    "/etc/cron.weekly", "/etc/cron.monthly", "/var/spool/cron", "/etc/systemd/system", "/lib/systemd/system",
    "/usr/lib/systemd/system", "/etc/systemd/user", "/etc/ld.so.conf.d", "/etc/update-motd.d", "/etc/xdg/autostart",
    "/etc/sudoers.d", "/etc/security", "/etc/udev/rules.d", "/usr/lib/udev/rules.d", "/etc/apt/apt.conf.d",
)
_GLOB = frozenset("*?[")
_ACCESS_NAMES = ("/.ssh/authorized_keys", "/.ssh/authorized_keys2", "/.rhosts", "/.shosts", "/etc/hosts.equiv", "/etc/sudoers", "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/master.passwd", "/etc/ssh/sshd_config")
_HISTORY_NAMES = ("_history", "/.history", "/.lesshst", "/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog", "/var/run/utmp", "/run/utmp")


def classify(word: str, cwd: str | None = None, home: str | None = None) -> frozenset[Target]:
    """The classes of one argument word, resolved lexically against cwd and home."""
    if len(word) > _CACHE_WORD:
        return _uncached(word, cwd, home)  # keep huge words out of the cache
    return _cached(word, cwd, home)


_CACHE_WORD = 512


def _uncached(word: str, cwd: str | None, home: str | None) -> frozenset[Target]:
    found = _path(word, cwd, home)
    # `@file` and `name=@file` (curl -d, -F) name a file whose contents are sent.
    if word.startswith("@") and len(word) > 1:
        found |= _path(word.lstrip("@"), cwd, home)
    elif "=@" in word or "=<" in word:
        found |= _path(word.split("=", 1)[1][1:], cwd, home)
    return frozenset(found)


_cached = lru_cache(maxsize=8192)(_uncached)


def _path(word: str, cwd: str | None, home: str | None) -> set[Target]:
    """The classes of a word read as a path (or remote spec, or URL)."""
    found: set[Target] = set()
    if "://" in word and not word.startswith("/"):
        found.add(Target.URL)
        return found
    home_dir = home.rstrip("/") or "/" if home else _STANDIN_HOME
    for var in _HOME_VARS:
        if word.startswith(var):
            word = "~" + word[len(var):]
            break
    if DYNAMIC in word:
        found |= _dynamic(word, cwd, home, home_dir)
        return found
    if _is_remote(word):
        found.add(Target.REMOTE)
        return found
    path = word
    if path == "~" or path.startswith("~/"):
        path = home_dir + path[1:]
    elif path.startswith("~"):
        user = path[1:].split("/", 1)
        path = "/home/" + user[0] + ("/" + user[1] if len(user) > 1 else "")
    relative = not path.startswith("/")
    if relative and cwd is not None and DYNAMIC in cwd:
        return found | _relative_classes(path) | {Target.DYNAMIC}  # after `cd $x`: anywhere
    if relative:
        found |= _relative_classes(path)
        if cwd is None or not cwd.startswith("/"):
            found |= _name_classes(path)
            return found
        path = posixpath.join(cwd, path)
    found |= _absolute_classes(path, home_dir)
    return found


def _dynamic(word: str, cwd: str | None, home: str | None, home_dir: str) -> set[Target]:
    """A word with a run-time part: judged by the static text before the first marker."""
    found = {Target.DYNAMIC}
    prefix = word.split(DYNAMIC, 1)[0]
    if prefix == "" and word.startswith(DYNAMIC):
        rest = word.split(DYNAMIC, 2)[2] if word.count(DYNAMIC) >= 2 else ""
        if rest.startswith("/"):
            found.add(Target.DYNAMIC_ROOT)  # `"$DIR"/` or `$DIR/*`: empty $DIR means /
    elif prefix:
        base = prefix.rstrip("/") if "/" in prefix else ""
        if prefix == "/" or prefix.startswith("/") and base == "":
            found.add(Target.DYNAMIC_ROOT)
        elif base:
            found |= _path(base + "/x", cwd, home) - {Target.LOCAL, Target.ABSOLUTE}
    return found


def _is_remote(word: str) -> bool:
    # scp/rsync syntax: `host:path`, `user@host:path`; a `/` before the colon makes it a path.
    head, sep, _ = word.partition(":")
    return bool(sep) and bool(head) and "/" not in head and not head.startswith("-") and "=" not in head


def _relative_classes(path: str) -> set[Target]:
    """Classes of a relative word by its shape alone: the whole directory, or a path inside it."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or all(p in ("*", "..", ".*", "*.*") for p in parts) or parts == ["..", "*"]:
        return {Target.WORKDIR}
    if parts[0] == "..":
        return {Target.WORKDIR} if all(p in ("..", "*") for p in parts) else {Target.LOCAL}
    return {Target.LOCAL}


def _name_classes(path: str) -> set[Target]:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return {Target.SECRET} if _is_secret(path, name) else set()


def _is_secret(path: str, name: str) -> bool:
    return name in _SECRET_NAMES or name.startswith("id_") and "/.ssh" in path or any(d + "/" in path or path.endswith(d) for d in _SECRET_DIRS) or name.endswith((".pem", ".key", ".p12", ".kdbx"))


def _absolute_classes(path: str, home_dir: str) -> set[Target]:
    path = _through_proc(path)
    if any(ch in path for ch in _GLOB):
        glob = _glob_classes(path, home_dir)
        if glob is not None:
            return glob
    return _plain_classes(path, home_dir)


def _plain_classes(path: str, home_dir: str) -> set[Target]:
    """Classes of an absolute path; a final `/*` or `/.*` means everything in the folder."""
    found: set[Target] = set()
    everything = path.endswith("/*") or path.endswith("/.*")
    norm = _normalise((path[:-2] or "/") if everything else path)
    if _is_startup(norm):
        found.add(Target.STARTUP)
    if norm.endswith(_ACCESS_NAMES) or norm.startswith("/etc/sudoers.d/"):
        found.add(Target.ACCESS)
    if norm.endswith(_HISTORY_NAMES):
        found.add(Target.HISTORY)
    if norm == "/":
        return {Target.ROOT, Target.SYSTEM_DIR, Target.SYSTEM_PATH}
    home_norm = _normalise(home_dir)
    if norm == home_norm or _is_home_dir(norm):
        found.add(Target.HOME)
    if norm in _PSEUDO:
        found.add(Target.PSEUDO_DEVICE)
        if norm in _ZERO:
            found.add(Target.ZERO_SOURCE)
        return found
    if norm.startswith(("/dev/tcp/", "/dev/udp/")):
        return {Target.NET_DEVICE}
    if norm.startswith("/dev/fd/"):
        return {Target.PSEUDO_DEVICE}
    if norm.startswith("/dev/") and norm[5:].startswith(_BLOCK_PREFIXES):
        found.add(Target.DEVICE)
    if any(norm == t or norm.startswith(t + "/") for t in _NOT_SYSTEM):
        found.add(Target.TMP)
    elif norm in SYSTEM_DIRS:
        if Target.HOME not in found:
            found |= {Target.SYSTEM_DIR, Target.SYSTEM_PATH}
    elif any(norm.startswith(d + "/") for d in _system_roots(norm)) and not norm.startswith(home_norm + "/") and not _under_home(norm):
        found.add(Target.SYSTEM_PATH)
    if norm in _ESSENTIAL_FILES or any(norm == d or norm.startswith(d + "/") for d in _ESSENTIAL_DIRS):
        found.add(Target.ESSENTIAL)
    if norm == "/etc/sudoers" or norm.startswith("/etc/sudoers.d"):
        found.add(Target.SUDOERS)
    name = norm.rsplit("/", 1)[-1]
    if _is_secret(norm, name) or norm in ("/etc/passwd", "/etc/group", "/etc/sudoers"):
        found.add(Target.SECRET)
    if not found & {Target.HOME, Target.SYSTEM_PATH, Target.DEVICE, Target.TMP}:
        found.add(Target.ABSOLUTE)
    return found


def _through_proc(path: str) -> str:
    """`/proc/self/root/etc` is `/etc`: a process's `root` link is the filesystem root."""
    if not path.startswith("/proc/"):
        return path
    parts = path.split("/")
    if len(parts) > 3 and parts[3] == "root":
        return "/" + "/".join(parts[4:])
    return path


def _is_startup(norm: str) -> bool:
    return norm.endswith(_STARTUP_NAMES) or any(d + "/" in norm + "/" for d in _STARTUP_DIRS)


def _everything(component: str) -> bool:
    """Whether a glob component matches (nearly) every name in its folder: `*`, `.*`, `*.*`, `?*`."""
    return component.strip("*?") in ("", ".", ".[!.]", "[!.]") or component in ("*.*", ".??*")


def _glob_classes(path: str, home_dir: str) -> set[Target] | None:
    """Classes of an absolute path with a glob: what the folder before the first glob holds."""
    parts = path.split("/")
    first = next((i for i, p in enumerate(parts) if any(ch in p for ch in _GLOB)), None)
    if first is None:
        return None
    folder = "/".join(parts[:first]) or "/"
    rest = [p for p in parts[first:] if p not in ("", ".")]
    if rest and all(_everything(p) for p in rest):
        return _plain_classes(folder.rstrip("/") + "/*", home_dir)  # everything in that folder
    found = _plain_classes(folder.rstrip("/") + "/x", home_dir) - {Target.ABSOLUTE}
    norm = _normalise(folder)
    if norm == "/" or norm in SYSTEM_DIRS:
        found |= {Target.SYSTEM_DIR, Target.SYSTEM_PATH}  # `/e*` may be /etc; `/usr/*/bin` may be /usr/local/bin
    if any(f.startswith(norm.rstrip("/") + "/") for f in _ESSENTIAL_FILES) or any(d.startswith(norm.rstrip("/") + "/") or norm == d for d in _ESSENTIAL_DIRS):
        found.add(Target.ESSENTIAL)
    if norm == _normalise(home_dir) or _is_home_dir(norm):
        found.add(Target.HOME)  # `~/.b*` may be ~/.bashrc or ~/.ssh
    return found or {Target.ABSOLUTE}


def _system_roots(norm: str) -> tuple[str, ...]:
    top = "/" + norm.split("/", 2)[1]
    return (top,) if top in SYSTEM_DIRS and top not in _HOME_PARENTS else ()


def _is_home_dir(norm: str) -> bool:
    # `/home/alice`, `/Users/alice` and `/root` are somebody's home.
    if norm == "/root":
        return True
    head, _, name = norm.rpartition("/")
    return head in _HOME_PARENTS and bool(name) and name not in ("*", "Shared")


def _under_home(norm: str) -> bool:
    return norm.startswith("/root/") or any(norm.startswith(h + "/") for h in _HOME_PARENTS)


def _normalise(path: str) -> str:
    """Collapse `//`, `/./` and `..` lexically; `/..` stays `/`."""
    norm = posixpath.normpath(path)
    if norm.startswith("//"):
        norm = "/" + norm.lstrip("/")
    return norm
