"""Fixed vocabularies the matcher and its slot recognisers share.

These are policy, not table data: a user table can add intents but cannot make a destructive
word harmless or turn a content word into filler.
"""

from __future__ import annotations

# Words that change nothing about which command is meant; they count towards coverage at a
# lower weight than words an intent names.
FILLERS: frozenset[str] = frozenset(
    """
    a an the me my i i'd i'm we our us you your please pls can could would will should
    to of for that which who whose are is was were be been being it its this these those them
    all every any some each just only also currently now right quickly quick
    show list find display get give print see view tell let know what what's whats how
    want need like with and or on at by from in into
    """.split()
)

# Requests that mention any of these are never answered from the table, even when the word
# is inside quotes: mention and use cannot be told apart cheaply, and these requests must go
# to the model and then to the safety validator.
REFUSE: frozenset[str] = frozenset(
    """
    delete deletes deleting deleted remove removes removing rm rmdir unlink erase wipe wiping
    shred purge prune pruning destroy nuke drop truncate overwrite overwriting format formatting
    mkfs dd fdisk parted kill killall pkill terminate stop restart reboot shutdown poweroff halt
    chmod chown chgrp sudo su doas install uninstall upgrade update clean cleanup reset revert
    force evict evicted move mv rename
    """.split()
)

# Tokens that can never be a slot value (a name, a search word, a directory after "under").
STOPWORDS: frozenset[str] = FILLERS | frozenset(
    """
    files file lines line directory directories folder folders dir code source here there
    last first top recent largest biggest smallest most least today yesterday week month year
    system container containers service services process processes pod pods branch user port
    host server called named running active total open
    """.split()
)

NUMBER_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
    "thirty": 30, "fifty": 50, "hundred": 100,
    # Ordinals name a column, field or line ("the second column"); "first" is a count trigger.
    "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10,
}

# Size units as find(1) spells them; find's `c` is bytes.
SIZE_UNITS: dict[str, str] = {
    "b": "c", "byte": "c", "bytes": "c",
    "k": "k", "kb": "k", "kib": "k", "kilobyte": "k", "kilobytes": "k",
    "m": "M", "mb": "M", "mib": "M", "meg": "M", "megs": "M", "megabyte": "M", "megabytes": "M",
    "g": "G", "gb": "G", "gib": "G", "gig": "G", "gigs": "G", "gigabyte": "G", "gigabytes": "G",
    "t": "T", "tb": "T", "tib": "T", "terabyte": "T", "terabytes": "T",
}

SIZE_MORE: dict[tuple[str, ...], str] = {
    ("over",): "+", ("above",): "+", ("larger", "than"): "+", ("bigger", "than"): "+",
    ("greater", "than"): "+", ("more", "than"): "+", (">",): "+", ("at", "least"): "+",
    ("exceeding",): "+", ("under",): "-", ("below",): "-", ("smaller", "than"): "-",
    ("less", "than"): "-", ("<",): "-", ("at", "most"): "-",
}

# Unit word -> (canonical unit, minutes per unit or 0 for day-based units, days per unit).
TIME_UNITS: dict[str, tuple[str, int, int]] = {
    "minute": ("minute", 1, 0), "minutes": ("minute", 1, 0), "min": ("minute", 1, 0),
    "mins": ("minute", 1, 0), "m": ("minute", 1, 0),
    "hour": ("hour", 60, 0), "hours": ("hour", 60, 0), "hr": ("hour", 60, 0),
    "hrs": ("hour", 60, 0), "h": ("hour", 60, 0),
    "day": ("day", 0, 1), "days": ("day", 0, 1), "d": ("day", 0, 1),
    "week": ("week", 0, 7), "weeks": ("week", 0, 7), "w": ("week", 0, 7),
    "month": ("month", 0, 30), "months": ("month", 0, 30),
    "year": ("year", 0, 365), "years": ("year", 0, 365),
}

# File-type words -> (extensions, needs a following "file(s)"/"script(s)" to count).
# Ambiguous words ("log", "text", "go", "c") only name a type when followed by such a noun.
FILETYPES: dict[str, tuple[tuple[str, ...], bool]] = {
    "python": (("py",), False), "py": (("py",), False),
    "javascript": (("js",), False), "js": (("js",), False),
    "typescript": (("ts",), False), "ts": (("ts",), True),
    "rust": (("rs",), True), "rs": (("rs",), True), "go": (("go",), True), "golang": (("go",), False),
    "java": (("java",), True), "c": (("c",), True), "c++": (("cpp",), False), "cpp": (("cpp",), False),
    "header": (("h",), True), "ruby": (("rb",), True), "php": (("php",), False),
    "shell": (("sh",), True), "bash": (("sh",), True), "sh": (("sh",), True),
    "markdown": (("md",), False), "md": (("md",), True), "json": (("json",), False),
    "yaml": (("yaml", "yml"), False), "yml": (("yml",), False), "toml": (("toml",), False),
    "xml": (("xml",), False), "csv": (("csv",), False), "text": (("txt",), True),
    "txt": (("txt",), False), "html": (("html",), False), "css": (("css",), False),
    "sql": (("sql",), False), "log": (("log",), True), "pdf": (("pdf",), False),
    "png": (("png",), False), "jpg": (("jpg",), False),
    # "JPEG files" are both spellings; "jpg files" is taken literally (the peer suites expect it).
    "jpeg": (("jpg", "jpeg"), False),
    "gif": (("gif",), False), "svg": (("svg",), False), "mp4": (("mp4",), False),
    "mp3": (("mp3",), False), "zip": (("zip",), True), "docx": (("docx",), False),
    "config": (("conf",), True), "conf": (("conf",), True),
    "images": (("jpg", "jpeg", "png", "gif", "webp", "svg"), False),
    "image": (("jpg", "jpeg", "png", "gif", "webp", "svg"), True),
    "pictures": (("jpg", "jpeg", "png", "gif", "webp"), False),
    "photos": (("jpg", "jpeg", "png", "heic"), False),
    "videos": (("mp4", "mkv", "mov", "avi", "webm"), False),
    "video": (("mp4", "mkv", "mov", "avi", "webm"), True),
    "archives": (("zip", "tar", "gz", "tgz", "bz2", "xz", "7z"), False),
    "archive": (("zip", "tar", "gz", "tgz", "bz2", "xz", "7z"), True),
    "compressed": (("zip", "gz", "tgz", "bz2", "xz", "7z"), True),
}

# Nouns that may follow a type word and belong to it ("PNG images", "shell scripts").
FILETYPE_NOUNS: frozenset[str] = frozenset(
    {"script", "scripts", "source", "sources", "code", "images", "image", "pictures", "photos", "documents"}
)
FILETYPE_LOOKAHEAD: frozenset[str] = FILETYPE_NOUNS | {"file", "files"}

HOME_FOLDERS: dict[str, str] = {
    "downloads": "Downloads", "documents": "Documents", "desktop": "Desktop",
    "pictures": "Pictures", "music": "Music", "videos": "Videos", "movies": "Movies",
}
DIR_NOUNS: frozenset[str] = frozenset({"directory", "folder", "dir", "directories", "folders"})
DIR_PREPOSITIONS: frozenset[str] = frozenset({"in", "under", "inside", "within", "from", "at", "of", "on"})
