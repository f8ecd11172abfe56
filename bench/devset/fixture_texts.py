"""Text contents of the development set's `project` fixture (imported by fixtures.py)."""

README = """# Inventory service

A small service that keeps track of stock levels.

## Setup

Run `make install` and then `make run`.

## Usage

The service listens on port 8080.
TODO: document the API endpoints.
See docs/guide.md for details.
"""

APP = '''import json
import os
import sys

from utils import load_config, parse_line


def main():
    # TODO: read the port from the environment
    config = load_config("data/config.json")
    for line in sys.stdin:
        record = parse_line(line)
        if record is None:
            print("error: cannot parse line", file=sys.stderr)
            continue
        print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''

UTILS = '''import json
import re

PATTERN = re.compile(r"^(\\w+),(\\d+)$")


def load_config(path):
    with open(path) as handle:
        return json.load(handle)


def parse_line(line):
    # FIXME: accept quoted fields
    match = PATTERN.match(line.strip())
    if not match:
        return None
    return {"name": match.group(1), "count": int(match.group(2))}
'''

MODELS = '''from dataclasses import dataclass


@dataclass
class Item:
    name: str
    count: int = 0

    def restock(self, amount):
        self.count += amount
'''

MODELS_CHANGED = MODELS + '''
    def sell(self, amount):
        if amount > self.count:
            raise ValueError("not enough stock")
        self.count -= amount
'''

TEST_APP = '''from app import main


def test_main_returns_zero():
    assert main() == 0
'''

TEST_UTILS = '''from utils import parse_line


def test_parse_line():
    assert parse_line("apples,3") == {"name": "apples", "count": 3}


def test_parse_line_error():
    assert parse_line("nonsense") is None
'''

PEOPLE = """name,age,city,email
Alice Smith,34,London,alice@example.com
Bob Jones,27,Paris,bob@example.org
Carol White,45,Berlin,carol@example.com
Dan Brown,31,London,dan@example.net
Eve Black,29,Madrid,eve@example.com
Frank Green,52,Paris,frank@example.org
Grace Hall,38,Berlin,grace@example.com
Heidi King,23,London,heidi@example.com
Ivan Lee,41,Rome,ivan@example.net
Judy Moss,36,Madrid,judy@example.com
"""

SALES = """date,region,product,amount
2024-01-03,north,widget,120
2024-01-04,south,gadget,80
2024-01-04,north,gadget,45
2024-01-05,east,widget,200
2024-01-06,west,gizmo,15
2024-01-07,south,widget,90
2024-01-08,north,gizmo,60
2024-01-09,east,gadget,110
"""

CONFIG_JSON = '{"name": "inventory", "port": 8080, "debug": false, "features": ["restock", "sell"], "db": {"host": "localhost", "port": 5432}}\n'

SETTINGS_YAML = """service:
  name: inventory
  port: 8080
logging:
  level: info
"""

FRUITS = "banana\napple\ncherry\napple\nbanana\ndate\napple\nelderberry\n"
NUMBERS = "".join(f"{n}\n" for n in (42, 7, 19, 3, 88, 23, 7, 61, 5, 14))
NOTES = "Meeting notes\n\nDiscuss the release plan.\n\nFollow up with the design team.\nCheck server error rates.\n"

DEPLOY = """#!/bin/sh
set -e
echo "deploying to production"
rsync -a build/ server:/srv/app/
"""
BACKUP = """#!/bin/sh
tar -czf backup.tar.gz data/
echo "backup done"
"""
CLEANUP = """#!/bin/bash
# removes temporary files
find /tmp -name 'inventory-*' -mtime +7 -print
"""
NEW_TOOL = "#!/bin/sh\necho 'new tool'\n"

MAKEFILE = """.PHONY: install run test

install:
\tpip install -r requirements.txt

run:
\tpython src/app.py

test:
\tpytest tests
"""

REQUIREMENTS = "requests==2.31.0\nflask==3.0.0\npytest==8.0.0\n"
GITIGNORE = "logs/\nbuild/\n__pycache__/\n*.pyc\n"
TODO = "- write docs\n- add tests for models\n- fix error handling\n"

# A minimal JPEG: SOI, an APP0 JFIF header and EOI (enough for `file` to name it).
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>\n'
