"""Telling a typed command from a request that starts with a utility's name (pipeline/passthrough.py)."""

from __future__ import annotations

import pytest

from pipeline.passthrough import looks_like_command

# Requests that begin with a utility's name but are English: they go to the table or the model.
# The first three were run as commands before (issue 13): `sort` given a file named
# "numerically", `base64` a file named "encode", `which` three names of programs.
REQUESTS = [
    "sort data/numbers.txt numerically",
    "base64 encode LICENSE",
    "which package provides /usr/bin/curl",
    "sort names.txt alphabetically",
    "base64 decode secret.b64",
    "grep TODO recursively in src/",
    "which program handles .pdf files",
]

# Commands that look a little like those, and must still be taken as commands.
COMMANDS = [
    "sort -n data/numbers.txt",
    "sort data/numbers.txt",
    "base64 LICENSE",
    "base64 -d secret.b64",
    "which -a python3",
    "dnf provides /usr/bin/curl",
    "yum provides /usr/bin/curl",
    "grep -rn TODO src/",
    "kubectl apply -f deploy.yaml",
    "git commit -m 'make it work'",
    "docker ps -a",
    "apt install ripgrep",
    "find . -name '*.py'",
]


@pytest.mark.parametrize("text", REQUESTS)
def test_requests_that_start_with_a_utility_are_not_commands(text: str) -> None:
    assert not looks_like_command(text)


@pytest.mark.parametrize("text", COMMANDS)
def test_commands_are_still_commands(text: str) -> None:
    assert looks_like_command(text)
