"""Fixture directories for the development set: what a user's project folder looks like.

`build(name, root)` fills the empty folder `root` with fixture `name`. Everything is
deterministic: file contents, sizes and permissions are fixed, and modification times are fixed
offsets from the moment of building (so "modified in the last 2 hours" always means the same
files). The `project` fixture is a git repository with a history, uncommitted changes, branches
and a tag, plus logs, CSV data, scripts, images, archives, nested and empty folders, symbolic
links and a few files of known sizes. `caro eval --fixtures bench/devset/fixtures.py` builds it
once per run and copies it for every command it runs.

Only the standard library and `git` are used.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import os
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

FIXTURES = ("project",)


def _sibling(name: str):  # noqa: ANN202 (a module)
    """A module beside this one; caro eval loads this file by path, so it is not on sys.path."""
    spec = importlib.util.spec_from_file_location(f"caro_devset_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


T = _sibling("fixture_texts")

MINUTE, HOUR, DAY = 60, 3600, 86400
# The age of every file not listed in AGES: two months.
DEFAULT_AGE = 60 * DAY
AGES = {
    "logs/app-1.log": 32 * MINUTE,
    "logs/app-2.log": 3 * HOUR,
    "logs/app-3.log": 3 * DAY,
    "logs/access.log": 20 * MINUTE,
    "logs/error.log": 5 * HOUR,
    "logs/archive/2024-01-01.log": 90 * DAY,
    "src/app.py": 90 * MINUTE,
    "src/utils.py": 26 * HOUR,
    "src/models.py": 10 * MINUTE,
    "README.md": 45 * MINUTE,
    "data/people.csv": 4 * DAY,
    "data/sales.csv": 9 * DAY,
    "scripts/new_tool.sh": 15 * MINUTE,
    "TODO.txt": 50 * MINUTE,
    "media/video.mp4": 40 * DAY,
    "media/large.bin": 100 * DAY,
    "build/output.bin": 12 * DAY,
}

def _log_lines(day: str, seed: int, count: int) -> str:
    levels = ["INFO", "INFO", "WARN", "INFO", "ERROR", "INFO", "DEBUG", "INFO", "ERROR", "INFO"]
    messages = {
        "INFO": ["request served in 12ms", "user login ok", "cache refreshed", "job finished"],
        "WARN": ["slow query took 950ms", "disk usage at 85%"],
        "ERROR": ["connection refused by db", "timeout talking to 10.0.0.7", "failed to parse payload"],
        "DEBUG": ["retrying request"],
    }
    out = []
    for i in range(count):
        level = levels[(i + seed) % len(levels)]
        options = messages[level]
        message = options[(i * 7 + seed) % len(options)]
        out.append(f"{day} {10 + i // 60:02d}:{i % 60:02d}:{(i * 13) % 60:02d} {level} {message}")
    return "\n".join(out) + "\n"


def _access_log() -> str:
    ips = ["192.168.1.10", "10.0.0.5", "192.168.1.10", "172.16.0.3", "10.0.0.5", "192.168.1.10", "203.0.113.9"]
    paths = ["/", "/api/items", "/api/items/3", "/login", "/static/app.js", "/missing"]
    statuses = [200, 200, 404, 200, 500, 200, 301, 200, 404, 200]
    out = []
    for i in range(30):
        ip, path, status = ips[i % len(ips)], paths[(i * 5) % len(paths)], statuses[(i * 3) % len(statuses)]
        size = 100 + (i * 37) % 900
        out.append(f'{ip} - - [01/Jun/2024:10:{i:02d}:00 +0000] "GET {path} HTTP/1.1" {status} {size} "-" "curl/8.0"')
    return "\n".join(out) + "\n"


def _png() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\x00\xff\x00" + b"\x00\x00\x00\xff\xff\xff\xff")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 6))
            info.external_attr = 0o644 << 16
            archive.writestr(info, text)
    return buffer.getvalue()


def _tar(members: dict[str, str], mode: str) -> bytes:
    buffer = io.BytesIO()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as archive:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.uname, info.gname = len(data), 1704164646, 0o644, "dev", "dev"
            archive.addfile(info, io.BytesIO(data))
    if mode == "gz":
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as packed:
            packed.write(raw.getvalue())
        return buffer.getvalue()
    import bz2

    return bz2.compress(raw.getvalue())


def _pattern_bytes(size: int, seed: int) -> bytes:
    block = bytes((i * 31 + seed) % 251 for i in range(4096))
    return (block * (size // len(block) + 1))[:size]


def _files() -> dict[str, str | bytes]:
    return {
        "README.md": T.README,
        "LICENSE": "MIT License\n\nCopyright (c) 2024 Inventory authors\n",
        "Makefile": T.MAKEFILE,
        "requirements.txt": T.REQUIREMENTS,
        ".gitignore": T.GITIGNORE,
        ".env.example": "PORT=8080\nDEBUG=false\n",
        "TODO.txt": T.TODO,
        "notes with spaces.txt": "a file whose name has spaces\n",
        "src/app.py": T.APP,
        "src/utils.py": T.UTILS,
        "src/models.py": T.MODELS,
        "src/__init__.py": "",
        "src/__pycache__/app.cpython-311.pyc": _pattern_bytes(600, 1),
        "src/__pycache__/utils.cpython-311.pyc": _pattern_bytes(480, 2),
        "src/legacy/old_module.py": "# kept for compatibility\nVALUE = 1\n",
        "src/legacy/old_module.pyc": _pattern_bytes(200, 3),
        "src/web/index.html": "<html><body><h1>Inventory</h1><script src=\"app.js\"></script></body></html>\n",
        "src/web/style.css": "body { font-family: sans-serif; }\nh1 { color: #333; }\n",
        "src/web/app.js": "console.log('inventory');\n// TODO: fetch items\n",
        "tests/test_app.py": T.TEST_APP,
        "tests/test_utils.py": T.TEST_UTILS,
        "scripts/deploy.sh": T.DEPLOY,
        "scripts/backup.sh": T.BACKUP,
        "scripts/cleanup.sh": T.CLEANUP,
        "scripts/new_tool.sh": T.NEW_TOOL,
        "scripts/notes.txt": "run deploy.sh after backup.sh\n",
        "logs/app-1.log": _log_lines("2024-06-03", 0, 40),
        "logs/app-2.log": _log_lines("2024-06-02", 3, 25),
        "logs/app-3.log": _log_lines("2024-05-30", 5, 12),
        "logs/access.log": _access_log(),
        "logs/error.log": "",
        "logs/archive/2024-01-01.log": _log_lines("2024-01-01", 1, 6),
        "data/people.csv": T.PEOPLE,
        "data/sales.csv": T.SALES,
        "data/config.json": T.CONFIG_JSON,
        "data/settings.yaml": T.SETTINGS_YAML,
        "data/fruits.txt": T.FRUITS,
        "data/numbers.txt": T.NUMBERS,
        "data/notes.md": T.NOTES,
        "data/empty.txt": "",
        "data/report.gz": gzip.compress(b"quarterly report\nrevenue up\n", mtime=0),
        "images/logo.png": _png(),
        "images/banner.png": _png(),  # the same bytes as logo.png: a duplicate to find
        "images/photo1.jpg": T.JPEG,
        "images/photo2.jpeg": T.JPEG + b"\x00" * 10,
        "images/icon.gif": T.GIF,
        "images/diagram.svg": T.SVG,
        "archives/bundle.zip": _zip({"bundle/a.txt": "alpha\n", "bundle/b.txt": "beta\n", "bundle/readme.md": "# bundle\n"}),
        "archives/backup.tar.gz": _tar({"backup/notes.txt": "notes\n", "backup/data.csv": "id,value\n1,2\n"}, "gz"),
        "archives/old-logs.tar.bz2": _tar({"old/one.log": "one\n", "old/two.log": "two\n"}, "bz2"),
        "docs/guide.md": "# Guide\n\nStart the service with make run.\nThe error page is at /error.\n",
        "docs/api.md": "# API\n\nGET /api/items lists items.\n",
        "docs/drafts/ideas.md": "- dark mode\n- export to csv\n",
        "media/video.mp4": _pattern_bytes(2_500_000, 4),
        "media/large.bin": _pattern_bytes(12 * 1024 * 1024, 5),
        "build/output.bin": _pattern_bytes(1_500_000, 6),
        "build/app.o": _pattern_bytes(60_000, 7),
        "data/dump.sql": "".join(f"INSERT INTO items VALUES ({n}, 'item-{n}', {n * 7 % 100});\n" for n in range(4000)),
    }


EXECUTABLE = ("scripts/deploy.sh", "scripts/backup.sh", "scripts/new_tool.sh")
EMPTY_DIRS = ("docs/empty", "tmp/cache")
SYMLINKS = {"latest.log": "logs/app-1.log", "docs/broken-link": "missing.md"}

# (age, author, message, paths) committed in order, each path with its final content except
# where _EARLY gives the content it had before a later commit changed it.
_HISTORY = (
    (30 * DAY, "Alice", "Initial commit", ("README.md", "LICENSE", ".gitignore", "Makefile", "src/__init__.py")),
    (20 * DAY, "Bob", "Add utils and app", ("src/app.py", "src/utils.py", "requirements.txt")),
    (10 * DAY, "Alice", "Add data files", ("data/people.csv", "data/sales.csv", "data/config.json", "data/settings.yaml")),
    (6 * DAY, "Bob", "Fix parser bug", ("src/utils.py",)),
    (3 * DAY, "Alice", "Add tests", ("tests/test_app.py", "tests/test_utils.py", "src/models.py")),
    (26 * HOUR, "Bob", "Add deployment scripts", ("scripts/deploy.sh", "scripts/backup.sh", "scripts/cleanup.sh", "scripts/notes.txt")),
    (5 * HOUR, "Alice", "Update docs and web assets", ("docs/guide.md", "docs/api.md", "src/web/index.html", "src/web/style.css", "src/web/app.js")),
)
_EARLY = {("Add utils and app", "src/utils.py"): T.UTILS.replace("    # FIXME: accept quoted fields\n", "").replace("\\w+", "[a-z]+")}
_AUTHORS = {"Alice": "alice@example.com", "Bob": "bob@example.com"}


def _git(root: Path, *args: str, when: float | None = None, author: str = "Alice") -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(root), "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": author, "GIT_AUTHOR_EMAIL": _AUTHORS[author],
        "GIT_COMMITTER_NAME": author, "GIT_COMMITTER_EMAIL": _AUTHORS[author], "LC_ALL": "C",
    }
    if when is not None:
        env["GIT_AUTHOR_DATE"] = env["GIT_COMMITTER_DATE"] = f"@{int(when)} +0000"
    subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True)


def _write(root: Path, rel: str, content: str | bytes) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)


def build_project(root: Path, now: float | None = None) -> None:
    """The `project` fixture in `root` (an empty folder)."""
    now = time.time() if now is None else now
    files = _files()
    _git(root, "init", "-q")
    _git(root, "symbolic-ref", "HEAD", "refs/heads/main")
    _git(root, "config", "core.fileMode", "true")
    for age, author, message, paths in _HISTORY:
        for rel in paths:
            _write(root, rel, _EARLY.get((message, rel), files[rel]))
            if rel in EXECUTABLE:
                os.chmod(root / rel, 0o755)
        _git(root, "add", "--", *paths)
        _git(root, "commit", "-q", "-m", message, when=now - age, author=author)
    _git(root, "tag", "v1.0", "HEAD~2")
    _git(root, "branch", "feature/login", "HEAD~1")
    _git(root, "branch", "bugfix/typo", "HEAD~3")
    for rel, content in files.items():
        _write(root, rel, content)
    # Uncommitted work: README.md changed (unstaged), models.py changed and staged, new files untracked.
    (root / "README.md").write_text(T.README + "\nContributions welcome.\n", encoding="utf-8")
    (root / "src/models.py").write_text(T.MODELS_CHANGED, encoding="utf-8")
    _git(root, "add", "src/models.py")
    for rel in EXECUTABLE:
        os.chmod(root / rel, 0o755)
    for rel in EMPTY_DIRS:
        (root / rel).mkdir(parents=True, exist_ok=True)
    for link, target in SYMLINKS.items():
        os.symlink(target, root / link)
    _set_times(root, now)


def _set_times(root: Path, now: float) -> None:
    """Every entry's time: its age from AGES, else two months; git's own files are two months old
    too, so that "files modified in the last hour" names only the project's files."""
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for name in filenames + dirnames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            when = now - AGES.get(rel, DEFAULT_AGE)
            os.utime(path, (when, when), follow_symlinks=False)
    os.utime(root, (now - DEFAULT_AGE, now - DEFAULT_AGE))


def build(name: str, root: Path) -> None:
    """Fill the empty folder `root` with fixture `name` (one of FIXTURES)."""
    if name != "project":
        raise KeyError(name)
    build_project(root)
