"""Inline code judged by what it imports and calls: python -c, perl -e, ruby -e, node -e, php -r, awk, sed.

Nothing here runs the code. Each language has patterns for what does harm (run a shell, delete
a tree, open a socket next to a shell, run fetched or decoded code) and an "understood" test:
the code uses only modules and calls known to be harmless. Code that is neither is not
understood, so the validator asks; code that shells out has its string literals judged as shell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_LITERALS = 64  # string literals judged as shell text per piece of code
MAX_CODE = 20_000  # longer inline code is not read (and so never understood)


@dataclass(frozen=True)
class CodeFacts:
    """What a piece of inline code does, as far as its text shows."""

    reason: str | None = None  # why caro cannot call it harmless; None when it can
    shell: tuple[str, ...] = ()  # shell text it runs
    deletes: tuple[tuple[str, bool], ...] = ()  # paths it deletes, and whether recursively
    writes: tuple[str, ...] = ()  # paths it writes
    shapes: frozenset[str] = field(default_factory=frozenset)  # reverse_shell, fetched_code, decoded_code


@dataclass(frozen=True)
class _Language:
    shell: re.Pattern[str]
    delete_tree: re.Pattern[str]
    delete: re.Pattern[str]
    write: re.Pattern[str]
    socket: re.Pattern[str]
    spawn: re.Pattern[str]
    fetch: re.Pattern[str]
    evaluate: re.Pattern[str]
    decode: re.Pattern[str]
    risky: re.Pattern[str]  # anything else that stops it being understood
    imports: re.Pattern[str] | None = None
    safe_imports: frozenset[str] = frozenset()


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


_Q = r"""(['"])(.*?)\2"""  # a quoted literal: group 2 is the text (callers put one group first)
_NEVER = _re(r"(?!x)x")
_LANGUAGES: dict[str, _Language] = {
    "python": _Language(
        shell=_re(r"\b(?:os\.system|os\.popen|subprocess|commands\.getoutput|os\.exec\w*|os\.spawn\w*|pty\.spawn|popen2)\b|\.(?:system|popen|exec[lv]p?e?|spawn[lv]p?e?)\s*\("),
        delete_tree=_re(r"(\b(?:shutil\.)?rmtree|os\.removedirs)\s*\(\s*" + _Q),
        delete=_re(r"(\bos\.(?:remove|unlink|rmdir)|\.unlink|\.rmdir)\s*\(\s*" + _Q),
        write=_re(r"(\bopen)\s*\(\s*" + _Q + r"""\s*,\s*['"][^'"]*[wax+]"""),
        socket=_re(r"\bsocket\b"),
        spawn=_re(r"\b(?:subprocess|pty|os\.dup2|os\.system|os\.exec\w*)\b|/bin/(?:ba)?sh"),
        fetch=_re(r"\b(?:urllib|urlopen|urlretrieve|requests|http\.client|httpx)\b"),
        evaluate=_re(r"\b(?:exec|eval|compile|__import__)\s*\("),
        decode=_re(r"\b(?:b64decode|b32decode|a85decode|decompress|marshal\.loads|codecs\.decode|fromhex|unhexlify)\b"),
        risky=_re(r"\b(?:exec|eval|compile|__import__|getattr|setattr|delattr|globals|locals|vars|breakpoint|importlib|ctypes)\b|__\w+__|\bos\.(?!path\b|getcwd\b|environ\b|getenv\b|listdir\b|sep\b|linesep\b|name\b|getpid\b|cpu_count\b|uname\b|getlogin\b|getuid\b|pathsep\b|curdir\b|walk\b|scandir\b|stat\b)\w+"),
        imports=_re(r"\bimport\s+([\w.]+(?:\s*,\s*[\w.]+)*)|\bfrom\s+([\w.]+)\s+import\b"),
        safe_imports=frozenset(
            "json sys math re datetime time random secrets uuid string textwrap collections itertools functools statistics "
            "decimal fractions base64 hashlib hmac binascii csv platform locale calendar pprint html unicodedata struct "
            "ipaddress getpass operator heapq bisect array copy enum dataclasses typing zlib os fnmatch glob difflib "
            "urllib.parse shlex colorsys keyword tomllib".split()
        ),
    ),
    "perl": _Language(
        shell=_re(r"\b(?:system|exec|qx)\b|`|\bopen\w*\s*\(?[^;]*['\"]\s*\||\|\s*['\"]"),
        delete_tree=_re(r"(\b(?:rmtree|remove_tree))\s*\(?\s*" + _Q),
        delete=_re(r"(\b(?:unlink|rmdir))\s*\(?\s*" + _Q),
        write=_re(r"(\bopen)\s*\(?[^;]*?,\s*" + r"""(['"])>{1,2}\s*(.*?)\2"""),
        socket=_re(r"IO::Socket|\bsocket\s*\(|\bSocket\b"),
        spawn=_re(r"\b(?:exec|system|open)\b|/bin/(?:ba)?sh|STDIN"),
        fetch=_re(r"LWP|HTTP::Tiny|\bgetstore\b|\bget\s*\("),
        evaluate=_re(r"\beval\b|\bdo\s+['\"$]"),
        decode=_re(r"decode_base64|\bpack\s*\(|\bunpack\b|MIME::Base64"),
        risky=_re(r"\b(?:system|exec|qx|eval|open|opendir|unlink|rmdir|rmtree|remove_tree|socket|fork|kill|chmod|chown|rename|link|symlink|mkdir|syscall|require|do|dump|truncate|utime)\b|`|\buse\s+(?!strict\b|warnings\b|utf8\b|List::Util\b|POSIX\s+qw\(\s*(?:floor|ceil|strftime)[\s\w]*\))"),
    ),
    "ruby": _Language(
        shell=_re(r"\b(?:system|exec|spawn|IO\.popen|Open3|Kernel\.)\b|`|%x"),
        delete_tree=_re(r"(\bFileUtils\.rm_r[f]?|\bFileUtils\.remove_dir)\s*\(?\s*" + _Q),
        delete=_re(r"(\bFile\.(?:delete|unlink)|\bDir\.(?:rmdir|delete)|\bFileUtils\.rm)\s*\(?\s*" + _Q),
        write=_re(r"(\bFile\.(?:write|open))\s*\(?\s*" + _Q),
        socket=_re(r"\b(?:TCPSocket|UNIXSocket|Socket)\b"),
        spawn=_re(r"\b(?:exec|system|spawn|IO\.popen)\b|/bin/(?:ba)?sh"),
        fetch=_re(r"Net::HTTP|open-uri|URI\.open|\bopen\s*\(\s*['\"]https?:"),
        evaluate=_re(r"\b(?:eval|instance_eval|class_eval|module_eval)\b"),
        decode=_re(r"Base64|\.unpack|\bZlib\b"),
        risky=_re(r"\b(?:system|exec|spawn|fork|eval|instance_eval|class_eval|send|public_send|require|load|open|File|Dir|FileUtils|IO|Kernel|Process|Socket|TCPSocket|ObjectSpace|binding|const_get|method)\b|`|%x"),
    ),
    "node": _Language(
        shell=_re(r"\bchild_process\b|\b(?:execSync|spawnSync|execFileSync|execFile|spawn|exec)\s*\("),
        delete_tree=_re(r"(\b(?:rmSync|rm|rimraf|rmdirSync))\s*\(\s*" + _Q),
        delete=_re(r"(\b(?:unlinkSync|unlink))\s*\(\s*" + _Q),
        write=_re(r"(\b(?:writeFileSync|writeFile|appendFileSync|appendFile|createWriteStream))\s*\(\s*" + _Q),
        socket=_re(r"\bnet\b|\bcreateConnection\b|\bnew\s+\w*Socket\b"),
        spawn=_re(r"\bchild_process\b|\bspawn\b|\bexec\b|/bin/(?:ba)?sh"),
        fetch=_re(r"\b(?:fetch|https?\.get|https?\.request|axios|got)\b"),
        evaluate=_re(r"\beval\s*\(|\bFunction\s*\(|\bvm\b"),
        decode=_re(r"Buffer\.from\s*\([^)]*['\"](?:base64|hex)['\"]|\batob\b"),
        risky=_re(r"\b(?:require|import|eval|Function|child_process|fs|net|http|https|vm|worker_threads|fetch|globalThis|constructor)\b|\bprocess\.(?!stdout\b|argv\b|env\b|version\b|versions\b|platform\b|arch\b|cwd\b|exit\b|pid\b|uptime\b|memoryUsage\b)\w+"),
    ),
    "php": _Language(
        shell=_re(r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec)\s*\(|`"),
        delete_tree=_NEVER,
        delete=_re(r"(\b(?:unlink|rmdir))\s*\(\s*" + _Q),
        write=_re(r"(\b(?:file_put_contents|fopen))\s*\(\s*" + _Q),
        socket=_re(r"\b(?:fsockopen|socket_create|stream_socket_client)\b"),
        spawn=_re(r"\b(?:exec|system|shell_exec|passthru|proc_open|popen)\b|/bin/(?:ba)?sh"),
        fetch=_re(r"file_get_contents\s*\(\s*['\"]https?:|\bcurl_\w+"),
        evaluate=_re(r"\b(?:eval|assert|create_function)\s*\(|\binclude\b|\brequire\b"),
        decode=_re(r"\b(?:base64_decode|gzinflate|str_rot13|hex2bin)\b"),
        risky=_re(r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_\w+|eval|assert|create_function|include|include_once|require|require_once|unlink|rmdir|file_put_contents|fopen|fwrite|rename|chmod|chown|mkdir|symlink|fsockopen|socket_\w+|stream_socket_\w+|curl_\w+|mail|putenv|ini_set|call_user_func\w*)\b|`|\$_(?:GET|POST|REQUEST|COOKIE)"),
    ),
    "lua": _Language(
        shell=_re(r"\bos\.execute\b|\bio\.popen\b"),
        delete_tree=_NEVER,
        delete=_re(r"(\bos\.remove)\s*\(\s*" + _Q),
        write=_re(r"(\bio\.open)\s*\(\s*" + _Q + r"""\s*,\s*['"][wa]"""),
        socket=_re(r"\bsocket\b"),
        spawn=_re(r"\bos\.execute\b|\bio\.popen\b"),
        fetch=_re(r"\bhttp\.request\b"),
        evaluate=_re(r"\b(?:load|loadstring|dofile|loadfile)\s*\("),
        decode=_NEVER,
        risky=_re(r"\b(?:os\.execute|io\.popen|os\.remove|os\.rename|io\.open|load|loadstring|dofile|loadfile|require|debug)\b"),
    ),
}
_DELETE_WORDS = _re(r"\b(?:rmtree|remove_tree|rm_rf|rm_r|removedirs|unlink\w*|remove|rmdir\w*|rmSync|delete)\s*\(")
_AWK_SHELL = _re(r"\bsystem\s*\(|\|\s*\"|\|&|\"\s*\|\s*getline")
_AWK_WRITE = _re(r"\bprintf?\b[^;{}\n]*?>>?\s*(\"[^\"]*\"|[A-Za-z_$][\w$]*)")


def facts(language: str, code: str) -> CodeFacts:
    """What inline code in `language` does (awk and sed included), from its text."""
    if len(code) > MAX_CODE:
        return CodeFacts(reason="The inline code is too long for caro to read")
    if language == "awk":
        return _awk(code)
    if language == "sed":
        return _sed(code)
    spec = _LANGUAGES.get(language)
    if spec is None:
        return CodeFacts(reason="caro cannot read code in this language")
    literals = string_literals(code)[:MAX_LITERALS]
    shell: list[str] = []
    if spec.shell.search(code):
        shell = [lit for lit in literals if lit.strip()]
        if len(shell) > 1:
            shell.append(" ".join(shell))  # `subprocess.run(["rm", "-rf", "/"])` runs the words together
    deletes = tuple((m.group(3), True) for m in spec.delete_tree.finditer(code)) + tuple((m.group(3), False) for m in spec.delete.finditer(code))
    if not deletes and _DELETE_WORDS.search(code):
        # `for r, _, fs in os.walk("/"): os.remove(...)`: a computed path, so what the code names is at risk.
        deletes = tuple((lit, True) for lit in literals if lit.startswith(("/", "~")))
    writes = tuple(m.group(3) for m in spec.write.finditer(code))
    shapes = set()
    if spec.socket.search(code) and spec.spawn.search(code):
        shapes.add("reverse_shell")
    if spec.evaluate.search(code):
        if spec.fetch.search(code):
            shapes.add("fetched_code")
        elif spec.decode.search(code):
            shapes.add("decoded_code")
    reason = None
    if spec.risky.search(code) or not _imports_safe(spec, code):
        reason = f"caro cannot tell what this {language} code does (it uses more than harmless calls)"
    if shell or deletes or writes or shapes:
        reason = reason or f"This {language} code changes files or runs commands"
    return CodeFacts(reason=reason, shell=tuple(shell), deletes=deletes, writes=writes, shapes=frozenset(shapes))


def _imports_safe(spec: _Language, code: str) -> bool:
    if spec.imports is None:
        return True
    for match in spec.imports.finditer(code):
        names = match.group(1) or match.group(2) or ""
        for name in re.split(r"\s*,\s*", names):
            module = name.strip()
            if module and module not in spec.safe_imports and module.split(".")[0] not in spec.safe_imports:
                return False
    return True


def _awk(program: str) -> CodeFacts:
    if "/inet/" in program:  # gawk's network files: with |& the program talks to a socket
        return CodeFacts(reason="This awk program opens a network connection", shapes=frozenset({"reverse_shell"}) if "|&" in program else frozenset())
    shell = [lit for lit in string_literals(program)[:MAX_LITERALS] if lit.strip()] if _AWK_SHELL.search(program) else []
    writes = tuple(m.group(1).strip('"') for m in _AWK_WRITE.finditer(program))
    if shell:
        return CodeFacts(reason="This awk program runs commands", shell=tuple(shell), writes=writes)
    if writes:
        return CodeFacts(reason="This awk program writes files", writes=writes)
    return CodeFacts()


_SED_SIMPLE = frozenset("dpPqQ=nNDhHgGxlbtTzFIM{}!;")


def _sed(script: str) -> CodeFacts:
    """A sed script is understood when it only substitutes, prints, deletes or moves text."""
    i, n = 0, len(script)
    while i < n:
        ch = script[i]
        if ch in " \t\n;{}!0123456789$,~+" or ch in _SED_SIMPLE:
            i += 1
            if ch in "bt" and i < n:  # branch to a label: skip the label
                while i < n and script[i] not in ";\n}":
                    i += 1
            continue
        if ch in "/\\":  # an address regex: /re/ or \cREc
            delim = script[i + 1] if ch == "\\" and i + 1 < n else "/"
            i = _skip_delimited(script, i + (2 if ch == "\\" else 1), delim)
            if i < 0:
                return CodeFacts(reason="caro cannot read this sed script")
            continue
        if ch in "sy" and i + 1 < n:
            delim = script[i + 1]
            if delim in "\\\n":
                return CodeFacts(reason="caro cannot read this sed script")
            i = _skip_delimited(script, i + 2, delim)
            i = _skip_delimited(script, i, delim) if i >= 0 else -1
            if i < 0:
                return CodeFacts(reason="caro cannot read this sed script")
            flags_end = i
            while flags_end < n and script[flags_end] not in ";\n}":
                flags_end += 1
            if ch == "s" and re.search(r"[ewW]", script[i:flags_end]):
                return CodeFacts(reason="This sed script runs commands or writes files (the e or w flag)")
            i = flags_end
            continue
        if ch in "aicr":  # append/insert/change text, read a file: text to the end of the line
            end = script.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch in ":#":
            end = script.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch in "eEwWR":
            return CodeFacts(reason="This sed script runs commands or writes files (e, w)")
        return CodeFacts(reason="caro cannot read this sed script")
    return CodeFacts()


def _skip_delimited(text: str, start: int, delim: str) -> int:
    """The index after the next unescaped `delim` from `start`, or -1."""
    i, n = start, len(text)
    while i < n:
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == delim:
            return i + 1
        i += 1
    return -1


def string_literals(code: str) -> list[str]:
    """The quoted string literals of a piece of Python/Perl/Ruby/JS code, in one linear scan."""
    found: list[str] = []
    i, n = 0, len(code)
    while i < n:
        quote = code[i]
        if quote not in "'\"`":
            i += 1
            continue
        j = i + 1
        buf: list[str] = []
        while j < n and code[j] != quote:
            if code[j] == "\\" and j + 1 < n:
                buf.append(code[j + 1])
                j += 2
                continue
            buf.append(code[j])
            j += 1
        found.append("".join(buf))
        i = j + 1
    return found
