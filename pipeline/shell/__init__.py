"""Shell parsing for caro: tree-sitter-bash wrapped into simple commands, words and wrappers."""

from pipeline.shell.parse import parse_script
from pipeline.shell.script import Assignment, FunctionDef, Redirect, Script, SimpleCommand
from pipeline.shell.unwrap import Invocation, unwrap
from pipeline.shell.words import DYNAMIC, is_dynamic, strip_markers

__all__ = [
    "DYNAMIC",
    "Assignment",
    "FunctionDef",
    "Invocation",
    "Redirect",
    "Script",
    "SimpleCommand",
    "is_dynamic",
    "parse_script",
    "strip_markers",
    "unwrap",
]
