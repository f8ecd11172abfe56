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
    return json.dumps({"cmd": command})


def answer_instruction(answer_format: AnswerFormat) -> str:
    """The sentence of the rules that says how to answer."""
    if answer_format is AnswerFormat.CODE:
        return "Answer with the command alone in a ```sh code block."
    return 'Answer with JSON only: {"cmd": "<command>"}.'


# A code block's first command line, complete (its newline came): all that `read_answer` reads
# from a block unless that line ends in a backslash that joins the next one.
_FIRST_LINE_DONE = re.compile(r"```[^\n]*\n(?:[ \t]*\n)*(?P<line>[^\n]*\S[^\n]*)\n")


def answer_ended(text: str, answer_format: AnswerFormat) -> bool:
    """Whether a streamed answer already holds everything that will be read from it: a code block
    whose first command line is complete (a line a backslash continues is not), or a closed block.
    Stopping there saves the tokens of the closing fence and of anything after it."""
    if answer_format is not AnswerFormat.CODE:
        return False
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


def read_answer(text: str | None, finish_reason: str | None, answer_format: AnswerFormat) -> str:
    """The command in a model's answer; UnreadableAnswer when there is none."""
    text = text or ""
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
