"""The part of the walk that follows variables: assignments, declarations, for loops, arithmetic."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import tree_sitter

from pipeline.shell.script import Assignment
from pipeline.shell.words import EXPR_MARK, render_word

if TYPE_CHECKING:
    from pipeline.shell.walk import Ctx, Stack

_ARITH_OPS = re.compile(r"-(?:eq|ne|lt|le|gt|ge)\b")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ARITH_LIMIT = 4096  # characters of one arithmetic expression scanned for the names it reads


class VariableWalk:
    """Mixed into the Walker: records what the line assigns and which variables arithmetic reads."""

    def _declaration(self, node: tree_sitter.Node, ctx: Ctx, stack: Stack) -> None:
        """`export A=1`, `declare -x B`, `local c`, `unset d`: a builtin that sets or removes variables."""
        argv = [node.children[0].type if node.children else ""]
        for child in node.children[1:]:
            if child.is_named and child.type != "comment":
                argv.append(self.text(child) if child.type == "variable_name" else render_word(child, self.src))
        self.declarations.append(self._simple(node, ctx, tuple(argv), (), ()))
        self._push_children(node, ctx, stack)

    def _assignments(self, node: tree_sitter.Node, ctx: Ctx) -> None:
        nodes = [node] if node.type == "variable_assignment" else [c for c in node.children if c.type == "variable_assignment"]
        for assignment in nodes:
            name_node = assignment.child_by_field_name("name")
            value_node = assignment.child_by_field_name("value")
            if name_node is None:
                continue
            name = self.text(name_node)
            value = render_word(value_node, self.src) if value_node is not None else ""
            if value_node is not None and value_node.type == "array":
                value = EXPR_MARK  # an array: what `$x` gives depends on how it is read
            self.assignments.append(Assignment(name, value, len(self.commands), ctx.scoped))

    def _for(self, node: tree_sitter.Node, ctx: Ctx) -> None:
        """`for f in a b; do ... "$f" ...; done`: the variable takes each value in turn."""
        variable = node.child_by_field_name("variable")
        if variable is None:
            return
        name = self.text(variable)
        values = [w for v in node.children_by_field_name("value") for w in self._words(v)] or [EXPR_MARK]
        for value in values[:64]:
            self.assignments.append(Assignment(name, value, len(self.commands), True, choice=True))

    def _arith(self, node: tree_sitter.Node, ctx: Ctx) -> None:
        """Record the variables an arithmetic context reads: bash evaluates their values as expressions."""
        if ctx.arith or node.end_byte - node.start_byte > _ARITH_LIMIT:
            if not ctx.arith:
                self.arithmetic.add("")  # too long to read: an unknown name
            return
        text = self.text(node)
        if node.type == "test_command":
            if _ARITH_OPS.search(text):
                self.arithmetic.update(self._compared(node))
            return
        if node.type == "c_style_for_statement":
            start = next((c.start_byte for c in node.children if c.type == "(("), node.start_byte)
            end = next((c.end_byte for c in node.children if c.type == "))"), node.end_byte)
            text = self.src[start:end].decode("utf-8", "replace")
        elif node.type == "subscript":
            index = node.child_by_field_name("index")
            text = self.text(index) if index is not None else ""
        self.arithmetic.update(n for n in _IDENTIFIER.findall(text))

    def _compared(self, test: tree_sitter.Node) -> set[str]:
        """The names on either side of `-eq`, `-lt` ... in `[[ ]]`, which bash reads as arithmetic."""
        names: set[str] = set()
        stack = [test]
        while stack:
            node = stack.pop()
            if node.type == "binary_expression":
                operator = node.child_by_field_name("operator")
                if operator is not None and _ARITH_OPS.fullmatch(self.text(operator)):
                    for side in ("left", "right"):
                        operand = node.child_by_field_name(side)
                        if operand is not None:
                            names.update(_IDENTIFIER.findall(self.text(operand)))
                    continue
            stack.extend(node.named_children)
        return names
