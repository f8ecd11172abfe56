"""The walk over a tree-sitter-bash tree that collects simple commands, redirects and assignments.

Iterative, never recursive (deeply nested input would overflow the stack), and each node is
visited a bounded number of times, so the walk is linear in the size of the text.
"""

from __future__ import annotations


import tree_sitter

from pipeline.shell.script import Assignment, Redirect, SimpleCommand
from pipeline.shell.variables import VariableWalk
from pipeline.shell.words import DYNAMIC, EXPR_MARK, expand_braces, render_word

# Node types that hold no command inside them; the walker skips them to stay fast.
LEAVES = frozenset({"word", "raw_string", "number", "ansi_c_string", "variable_name", "comment", "special_variable_name", "test_operator", "file_descriptor", "heredoc_start", "heredoc_end", "regex"})
_SUBSTITUTIONS = frozenset({"command_substitution", "process_substitution"})
_REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})
# Statements whose body may not run, or runs in another process: what they set does not last.
_SCOPES = frozenset({"subshell", "if_statement", "while_statement", "for_statement", "c_style_for_statement", "case_statement", "function_definition", "command_substitution", "process_substitution", "pipeline", "list"})
_BRACE_WORDS = frozenset({"word", "concatenation", "command_name"})


class Ctx:
    """Where a node sits: pipeline position, background, substitution, function, loop, scope."""

    __slots__ = ("pipeline", "stage", "to_next", "background", "subst", "host", "owner", "function", "loop", "scoped", "arith", "join")

    def __init__(self) -> None:
        self.pipeline: int | None = None
        self.stage = 0
        self.to_next = False
        self.background = False
        self.subst = False
        self.host: int | None = None
        self.owner: int | None = None  # the command whose words are being walked
        self.function: str | None = None
        self.loop = False
        self.scoped = False
        self.arith = False  # inside an arithmetic expression already scanned for names
        self.join: tuple[int, int] | None = None  # a pipeline to continue: its id and the next stage

    def copy(self) -> Ctx:
        new = Ctx.__new__(Ctx)
        for slot in Ctx.__slots__:
            setattr(new, slot, getattr(self, slot))
        return new


Stack = list[tuple[tree_sitter.Node, Ctx]]


def _last_command(node: tree_sitter.Node) -> tree_sitter.Node | None:
    """The rightmost simple command of a list or pipeline, which a redirect after it belongs to."""
    current: tree_sitter.Node | None = node
    while current is not None and current.type in ("list", "pipeline", "redirected_statement", "negated_command"):
        if current.type == "redirected_statement":
            current = current.child_by_field_name("body")
            continue
        named = [c for c in current.children if c.is_named and c.type != "comment"]
        current = named[-1] if named else None
    return current if current is not None and current.type == "command" else None


def _width(node: tree_sitter.Node) -> int:
    """How many pipeline stages a stage node stands for (several when it wraps a pipeline)."""
    width, pending = 0, [node]
    while pending:
        current = pending.pop()
        if current.type == "redirected_statement":
            body = current.child_by_field_name("body")
            if body is not None and body.type == "pipeline":
                pending.append(body)
                continue
        if current.type == "pipeline":
            pending.extend(c for c in current.children if c.is_named and c.type != "comment")
            continue
        width += 1
    return width


class Walker(VariableWalk):
    """Collects commands, redirects, assignments, functions and arithmetic names of one tree."""

    def __init__(self, src: bytes, *, printed: bool = False) -> None:
        self.src = src
        self.printed = printed  # replace `$(echo WORDS)` by its words
        self.commands: list[SimpleCommand] = []
        self.declarations: list[SimpleCommand] = []
        self.redirects: list[Redirect] = []
        self.functions: list[tuple[str, int]] = []
        self.assignments: list[Assignment] = []
        self.arithmetic: set[str] = set()
        self.braces = False
        self._pipelines = 0
        self._extra: dict[tuple[int, int], list[tree_sitter.Node]] = {}  # redirects that belong to a later command

    def text(self, node: tree_sitter.Node) -> str:
        return self.src[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def walk(self, root: tree_sitter.Node) -> None:
        stack: Stack = [(root, Ctx())]
        while stack:
            node, ctx = stack.pop()
            kind = node.type
            if kind in _SCOPES and not ctx.scoped and (kind != "pipeline" or node.named_child_count > 1):
                ctx = ctx.copy()
                ctx.scoped = True
            if kind == "command":
                self._command(node, ctx, (), stack)
            elif kind == "redirected_statement":
                self._redirected(node, ctx, stack)
            elif kind == "pipeline":
                self._pipeline(node.children, ctx, stack)
            elif kind in _SUBSTITUTIONS:
                inner = ctx.copy()
                inner.pipeline, inner.stage, inner.to_next = None, 0, False
                inner.subst, inner.host, inner.owner = True, ctx.owner, None
                self._push_children(node, inner, stack)
            elif kind == "function_definition":
                name_node = node.child_by_field_name("name")
                name = render_word(name_node, self.src) if name_node is not None else ""
                self.functions.append((name, len(self.commands)))
                inner = ctx.copy()
                inner.function = name
                self._push_children(node, inner, stack)
            elif kind == "while_statement":
                self._while(node, ctx, stack)
            elif kind == "c_style_for_statement":
                self._arith(node, ctx)
                self._c_for(node, ctx, stack)
            elif kind in ("variable_assignment", "variable_assignments"):
                self._assignments(node, ctx)
                self._push_children(node, ctx, stack)
            elif kind == "for_statement":
                self._for(node, ctx)
                self._push_children(node, ctx, stack)
            elif kind in ("declaration_command", "unset_command"):
                self._declaration(node, ctx, stack)
            elif kind in _REDIRECTS:
                # A redirect with no command, e.g. `$(> /etc/passwd)`; those on commands and
                # redirected statements were recorded when their owner was visited.
                parent = node.parent
                if parent is None or parent.type not in ("command", "redirected_statement"):
                    self.redirects.append(self._redirect(node, None))
                self._push_children(node, ctx, stack)
            else:
                if kind in ("arithmetic_expansion", "subscript", "test_command") or (kind == "compound_statement" and node.child_count and node.children[0].type == "(("):
                    self._arith(node, ctx)
                    if not ctx.arith:
                        ctx = ctx.copy()
                        ctx.arith = True
                if kind not in LEAVES:
                    self._push_children(node, ctx, stack)

    def _push_children(self, node: tree_sitter.Node, ctx: Ctx, stack: Stack) -> None:
        children = node.children
        pending: Stack = []
        last = len(children) - 1
        for i, child in enumerate(children):
            if not child.is_named or child.type in LEAVES:
                continue
            if i < last and children[i + 1].type == "&" and not ctx.background:
                bg = ctx.copy()
                bg.background = True
                pending.append((child, bg))
            else:
                pending.append((child, ctx))
        stack.extend(reversed(pending))

    def _pipeline(self, children: list[tree_sitter.Node], ctx: Ctx, stack: Stack) -> None:
        # `a | b 2>&1 | c` parses as ((a | b) 2>&1) | c: the inner stages join the outer pipeline.
        if ctx.join is not None:
            pid, position = ctx.join
        else:
            self._pipelines += 1
            pid, position = self._pipelines, 0
        stages = [c for c in children if c.is_named and c.type != "comment"]
        pending: Stack = []
        for i, child in enumerate(stages):
            inner = ctx.copy()
            inner.join = None
            last = i == len(stages) - 1
            inner.pipeline, inner.stage, inner.to_next = pid, position, not last or (ctx.join is not None and ctx.to_next)
            body = child.child_by_field_name("body") if child.type == "redirected_statement" else None
            if body is not None and body.type == "pipeline":
                inner.join = (pid, position)
            pending.append((child, inner))
            position += _width(child)
        stack.extend(reversed(pending))

    def _redirected(self, node: tree_sitter.Node, ctx: Ctx, stack: Stack) -> None:
        body = node.child_by_field_name("body")
        redirect_nodes = [c for c in node.children if c.type in _REDIRECTS]
        # `cat <<EOF | sh`: tree-sitter hangs the pipeline after a here-document inside the
        # redirect node; the command that owns the here-document is its first stage.
        piped = [c for r in redirect_nodes if r.type == "heredoc_redirect" for c in r.children if c.type == "pipeline"]
        if piped and body is not None and body.type == "command":
            self._pipelines += 1
            first = ctx.copy()
            first.pipeline, first.stage, first.to_next = self._pipelines, 0, True
            self._command(body, first, redirect_nodes, stack)
            stages = [c for c in piped[0].children if c.is_named and c.type != "comment"]
            pending: Stack = []
            for i, child in enumerate(stages, start=1):
                inner = ctx.copy()
                inner.pipeline, inner.stage, inner.to_next = first.pipeline, i, i < len(stages)
                pending.append((child, inner))
            stack.extend(reversed(pending))
            return
        if body is not None and body.type == "command":
            self._command(body, ctx, redirect_nodes, stack)  # walks the redirects as its own words
            return
        last = _last_command(body) if body is not None and body.type in ("list", "pipeline") else None
        if last is not None:
            # `a && b > f`, `a | b > f`: bash gives the redirect to b alone, tree-sitter to the whole list.
            self._extra.setdefault((last.start_byte, last.end_byte), []).extend(redirect_nodes)
            stack.append((body, ctx))
            return
        for r in redirect_nodes:
            self.redirects.append(self._redirect(r, None))
        if body is not None:
            stack.append((body, ctx))
        # Substitutions inside redirect targets (`> "$(cmd)"`) still run.
        for r in reversed(redirect_nodes):
            stack.append((r, ctx))

    def _words(self, child: tree_sitter.Node) -> list[str]:
        """The words one argument node becomes: one, or several after brace expansion."""
        if child.type == "command_substitution" and self.printed:
            echoed = self._echoed(child)
            if echoed is not None:
                return echoed
        rendered = render_word(child, self.src)
        if child.type not in _BRACE_WORDS:
            return [rendered]
        raw = self.text(child)
        if "{" not in raw or "}" not in raw or ("," not in raw and ".." not in raw):
            return [rendered]
        if any(ch in raw for ch in "'\"$`\\"):
            return [EXPR_MARK]  # quoted or computed parts around braces: not worth guessing
        expanded = expand_braces(raw)
        if expanded is None:
            return [EXPR_MARK]
        if expanded != [raw]:
            self.braces = True
        return [w for w in expanded if w]

    def _echoed(self, node: tree_sitter.Node) -> list[str] | None:
        """`$(echo rm -rf)` as the words it prints, when they are plain text; else None."""
        inner = [c for c in node.children if c.is_named]
        if len(inner) != 1 or inner[0].type != "command":
            return None
        words = [c for c in inner[0].children if c.is_named]
        if not words or words[0].type != "command_name" or self.text(words[0]) not in ("echo", "printf", "ls"):
            return None
        if self.text(words[0]) == "ls":  # `$(ls -d /*)`: the paths its words name
            named = [render_word(w, self.src) for w in words[1:] if not self.text(w).startswith("-")]
            return named if named and all(DYNAMIC not in w for w in named) else None
        if any(w.type not in ("word", "raw_string", "string") or (w.type == "string" and w.named_child_count > 1) for w in words[1:]):
            return None
        rendered = [render_word(w, self.src) for w in words[1:]]
        if any(r.startswith("-") or DYNAMIC in r or "%" in r for r in rendered):
            return None
        return " ".join(rendered).replace("\\n", " ").split()

    def _command(self, node: tree_sitter.Node, ctx: Ctx, extra: list[tree_sitter.Node] | tuple[()], stack: Stack) -> None:
        index = len(self.commands)
        argv: list[str] = []
        assignments: list[str] = []
        extra = [*extra, *self._extra.pop((node.start_byte, node.end_byte), ())]
        redirect_nodes = list(extra)
        nested: list[tree_sitter.Node] = [r for r in extra if r.type != "heredoc_redirect" or not any(c.type == "pipeline" for c in r.children)]
        for child in node.children:
            kind = child.type
            if kind == "command_name":
                word = child.children[0] if child.child_count == 1 else child
                argv.extend(self._words(word))
                if word.type not in LEAVES:
                    nested.append(word)
            elif kind == "variable_assignment":
                assignments.append(render_word(child, self.src))
                nested.append(child)
            elif kind in _REDIRECTS:
                redirect_nodes.append(child)
                nested.append(child)
            elif child.is_named and kind != "comment":
                argv.extend(self._words(child))
                if kind not in LEAVES:
                    nested.append(child)
        redirects = tuple(self._redirect(r, index) for r in redirect_nodes)
        self.redirects.extend(redirects)
        self.commands.append(self._simple(node, ctx, tuple(argv), tuple(assignments), redirects))
        if nested:
            inner = ctx.copy()
            inner.owner = index
            stack.extend((n, inner) for n in reversed(nested) if n.type not in ("variable_assignment",))
            for n in reversed(nested):
                if n.type == "variable_assignment":
                    self._push_children(n, inner, stack)  # a prefix assignment lasts for this command only

    def _simple(self, node: tree_sitter.Node, ctx: Ctx, argv: tuple[str, ...], assignments: tuple[str, ...], redirects: tuple[Redirect, ...]) -> SimpleCommand:
        return SimpleCommand(
            argv=argv,
            assignments=assignments,
            redirects=redirects,
            pipeline=ctx.pipeline,
            stage=ctx.stage,
            pipes_to_next=ctx.to_next,
            background=ctx.background,
            in_substitution=ctx.subst,
            host=ctx.host,
            function=ctx.function,
            in_unbounded_loop=ctx.loop,
            scoped=ctx.scoped,
            span=(node.start_byte, node.end_byte),
        )

    def _redirect(self, node: tree_sitter.Node, owner: int | None) -> Redirect:
        op = ""
        fd: int | None = None
        target = ""
        for child in node.children:
            kind = child.type
            if kind == "file_descriptor":
                text = self.text(child)
                fd = int(text) if text.isdigit() else None
            elif kind == "heredoc_body":
                target = self.text(child)
            elif not child.is_named:
                op = op or child.type
            elif kind not in ("heredoc_start", "pipeline", "heredoc_end") and not target and (kind != "command" or node.type != "heredoc_redirect"):
                target = render_word(child, self.src)
        return Redirect(op=op, target=target, fd=fd, owner=owner)

    def _while(self, node: tree_sitter.Node, ctx: Ctx, stack: Stack) -> None:
        until = node.child_count > 0 and node.children[0].type == "until"
        conditions = [c for c in node.children_by_field_name("condition") if c.is_named]
        forever = False
        if len(conditions) == 1 and conditions[0].type == "command":
            name = conditions[0].child_by_field_name("name")
            word = render_word(name, self.src) if name is not None else ""
            forever = word in ("false",) if until else word in ("true", ":")
        body = node.child_by_field_name("body")
        if body is not None:
            inner = ctx
            if forever and not ctx.loop:
                inner = ctx.copy()
                inner.loop = True
            stack.append((body, inner))
        for cond in reversed(conditions):
            stack.append((cond, ctx))

    def _c_for(self, node: tree_sitter.Node, ctx: Ctx, stack: Stack) -> None:
        # for ((init; cond; update)): unbounded when the middle clause is empty.
        semis = 0
        has_condition = False
        for child in node.children:
            if child.type == ";" and semis < 2:
                semis += 1
            elif child.type == "))":
                break
            elif semis == 1 and child.is_named:
                has_condition = True
        inner = ctx.copy()
        inner.arith = True
        if not has_condition and not ctx.loop:
            inner.loop = True
        self._push_children(node, inner, stack)
