"""How a model is asked to answer, and how its answer is read: JSON-constrained, or a free code block.

`AnswerFormat.JSON` constrains decoding to `{"cmd": "..."}` (llama.cpp's grammar, vLLM's
structured outputs); `AnswerFormat.CODE` lets the model write freely and takes the first code
block of its answer, as the NL2SH-ALFA study did (a small Qwen model gained as much from that as
from few-shot examples; constraining its first token hurt it). Which one caro uses is measured
(docs/quality.md). Nothing here logs or quotes the model's output.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from typing import Any

from pipeline.values import GenerationErrorKind

MAX_COMMAND_CHARS = 400
_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(?:^[ \t]*```|\Z)", re.S | re.M)
_INLINE = re.compile(r"`([^`\n]+)`")
_PROMPT_SIGN = re.compile(r"^\s*[$#]\s+")


class AnswerFormat(str, Enum):
    """How the model writes its command."""

    JSON = "json"  # {"cmd": "<command>"}, decoding constrained to that schema
    CODE = "code"  # free text; the command is the first code block
    # The command alone on one line, as the examples' answers are written: the same free answer as
    # CODE without the code block's fences, which are tokens in every example a request pays for.
    LINE = "line"


def command_schema(max_chars: int = MAX_COMMAND_CHARS) -> dict[str, Any]:
    """The JSON schema a model's reply must follow: one object with a bounded `cmd` string."""
    return {
        "type": "object",
        "properties": {"cmd": {"type": "string", "minLength": 1, "maxLength": max_chars}},
        "required": ["cmd"],
        "additionalProperties": False,
    }


def as_answer(command: str, answer_format: AnswerFormat) -> str:
    """A command written as the model is asked to answer (for the examples' assistant turns)."""
    if answer_format is AnswerFormat.CODE:
        return f"```sh\n{command}\n```"
    if answer_format is AnswerFormat.LINE:
        return command
    return json.dumps({"cmd": command})


def answer_instruction(answer_format: AnswerFormat) -> str:
    """The sentence of the rules that says how to answer."""
    if answer_format is AnswerFormat.CODE:
        return "Answer with the command alone in a ```sh code block."
    if answer_format is AnswerFormat.LINE:
        return "Answer with the command alone, on one line."
    return 'Answer with JSON only: {"cmd": "<command>"}.'


# A LINE answer's first line, complete (its newline came).
_FIRST_LINE = re.compile(r"(?:[ \t]*\n)*(?P<line>[^\n]*\S[^\n]*)\n")
# A code block's first command line, complete (its newline came): all that `read_answer` reads
# from a block unless that line ends in a backslash that joins the next one.
_FIRST_LINE_DONE = re.compile(r"```[^\n]*\n(?:[ \t]*\n)*(?P<line>[^\n]*\S[^\n]*)\n")


def answer_ended(text: str, answer_format: AnswerFormat) -> bool:
    """Whether a streamed answer already holds everything that will be read from it: a code block
    whose first command line is complete (a line a backslash continues is not), or a closed block.
    Stopping there saves the tokens of the closing fence and of anything after it."""
    if answer_format is AnswerFormat.JSON:
        return False
    if answer_format is AnswerFormat.LINE and not text.lstrip().startswith("```"):
        line = _FIRST_LINE.match(text)
        if line is None:
            return False
        # A backslash joins the next line to this one; "Here is the command:" comes before it.
        if line.group("line").rstrip().endswith("\\") or _introduces(line.group("line")):
            return answer_ended(text[line.end() :], answer_format)
        return True
    if re.search(r"```[^\n]*\n.*?^[ \t]*```", text, re.S | re.M):
        return True
    first = _FIRST_LINE_DONE.search(text)
    return first is not None and not first.group("line").rstrip().endswith("\\")


class UnreadableAnswer(ValueError):
    """The answer holds no command; `kind` is always PARSE_ERROR, the message never quotes it."""

    kind = GenerationErrorKind.PARSE_ERROR


def _first_line(block: str) -> str:
    """The command of a code block: its first line, with the lines a trailing backslash joins to it."""
    lines = [line.rstrip() for line in block.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    command = lines[0]
    for line in lines[1:]:
        if not command.endswith("\\"):
            break
        command = command[:-1].rstrip() + " " + line.strip()
    return _PROMPT_SIGN.sub("", command).strip()


def _json_command(text: str) -> str | None:
    """The command of an answer that is a whole `{"cmd": "..."}` object, else None (a JSON object
    is never a shell command: taken as one, it would be shown and judged as nonsense)."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    try:
        data = json.loads(stripped)
    except json.JSONDecodeError:
        return None
    command = data.get("cmd") if isinstance(data, dict) else None
    return command.strip() if isinstance(command, str) and command.strip() else None


def _introduces(line: str) -> bool:
    """Whether a LINE answer's first line is words that introduce the command ("Here it is:")."""
    return line.rstrip().endswith(":") and " " in line.strip()


def _line_command(text: str, finish_reason: str | None) -> str:
    """The command of a LINE answer: its first line (with the lines a backslash joins to it); a
    code block or a JSON object where the model wrote one anyway; what follows a first line of
    words that end in a colon; one pair of backticks around the whole line removed. Backticks
    inside a line are shell syntax (`date`), not markup."""
    fence = _FENCE.search(text)
    first = _FIRST_LINE.match(text + "\n")
    if first is not None and _introduces(first.group("line")) and text[first.end() - 1 :].strip():
        return _line_command(text[first.end() - 1 :], finish_reason)  # the command follows the words that introduce it
    if fence is not None and not text[: fence.start()].strip():
        command = _first_line(fence.group(2))
    elif (answered := _json_command(text)) is not None:
        command = answered
    else:
        command = _first_line(text)
        if finish_reason == "length" and "\n" not in text.strip():
            raise UnreadableAnswer("the model's reply was cut off by the token limit")
        if len(command) > 1 and command.startswith("`") and command.endswith("`") and command.count("`") == 2:
            command = command[1:-1].strip()
    if not command:
        raise UnreadableAnswer("the model's reply has no command")
    return command


def read_answer(text: str | None, finish_reason: str | None, answer_format: AnswerFormat) -> str:
    """The command in a model's answer; UnreadableAnswer when there is none."""
    text = text or ""
    if answer_format is AnswerFormat.LINE:
        return _line_command(text, finish_reason)
    if answer_format is AnswerFormat.CODE:
        fence = _FENCE.search(text)
        if fence is not None:
            command = _first_line(fence.group(2))
        elif finish_reason == "length":
            raise UnreadableAnswer("the model's reply was cut off by the token limit")
        elif (answered := _json_command(text)) is not None:
            command = answered  # {"cmd": ...}: a model (or server) that answers in the JSON form anyway
        else:  # no code block: a bare command line, or `command` inline
            inline = _INLINE.search(text)
            command = inline.group(1).strip() if inline else _first_line(text)
        if not command:
            raise UnreadableAnswer("the model's reply has no command")
        return command
    if finish_reason == "length":
        raise UnreadableAnswer("the model's reply was cut off by the token limit")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise UnreadableAnswer("the model's reply is not valid JSON") from None
    command = data.get("cmd") if isinstance(data, dict) else None
    if not isinstance(command, str) or not command.strip():
        raise UnreadableAnswer("the model's reply has no command")
    return command.strip()
