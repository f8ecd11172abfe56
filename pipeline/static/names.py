"""Recognisers for things named in a request: file types, directories, files, hosts, URLs,
search text and other names.

Each reads at most a few tokens from its position. Every value taken from the user's words is
rendered with `shlex.quote`.
"""

from __future__ import annotations

import re
import shlex

from pipeline.static import vocab
from pipeline.static.slot_types import (
    HOST,
    REV,
    SAFE_NAME,
    TEXT_TRIGGERS,
    URL,
    SlotHit,
    SlotSpec,
    SlotValue,
    forms_of,
)
from pipeline.static.tokens import Token, TokenKind

# ---- file type, directory ---------------------------------------------------------------


def _filetype_value(exts: tuple[str, ...], shown: str) -> SlotValue:
    globs = [f"'*.{e}'" for e in exts]
    if len(exts) == 1:
        find, iname = f"-name {globs[0]}", f"-iname {globs[0]}"
    else:
        find = iname = "\\( " + " -o ".join(f"-iname {g}" for g in globs) + " \\)"
    include = " ".join(f"--include={g}" for g in globs)
    # shglob is for operands the shell should expand (`wc *.txt`); extensions are alphanumeric.
    shglob = " ".join(f"*.{e}" for e in exts)
    return SlotValue(shown, forms_of(**{"": find, "iname": iname, "include": include, "glob": " ".join(globs), "shglob": shglob}))


def filetype(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    tok = tokens[i]
    if tok.kind is TokenKind.PATH:
        text = tok.text
        if text.startswith("*.") and text[2:].isalnum():
            return SlotHit(i, i + 1, _filetype_value((text[2:],), text), rank=0)
        if text.startswith(".") and text[1:].isalnum():
            return SlotHit(i, i + 1, _filetype_value((text[1:],), "*" + text), rank=0)
        return None
    if tok.norm in {"extension", "ending"} and i + 1 < len(tokens):
        j = i + 2 if tokens[i + 1].norm in {"in", "with"} else i + 1
        if j < len(tokens) and tokens[j].norm.lstrip(".").isalnum():
            ext = tokens[j].norm.lstrip(".")
            return SlotHit(i, j + 1, _filetype_value((ext,), f"*.{ext}"), rank=0)
    entry = vocab.FILETYPES.get(tok.norm)
    if entry is None:
        return None
    exts, needs_noun = entry
    next_norm = tokens[i + 1].norm if i + 1 < len(tokens) else ""
    if needs_noun and next_norm not in vocab.FILETYPE_LOOKAHEAD:
        return None
    end = i + 2 if next_norm in vocab.FILETYPE_NOUNS else i + 1
    return SlotHit(i, end, _filetype_value(exts, tok.norm), rank=1)


def _dir_value(path: str) -> SlotValue:
    if path in {".", "~", "/"}:
        return SlotValue(path, {"": path})
    if path.startswith("~/"):
        # The tilde must stay unquoted to expand; the rest is quoted as user text.
        return SlotValue(path, {"": "~/" + shlex.quote(path[2:])})
    return SlotValue(path, {"": shlex.quote(path)})


def _dir_path(tok: Token) -> str | None:
    if tok.kind is TokenKind.QUOTED and tok.text.startswith(("/", "~/", "./", "../")):
        return tok.text
    if tok.kind is not TokenKind.PATH or "*" in tok.text or "@" in tok.text or "://" in tok.text:
        return None
    text = tok.text
    if text in {".", ".."} or text.startswith(("/", "~", "./", "../")) or text.endswith("/"):
        return text
    return None


def directory(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    n = len(tokens)
    j = i
    prep = tokens[i].norm in vocab.DIR_PREPOSITIONS
    # "the src directory": a name between an article and a folder noun is a folder, no preposition needed.
    article = not prep and tokens[i].norm == "the"
    if prep or article:
        j += 1
        if prep and j < n and tokens[j].norm in {"the", "my", "this", "current"}:
            j += 1
    if j >= n:
        return None
    end_noun = j + 1 < n and tokens[j + 1].norm in vocab.DIR_NOUNS
    norm = tokens[j].norm
    if norm == "here" or (tokens[j - 1].norm in {"this", "current"} and norm in vocab.DIR_NOUNS):
        return SlotHit(i, j + 1, _dir_value("."), rank=0)
    if norm in {"current", "working"} and end_noun:
        return SlotHit(i, j + 2, _dir_value("."), rank=0)
    if norm == "home" and (prep or end_noun):
        return SlotHit(i, j + 2 if end_noun else j + 1, _dir_value("~"), rank=0)
    path = _dir_path(tokens[j])
    if path is not None:
        return SlotHit(i, j + 2 if end_noun else j + 1, _dir_value(path), rank=0)
    if prep and norm in vocab.HOME_FOLDERS:
        return SlotHit(i, j + 2 if end_noun else j + 1, _dir_value("~/" + vocab.HOME_FOLDERS[norm]), rank=0)
    word_ok = (
        tokens[j].kind is TokenKind.WORD
        and norm not in vocab.STOPWORDS
        and not norm[0].isdigit()  # "under 10 MB" is a size, not a directory named 10
        and SAFE_NAME.match(norm)
    )
    if word_ok and ((prep and (end_noun or tokens[i].norm in {"under", "inside"})) or (article and end_noun)):
        return SlotHit(i, j + 2 if end_noun else j + 1, _dir_value(tokens[j].text), rank=1)
    return None



def _text_value(text: str) -> SlotValue:
    # Inside single quotes only `'` needs care; sed also needs its delimiter and specials escaped.
    pat = re.sub(r"([\\/&.*\[\]^$])", r"\\\1", text).replace("'", "'\\''")
    rep = re.sub(r"([\\/&])", r"\\\1", text).replace("'", "'\\''")
    return SlotValue(text, {"": shlex.quote(text), "sedpat": pat, "sedrep": rep})


def text(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    triggers = spec.after or TEXT_TRIGGERS
    tok = tokens[i]
    start = i
    if tok.norm in triggers and i + 1 < len(tokens):
        i += 1
        if tokens[i].norm == "the" and i + 1 < len(tokens) and tokens[i + 1].norm in {"word", "string"}:
            i += 2
        elif tokens[i].norm in {"word", "string", "text", "pattern"} and i + 1 < len(tokens):
            i += 1
        if i >= len(tokens):
            return None
        tok = tokens[i]
        if tok.kind is TokenKind.QUOTED:
            return SlotHit(start, i + 1, _text_value(tok.text), rank=0)
        if tok.kind is TokenKind.SYMBOL or tok.norm in vocab.STOPWORDS:
            return None
        return SlotHit(start, i + 1, _text_value(tok.text), rank=1)
    if tok.kind is TokenKind.QUOTED:
        return SlotHit(i, i + 1, _text_value(tok.text), rank=0)
    return None


def _name_ok(tok: Token) -> bool:
    return tok.kind in {TokenKind.WORD, TokenKind.PATH} and tok.norm not in vocab.STOPWORDS and bool(
        SAFE_NAME.match(tok.text)
    )


def _quoted(text: str) -> SlotValue:
    return SlotValue(text, {"": shlex.quote(text)})


def word(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    n = len(tokens)
    if tokens[i].norm in spec.after and i + 1 < n and _name_ok(tokens[i + 1]):
        return SlotHit(i, i + 2, _quoted(tokens[i + 1].text), rank=0)
    # A word that introduces the name is never the name: "compress directory" names no folder.
    if spec.before and i + 1 < n and tokens[i + 1].norm in spec.before and _name_ok(tokens[i]) and tokens[i].norm not in spec.after:
        return SlotHit(i, i + 2, _quoted(tokens[i].text), rank=1)
    if tokens[i].kind is TokenKind.QUOTED and SAFE_NAME.match(tokens[i].text) and not spec.after:
        return SlotHit(i, i + 1, _quoted(tokens[i].text), rank=0)
    return None


def words(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    if tokens[i].norm not in spec.after:
        return None
    names: list[str] = []
    j = i + 1
    while j < len(tokens) and len(names) < 12:
        tok = tokens[j]
        if tok.norm in {"and", "or"} and names:
            j += 1
            continue
        if tok.norm in spec.before or not _name_ok(tok):
            break
        names.append(tok.text)
        j += 1
    if not names:
        return None
    return SlotHit(i, j, SlotValue(" ".join(names), {"": " ".join(shlex.quote(x) for x in names)}), rank=0)


def _has_ext(name: str, spec: SlotSpec) -> bool:
    """Whether a file name suits the slot: any name, or one ending in one of its extensions."""
    return not spec.ext or name.lower().endswith(tuple("." + e for e in spec.ext))


def file(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    tok = tokens[i]
    if tok.norm in spec.after and i + 1 < len(tokens) and _name_ok(tokens[i + 1]) and _has_ext(tokens[i + 1].text, spec):
        return SlotHit(i, i + 2, _quoted(tokens[i + 1].text), rank=0)
    text = tok.text
    if tok.kind is TokenKind.PATH and SAFE_NAME.match(text) and not text.endswith("/") and _has_ext(text, spec):
        if "." in text.rsplit("/", 1)[-1] or text.startswith("/"):
            if not HOST.match(tok.norm) or "/" in text or text.rsplit(".", 1)[-1] in _COMMON_EXTS:
                return SlotHit(i, i + 1, _quoted(text), rank=1)
    return None


_COMMON_EXTS = frozenset(
    "txt md log csv json yaml yml toml xml py js ts sh conf cfg ini html css sql gz tgz zip tar pdf bz2 xz 7z rar jar txz tbz tbz2"
    " png jpg jpeg gif svg webp mp4 mp3 wav bin iso img dmg exe deb rpm whl lock env bak pem crt key".split()
)


def host(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    tok = tokens[i]
    if HOST.match(tok.norm) and tok.norm.rsplit(".", 1)[-1] not in _COMMON_EXTS:
        return SlotHit(i, i + 1, _quoted(tok.norm), rank=0)
    if tok.norm in spec.after and i + 1 < len(tokens) and _name_ok(tokens[i + 1]):
        return SlotHit(i, i + 2, _quoted(tokens[i + 1].norm), rank=1)
    return None


def rev(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    """A git revision: a commit hash or HEAD~N, written as the user wrote it."""
    tok = tokens[i]
    if REV.match(tok.norm) and (tok.norm.startswith("head") or any(c.isdigit() for c in tok.norm)):
        text = "HEAD" + tok.text[4:] if tok.norm.startswith("head") else tok.text
        return SlotHit(i, i + 1, _quoted(text), rank=0)
    return None


def url(tokens: tuple[Token, ...], i: int, spec: SlotSpec) -> SlotHit | None:
    if tokens[i].kind is TokenKind.PATH and URL.match(tokens[i].text):
        return SlotHit(i, i + 1, _quoted(tokens[i].text), rank=0)
    return None
