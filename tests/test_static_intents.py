"""The table's breadth: 400+ intents, each reachable, the phrasings people type, and safe commands."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.equivalence import difference
from pipeline.static.schema import Domain, Intent
from pipeline.static.slot_types import SlotSpec, SlotType
from pipeline.static.table import StaticTable
from pipeline.values import Platform, Shell, Userland

GNU = Platform("linux", Userland.GNU, Shell.BASH)
BSD = Platform("macos", Userland.BSD, Shell.BASH)
TABLE = StaticTable.default()


def test_at_least_400_intents_in_every_domain() -> None:
    assert len(TABLE.intents) >= 400
    per_domain = Counter(intent.domain for intent in TABLE.intents)
    assert set(per_domain) == set(Domain)
    assert min(per_domain.values()) >= 8, per_domain


# ---- every intent can be reached ----------------------------------------------------------

_SAMPLES = {
    SlotType.SIZE: "over 10MB", SlotType.TIME: "in the last 2 days", SlotType.FILETYPE: "python",
    SlotType.DIRECTORY: "in /tmp/x", SlotType.COUNT: "7", SlotType.PORT: "port 8080", SlotType.TEXT: "'foo bar'",
    SlotType.FILE: "notes.txt", SlotType.HOST: "example.org", SlotType.URL: "https://example.org/x",
    SlotType.REV: "a1b2c3d",
}


def _slot_text(spec: SlotSpec, taken: set[str]) -> str:
    """A phrase that fills the slot: with its first leading trigger (which may stand for a
    required word), else a trailing trigger no required group needs, else quoted."""
    after = list(spec.after)
    before = [w for w in spec.before if w not in taken]
    if spec.type in (SlotType.WORD, SlotType.WORDS):
        return f"{after[0]} foo" if after else f"foo {before[0]}" if before else "'foo'"
    if spec.type is SlotType.FILE and spec.ext:
        return f"x.{spec.ext[0]}"
    if spec.type in (SlotType.FILE, SlotType.COUNT, SlotType.TEXT) and after:
        return f"{after[0]} {_SAMPLES[spec.type]}"
    return _SAMPLES[spec.type]


# Where the first words of each group make no sentence the intent can read, a natural request.
NATURAL = {
    "text.replace_in_files": "replace 'a' with 'b' in all txt files",
    "archives.create_tar_gz": "compress the logs directory",
    "archives.create_tar_plain": "tar the tests directory without compression",
    "archives.create_zip": "zip the docs folder into an archive",
    "disk.free_on_path": "how much space is left on /srv",
    "files.compare_dirs": "compare the directories between old and new",
}


def _synthetic_request(intent: Intent) -> str:
    """The intent's first required word of each group, with sample slot values."""
    if intent.id in NATURAL:
        return NATURAL[intent.id]
    words = [next((a for a in group if not a[0].startswith("{")), None) for group in intent.require]
    taken = {w for alt in words if alt for w in alt}
    slot_parts = {
        n: _slot_text(intent.slot(group[0][0][1:-1]), taken) for n, (group, alt) in enumerate(zip(intent.require, words)) if not alt
    }
    leading = {text.split()[0] for text in slot_parts.values()}
    parts = []
    for n, alt in enumerate(words):
        if alt is None:
            parts.append(slot_parts[n])
        elif not (len(alt) == 1 and alt[0] in leading):  # the slot's trigger stands for this word
            parts.append(" ".join(alt))
    return " ".join(parts)


def _platform(intent: Intent) -> Platform:
    if intent.command_for(Userland.GNU) is not None and (not intent.os or "linux" in intent.os):
        return GNU
    return BSD


@pytest.mark.parametrize("intent", TABLE.intents, ids=lambda i: i.id)
def test_every_intent_is_reachable(intent: Intent) -> None:
    request = _synthetic_request(intent)
    match = TABLE.match(request, _platform(intent))
    assert match is not None and match.intent_id == intent.id, (request, match and match.intent_id)


# ---- what people type ----------------------------------------------------------------------

PHRASINGS = [
    # the phrasings and their neighbours
    ("list the 5 largest files in this directory tree", "find . -type f -exec du -h {} + | sort -rh | head -n 5"),
    ("please list the 3 biggest files in this directory tree", "find . -type f -exec du -h {} + | sort -rh | head -n 3"),
    ("show the last 5 git commits one line each", "git log --oneline -n 5"),
    ("show the last 10 commits, one per line please", "git log --oneline -n 10"),
    ("show uncommitted changes in git", "git diff HEAD"),
    ("show the size of the src directory", "du -sh src"),
    ("how big is the src folder", "du -sh src"),
    ("show the size of /var/log", "du -sh /var/log"),
    ("please list all the log files in this directory tree", "find . -type f -name '*.log'"),
    ("find python files modified in the last 2 hours", "find . -type f -name '*.py' -mmin -120"),
    # files
    ("find files with spaces in their names", "find . -name '* *'"),
    ("list only the subdirectories of the current directory", "ls -d */"),
    ("find directories named node_modules", "find . -type d -name node_modules"),
    ("find files named readme.md ignoring case", "find . -type f -iname readme.md"),
    ("find jpg files in any case", "find . -type f -iname '*.jpg'"),
    ("find all files except python files", "find . -type f ! -name '*.py'"),
    ("find files newer than setup.cfg", "find . -type f -newer setup.cfg"),
    ("show the 3 smallest files", "find . -type f -exec du -h {} + | sort -h | head -n 3"),
    ("what is the newest file in the logs folder", "ls -t logs | head -n 1"),
    ("how many python files are there", "find . -type f -name '*.py' | wc -l"),
    ("count the directories under src", "find src -mindepth 1 -type d | wc -l"),
    ("total size of all log files", "find . -type f -name '*.log' -exec du -ch {} + | tail -n 1"),
    ("size of report.pdf in bytes", "stat -c %s report.pdf"),
    ("md5 checksum of data.csv", "md5sum data.csv"),
    ("sha256 of backup.tar.gz", "sha256sum backup.tar.gz"),
    ("show the full path of app.py", "realpath app.py"),
    ("where does latest.log point to", "readlink latest.log"),
    ("what is the mime type of logo.png", "file --mime-type logo.png"),
    ("make a directory called backup", "mkdir -p backup"),
    ("create an empty file named notes.txt", "touch notes.txt"),
    ("copy README.md to README.bak", "cp README.md README.bak"),
    ("copy the docs folder to archive", "cp -R docs archive"),
    ("make a backup copy of config.yaml", "cp config.yaml config.yaml.bak"),
    ("list files with human readable sizes", "ls -lh"),
    ("list the files one per line", "ls -1"),
    ("list files oldest first", "ls -ltr"),
    ("find setuid binaries", "find . -type f -perm -4000"),
    ("compare directories between old and new", "diff -rq old new"),
    # text and CSV
    ("most common line in access.log", "sort access.log | uniq -c | sort -rn | head -n 1"),
    ("show the duplicated lines in names.txt", "sort names.txt | uniq -d"),
    ("count unique lines in ips.txt", "sort -u ips.txt | wc -l"),
    ("sort numbers.txt numerically", "sort -n numbers.txt"),
    ("sort numbers.txt numerically in reverse", "sort -rn numbers.txt"),
    ("print the second column of people.csv", "cut -d, -f2 people.csv"),
    ("print column 3 of data.txt", "awk '{print $3}' data.txt"),
    ("show the header of sales.csv", "head -n 1 sales.csv"),
    ("how many rows are in sales.csv", "tail -n +2 sales.csv | wc -l"),
    ("how many columns does sales.csv have", "head -n 1 sales.csv | awk -F, '{print NF}'"),
    ("print people.csv without the header", "tail -n +2 people.csv"),
    ("convert people.csv to tab separated", "tr ',' '\\t' < people.csv"),
    ("show people.csv as a table", "column -s, -t < people.csv"),
    ("get the version key from package.json", "jq .version package.json"),
    ("list the keys in config.json", "jq 'keys' config.json"),
    ("check if config.json is valid", "jq empty config.json && echo valid"),
    ("convert notes.txt to uppercase", "tr '[:lower:]' '[:upper:]' < notes.txt"),
    ("reverse the lines of log.txt", "tac log.txt"),
    ("show app.py with line numbers", "cat -n app.py"),
    ("print notes.md without blank lines", "grep -v '^[[:space:]]*$' notes.md"),
    ("show line 10 of app.py", "sed -n '10p' app.py"),
    ("print app.log from line 100", "tail -n +100 app.log"),
    ("how many times does 'error' appear in app.log", "grep -o error app.log | wc -l"),
    ("word frequency in notes.md", "tr -s '[:space:]' '\\n' < notes.md | sort | uniq -c | sort -rn"),
    ("show lines in app.log that do not contain 'INFO'", "grep -v INFO app.log"),
    ("show lines around 'panic' in server.log", "grep -n -C 2 panic server.log"),
    ("count files containing 'TODO'", "grep -rl TODO . | wc -l"),
    ("extract urls from page.html", "grep -Eo 'https?://[^[:space:]\"<>]+' page.html | sort -u"),
    ("compare a.txt and b.txt side by side", "diff -y a.txt b.txt"),
    ("join the lines of names.txt with commas", "paste -sd, names.txt"),
    ("split big.log into files of 1000 lines", "split -l 1000 big.log"),
    ("base64 encode secret.txt", "base64 < secret.txt"),
    ("sum the numbers in numbers.txt", "awk '{s += $1} END {print s}' numbers.txt"),
    ("largest number in numbers.txt", "sort -n numbers.txt | tail -n 1"),
    ("shuffle the lines of deck.txt", "shuf deck.txt"),
    ("count errors in app.log", "grep -ci error app.log"),
    ("show errors in app.log", "grep -i error app.log"),
    # git
    ("show a summary of my changes", "git diff --stat"),
    ("show the staged changes to models.py", "git diff --staged -- models.py"),
    ("show the diff between main and develop branches", "git diff main develop"),
    ("show commit a1b2c3d", "git show a1b2c3d"),
    ("show files changed in the last commit", "git show --name-only --pretty=format: HEAD"),
    ("show the last commit message", "git log -1 --format=%B"),
    ("who made the last commit", "git log -1 --format='%an <%ae>'"),
    ("how many commits are there", "git rev-list --count HEAD"),
    ("show the first commit", "git log --reverse --oneline | head -n 1"),
    ("show the short hash of the current commit", "git rev-parse --short HEAD"),
    ("show untracked files", "git ls-files --others --exclude-standard"),
    ("create a new branch called feature/search", "git branch feature/search"),
    ("create and switch to a new branch called hotfix", "git checkout -b hotfix"),
    ("switch to the develop branch", "git checkout develop"),
    ("stage all changes", "git add -A"),
    ("unstage models.py", "git restore --staged -- models.py"),
    ("commit with message 'fix typo'", "git commit -m 'fix typo'"),
    ("commit all changes with message 'wip'", "git commit -am wip"),
    ("push my changes", "git push"),
    ("pull the latest changes", "git pull"),
    ("clone https://github.com/user/repo.git", "git clone https://github.com/user/repo.git"),
    ("initialize a git repository here", "git init"),
    ("create a tag v2.0", "git tag v2.0"),
    ("show commits that touched README.md", "git log --oneline -- README.md"),
    ("show commits that changed the scripts folder", "git log --oneline -- scripts"),
    ("list branches merged into main", "git branch --merged main"),
    ("list merged branches", "git branch --merged"),
    ("list remote branches", "git branch -r"),
    ("show files with merge conflicts", "git diff --name-only --diff-filter=U"),
    ("stash my changes", "git stash"),
    # processes
    ("show the open files of process 1234", "lsof -p 1234"),
    ("how much cpu is process 42 using", "ps -o pid,%cpu,time,command -p 42"),
    ("how long has process 1 been running", "ps -o etime= -p 1"),
    ("what is the pid of nginx", "pgrep nginx"),
    ("how many nginx processes are running", "pgrep nginx | wc -l"),
    ("monitor processes in real time", "top"),
    ("show all processes with full command lines", "ps auxww"),
    # network
    ("get the MX records for example.com", "dig +short MX example.com"),
    ("what is the ip address of example.com", "dig +short example.com"),
    ("reverse dns lookup of 8.8.8.8", "dig +short -x 8.8.8.8"),
    ("whois example.com", "whois example.com"),
    ("ping example.com 3 times", "ping -c 3 example.com"),
    ("download https://example.com/a.json and save it as a.json", "curl -fL -o a.json https://example.com/a.json"),
    ("ssh into db.example.com as admin", "ssh admin@db.example.com"),
    ("copy notes.txt to my home folder on server.example.com", "scp notes.txt server.example.com:"),
    ("what is my default gateway", "ip route show default"),
    ("show my mac address", "ip link show"),
    ("how many connections are established", "ss -tn state established | tail -n +2 | wc -l"),
    ("show the hosts file", "cat /etc/hosts"),
    # disk and system
    ("show the 5 largest directories here", "du -h -d 1 . | sort -rh | head -n 6"),
    ("how much space is left on /home", "df -h /home"),
    ("what architecture is this machine", "uname -m"),
    ("show my user id and groups", "id"),
    ("list all users", "cut -d: -f1 /etc/passwd"),
    ("show the resource limits", "ulimit -a"),
    ("what is my home directory", 'echo "$HOME"'),
    ("when did the system boot", "who -b"),
    ("list my cron jobs", "crontab -l"),
    ("current unix timestamp", "date +%s"),
    ("what version of python do i have", "python3 --version"),
    ("generate a random password of 20 characters", "LC_ALL=C tr -dc 'A-Za-z0-9' < /dev/urandom | head -c 20; echo"),
    ("generate a uuid", "uuidgen"),
    # docker and packages
    ("open a shell in container web", "docker exec -it web sh"),
    ("build an image tagged myapp", "docker build -t myapp ."),
    ("pull the ubuntu image", "docker pull ubuntu"),
    ("start the docker compose services in the background", "docker compose up -d"),
    ("show the ip address of container db", "docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{ end }}' db"),
    ("list dangling images", "docker images -f dangling=true"),
    ("list installed python packages", "python3 -m pip list"),
    ("show outdated pip packages", "python3 -m pip list --outdated"),
    ("list globally installed npm packages", "npm ls -g --depth=0"),
    ("list packages installed with homebrew", "brew list"),
    ("search apt for ripgrep", "apt-cache search ripgrep"),
]


@pytest.mark.parametrize(("request_", "command"), PHRASINGS, ids=[p[0] for p in PHRASINGS])
def test_phrasings(request_: str, command: str) -> None:
    match = TABLE.match(request_, GNU)
    assert match is not None, request_
    assert difference(match.command, command) is None, match.command


@pytest.mark.parametrize(
    ("request_", "command"),
    [
        ("size of report.pdf in bytes", "stat -f %z report.pdf"),
        ("md5 checksum of data.csv", "md5 data.csv"),
        ("reverse the lines of log.txt", "tail -r log.txt"),
        ("what is my default gateway", "route -n get default"),
        ("list all users", "dscl . -list /Users"),
        ("shuffle the lines of deck.txt", "sort -R deck.txt"),
        ("show the 5 largest directories here", "du -h -d 1 . | sort -rh | head -n 6"),
    ],
)
def test_bsd_phrasings(request_: str, command: str) -> None:
    match = TABLE.match(request_, BSD)
    assert match is not None and match.command == command


@pytest.mark.parametrize(
    ("base", "variants"),
    [
        ("find large files", ["please find large files", "find large files in this directory tree", "find large files recursively"]),
        ("list the 5 largest files", ["list the 5 largest files in this directory tree", "please list the 5 largest files"]),
        ("show the last 3 commits", ["show the last 3 commits one line each", "please show the last 3 commits, one per line"]),
        ("find empty files", ["find empty files in this directory tree", "please find empty files"]),
        ("search for 'TODO' in the code", ["please search for 'TODO' in the code in this directory tree"]),
    ],
)
def test_filler_changes_nothing(base: str, variants: list[str]) -> None:
    expected = TABLE.match(base, GNU)
    assert expected is not None
    for variant in variants:
        match = TABLE.match(variant, GNU)
        assert match is not None and match.command == expected.command, variant


@pytest.mark.parametrize(
    "request_",
    [
        "delete all .pyc files",  # destructive: never answered from the table, whatever the phrasing
        "remove the build folder",
        "install htop",
        "word frequency of the word error",  # "word" names what to count, not text to search
        "show the history of src/utils.py in docker",
        "count the running processes by name",
    ],
)
def test_requests_the_table_must_not_answer_wrongly(request_: str) -> None:
    match = TABLE.match(request_, GNU)
    assert match is None or not match.command.startswith(("docker history", "grep frequency", "pgrep running")), match.command
    if request_.startswith(("delete", "remove", "install")):
        assert match is None


# ---- the safety validator's word on every table command --------------------------------------

# Table commands the validator asks about at the default level, and why that is right (or, for
# the ones marked "report", a harmless command its allow-list does not know yet).
CONFIRMED = {
    "network.scp_to_host": "copies a file off the machine",
    "archives.extract_7z": "writes the archive's files (7z is not on the allow-list)",
    "archives.extract_rar": "writes the archive's files (unrar is not on the allow-list)",
    "docker.compose_down": "stops and removes the project's containers",
    "docker.compose_up": "starts containers",
    "docker.exec_shell": "runs a shell inside a container",
    "docker.start": "starts a container",
}


@pytest.fixture(scope="module")
def checker():
    from pipeline.service import Caro

    return Caro(backend="none").check


def test_every_table_command_is_allowed_unless_it_changes_the_machine(checker) -> None:
    from pipeline.values import Action

    verdicts = {}
    for intent in TABLE.intents:
        match = TABLE.match(_synthetic_request(intent), _platform(intent))
        assert match is not None
        verdicts[intent.id] = checker(match.command).action
    assert Action.BLOCKED not in verdicts.values()
    not_allowed = {name for name, action in verdicts.items() if action is not Action.ALLOWED}
    assert not_allowed == set(CONFIRMED)
