"""Running a command confined, in a throwaway copy of a fixture directory.

The execution judge runs commands a model wrote; none of them may touch the machine. Each run
gets its own scratch folder (on /dev/shm when it can) holding a copy of the fixture, and runs
inside fresh Linux namespaces made by util-linux `unshare` (no root needed where unprivileged
user namespaces are allowed):

- user + mount: the scratch folder is bound over /tmp, so the command runs in /tmp/work (the
  same path every run) and /tmp is the only writable place it can reach; every other mount is
  remounted read-only; `$HOME` is hidden under an empty tmpfs (no dotfiles, history or keys are
  read, and nothing written there survives); `/dev` is replaced by a tmpfs holding only null,
  zero, full, random and urandom (no disks);
- net: a network namespace with nothing but a downed loopback, so nothing is reachable, not
  even 127.0.0.1 of the host;
- pid: the command sees only its own processes, and killing the namespace's first process on a
  timeout kills everything it started;
- then `setpriv` drops every capability (the bounding set too) with no_new_privs, so the
  command cannot undo the read-only mounts, and `prlimit` bounds file size and CPU time.

The wall-time limit is enforced from outside. When any of this is unavailable (no `unshare`,
user namespaces disabled, a kernel or AppArmor policy that refuses mounts), `problem()` says why
and the caller falls back to judging by equivalence: a command is never run unconfined.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The setup runs as the namespace's root, then execs the command without any capability. The
# scratch folder is bound over /tmp, so the command runs in /tmp/work (the same path in every
# run) and sees none of the machine's temporary files.
# $1 scratch folder, $2 home to hide ("" for none), $3 shell, $4 the command, $5 CPU seconds.
_SETUP = r"""
set -e
base=$1 home=$2 shell=$3 command=$4 cpu=$5
mount --make-rprivate /
mount -n --bind "$base" /tmp
# Each mount's flags are its own, so the order does not matter; mountinfo escapes spaces as \040.
while read -r _ _ _ _ mp _; do
  case $mp in *\\*) mp=$(printf '%b' "$mp") ;; esac
  [ "$mp" = /tmp ] || mount -n -o remount,bind,ro "$mp" 2>/dev/null || true
done < /proc/self/mountinfo
[ -n "$home" ] && mount -n -t tmpfs -o size=16m,mode=700 tmpfs "$home"
mount -n -t tmpfs -o size=64k,mode=755 tmpfs /tmp/dev
for n in null zero full random urandom; do
  : > "/tmp/dev/$n"; mount -n --bind "/dev/$n" "/tmp/dev/$n"
done
ln -s /proc/self/fd /tmp/dev/fd
ln -s fd/0 /tmp/dev/stdin; ln -s fd/1 /tmp/dev/stdout; ln -s fd/2 /tmp/dev/stderr
mount -n --move /tmp/dev /dev
mount -n -o remount,ro /dev
cd /tmp/work
: > /tmp/meta/ready
exec prlimit --fsize=67108864 --cpu="$cpu" --core=0 -- \
  setpriv --bounding-set=-all --inh-caps=-all --no-new-privs -- "$shell" -c "$command"
"""
WORKDIR = "/tmp/work"  # where the command runs, inside the sandbox
_UNSHARE = ("unshare", "--user", "--map-root-user", "--net", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc")
_TOOLS = ("unshare", "setpriv", "prlimit", "mount")

# Fixed identities and clock for git, so two runs that commit make the same objects.
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Caro Eval", "GIT_AUTHOR_EMAIL": "eval@example.com",
    "GIT_COMMITTER_NAME": "Caro Eval", "GIT_COMMITTER_EMAIL": "eval@example.com",
    "GIT_AUTHOR_DATE": "2024-06-01T12:00:00Z", "GIT_COMMITTER_DATE": "2024-06-01T12:00:00Z",
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0",
}
STDOUT_LIMIT = 1 << 20
STDERR_LIMIT = 16 << 10
TREE_LIMIT = 20_000
# The scratch folder's own time, fixed so that `ls -la` shows the same `..` in every run.
_SCRATCH_MTIME = 1_700_000_000


class SandboxError(Exception):
    """Confinement could not be set up for a run (never a failure of the command itself)."""


@dataclass(frozen=True)
class Run:
    """What one confined command did: its status, output and the files it left."""

    exit_code: int | None  # None when the wall-time limit stopped it
    stdout: str
    stderr: str
    tree: tuple[tuple[str, str], ...]  # (path relative to the fixture, what is there)
    workdir: str  # the absolute path the command ran in, for normalising its output

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None


@functools.cache
def problem() -> str | None:
    """Why commands cannot be confined on this machine, or None when they can (probed once)."""
    missing = [tool for tool in _TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not found (util-linux is needed)"
    with tempfile.TemporaryDirectory(prefix="caro-probe-", dir=_scratch_parent()) as tmp:
        template = Path(tmp) / "fixture"
        template.mkdir()
        try:
            run = run_confined("echo confined", template, timeout_s=20.0)
        except SandboxError as exc:
            return str(exc)
    if run.exit_code != 0 or run.stdout.strip() != "confined":
        return "the probe command did not run inside the sandbox"
    return None


def _scratch_parent() -> str:
    """Where scratch folders go: /dev/shm when it is usable (copying a fixture onto a disk
    costs ten times more), else the temp folder."""
    shm = "/dev/shm"
    try:
        if os.path.isdir(shm) and os.access(shm, os.W_OK) and os.statvfs(shm).f_bavail * os.statvfs(shm).f_frsize > 512 << 20:
            return shm
    except OSError:
        pass
    return tempfile.gettempdir()


def _home() -> str:
    """The home folder to hide under a tmpfs ("" when there is none, or it is / or under /tmp)."""
    home = os.path.realpath(os.path.expanduser("~"))
    if home == "/" or not os.path.isdir(home) or (home + "/").startswith("/tmp/"):
        return ""
    return home


def _environment(home: str, shell: str) -> dict[str, str]:
    return {
        "SHELL": shell,
        "PATH": _path(home),
        "HOME": home or "/tmp/tmp",
        "TMPDIR": "/tmp/tmp",
        "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC", "TERM": "dumb", "COLUMNS": "80",
        "PAGER": "cat", "USER": "root", "LOGNAME": "root",
        **_GIT_ENV,
    }


def _path(home: str) -> str:
    """PATH without the folders under $HOME, which the sandbox hides (pyenv shims would fail there)."""
    folders = os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep)
    kept = [f for f in folders if f and not (home and (os.path.realpath(f) + "/").startswith(home + "/"))]
    return os.pathsep.join(kept or ["/usr/bin", "/bin"])


def _read(path: Path, limit: int) -> str:
    with open(path, "rb") as handle:
        return handle.read(limit).decode("utf-8", errors="replace")


def run_confined(command: str, template: Path, *, shell: str = "bash", timeout_s: float = 10.0) -> Run:
    """Run `command` with `shell -c` in a fresh copy of `template`, confined; SandboxError if it cannot be."""
    shell_path = shutil.which(shell) or shutil.which("sh") or "/bin/sh"
    base = Path(tempfile.mkdtemp(prefix="caro-eval-", dir=_scratch_parent()))
    try:
        work = base / "work"
        shutil.copytree(template, work, symlinks=True)
        for name in ("tmp", "dev", "meta"):
            (base / name).mkdir()
        os.utime(base, (_SCRATCH_MTIME, _SCRATCH_MTIME))
        home = _home()
        argv = [*_UNSHARE, "sh", "-c", _SETUP, "caro-sandbox", str(base), home, shell_path, command,
                str(max(1, int(timeout_s) + 1))]
        with open(base / "meta" / "stdout", "wb") as out, open(base / "meta" / "stderr", "wb") as err:
            try:
                proc = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=_environment(home, shell_path),
                    cwd=str(base), start_new_session=True,
                )
            except OSError as exc:
                raise SandboxError(f"cannot start unshare ({type(exc).__name__})") from None
            try:
                code: int | None = proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                _kill(proc)
                code = None
        stderr = _read(base / "meta" / "stderr", STDERR_LIMIT)
        if not (base / "meta" / "ready").exists():
            first = next((line.strip() for line in stderr.splitlines() if line.strip()), "no message")
            raise SandboxError(f"the sandbox could not be set up: {first[:200]}")
        return Run(
            exit_code=code,
            stdout=_read(base / "meta" / "stdout", STDOUT_LIMIT),
            stderr=stderr,
            tree=tree_digest(work, reference=template),
            workdir=WORKDIR,
        )
    finally:
        _remove(base)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    # unshare --kill-child passes the kill on to the namespace's first process, and the
    # kernel then kills every process left in the pid namespace.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _remove(base: Path) -> None:
    def unlock(func: object, path: str, _exc: object) -> None:
        # A command may have taken permissions away (chmod 000 dir); give them back and retry.
        parent = os.path.dirname(path)
        for target in (parent, path):
            try:
                os.chmod(target, 0o700, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass

    shutil.rmtree(base, onerror=unlock)


def tree_digest(root: Path, reference: Path | None = None) -> tuple[tuple[str, str], ...]:
    """What is under `root`, entry by entry: type, permissions, content hash and, for files that
    also exist under `reference`, whether their modification time changed.

    Directory times are left out (creating a file changes them), and git's index is reduced to
    its entries (path, mode, object, stage), since git rewrites the cached stat data of a copy.
    """
    entries: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=lambda _e: None):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames) + sorted(filenames):
            if len(entries) >= TREE_LIMIT:
                entries.append(("...", f"more than {TREE_LIMIT} entries"))
                return tuple(entries)
            path = os.path.join(dirpath, name)
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            entries.append((rel, _describe(path, rel, reference)))
    return tuple(entries)


def _describe(path: str, rel: str, reference: Path | None) -> str:
    try:
        info = os.lstat(path)
    except OSError:
        return "vanished"
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return f"link -> {os.readlink(path)}"
    if stat.S_ISDIR(info.st_mode):
        return f"dir {mode:o}"
    if not stat.S_ISREG(info.st_mode):
        return f"special {mode:o}"
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return f"file {mode:o} unreadable"
    if rel == ".git/index" or rel.endswith("/.git/index"):
        content = _git_index(data)
    else:
        content = _archive(path, data) or hashlib.sha256(data).hexdigest()[:20]
    touched = ""
    if reference is not None:
        try:
            if os.lstat(reference / rel).st_mtime_ns != info.st_mtime_ns:
                touched = " touched"
        except OSError:
            pass  # a new file: its time says nothing
    return f"file {mode:o} {len(data)} {content}{touched}"


_COMPRESSION = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ", "xz"))
_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".zip")


def _archive(path: str, data: bytes) -> str | None:
    """A digest of an archive's members (name, type, mode, content), or None for other files.

    Two runs that pack the same files at different seconds write different bytes (gzip and tar
    headers hold the time of packing); what the archive holds is what the request is about.
    Members are read, never extracted.
    """
    if not path.endswith(_ARCHIVE_SUFFIXES):
        return None
    import io
    import tarfile
    import zipfile

    digest = hashlib.sha256()
    try:
        if path.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for info in archive.infolist():
                    digest.update(f"{info.filename}\0{info.external_attr >> 16:o}\0".encode())
                    digest.update(hashlib.sha256(archive.read(info)).digest())
            return "zip-" + digest.hexdigest()[:20]
        kind = next((name for magic, name in _COMPRESSION if data.startswith(magic)), "plain")
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as archive:
            for member in archive:
                digest.update(f"{member.name}\0{member.type!r}\0{member.mode:o}\0{member.linkname}\0".encode())
                handle = archive.extractfile(member) if member.isfile() else None
                if handle is not None:
                    digest.update(hashlib.sha256(handle.read()).digest())
        return f"tar-{kind}-" + digest.hexdigest()[:20]
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, ValueError, RuntimeError):
        return None


def _git_index(data: bytes) -> str:
    """A digest of a git index's entries (path, mode, object id, stage), without the stat cache."""
    if data[:4] != b"DIRC" or len(data) < 12:
        return hashlib.sha256(data).hexdigest()[:20]
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3):
        return "index-v%d-%s" % (version, hashlib.sha256(data).hexdigest()[:20])
    digest = hashlib.sha256()
    pos = 12
    try:
        for _ in range(count):
            mode = data[pos + 24 : pos + 28]
            object_id = data[pos + 40 : pos + 60]
            (flags,) = struct.unpack(">H", data[pos + 60 : pos + 62])
            start = pos + 62 + (2 if version == 3 and flags & 0x4000 else 0)
            end = data.index(b"\0", start)
            digest.update(mode + object_id + bytes([(flags >> 12) & 3]) + data[start:end] + b"\0")
            # An entry is padded with 1 to 8 NULs to a multiple of 8 bytes.
            pos += (start - pos + (end - start) + 8) & ~7
    except (ValueError, struct.error):
        return "index-bad-" + hashlib.sha256(data).hexdigest()[:20]
    return "index-" + digest.hexdigest()[:20]

