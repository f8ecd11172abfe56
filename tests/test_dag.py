"""`caro dag`: the request DAG as DOT, SVG and a valid PNG image, and one request's path through it."""

from __future__ import annotations

import io
import os
import re
import struct
import subprocess
import zlib
from pathlib import Path

from pipeline.cli.main import main
from tests.conftest import caro_executable

STAGE_NODES = ("request_problem", "request_text", "passthrough_command", "static_match", "needs_model",
               "generation_prompt", "llm_generation", "candidate_findings", "refined_generation", "candidate",
               "safety_verdict", "result")


def test_dot_source_shows_every_stage_in_order(capsys) -> None:
    assert main(["dag"]) == 0
    source = capsys.readouterr().out
    assert "digraph {" in source
    for name in STAGE_NODES:
        assert name in source
    edges = source.replace('"', "")
    for edge in ("static_match -> needs_model", "generation_prompt -> llm_generation",
                 "llm_generation -> refined_generation", "refined_generation -> candidate",
                 "candidate -> safety_verdict", "safety_verdict -> result"):
        assert edge in edges, edge


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, "corrupt PNG chunk"
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


def test_png_output_is_a_valid_image(tmp_path: Path) -> None:
    target = tmp_path / "dag.png"
    assert main(["dag", "--output", str(target)]) == 0
    chunks = _png_chunks(target.read_bytes())
    kinds = [kind for kind, _ in chunks]
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert width > 200 and height > 100
    pixels = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(set(pixels)) > 2  # not a blank canvas


def test_svg_output_names_the_nodes_and_styles_telemetry_apart(tmp_path: Path) -> None:
    target = tmp_path / "dag.svg"
    assert main(["dag", "-o", str(target)]) == 0
    svg = target.read_text()
    assert "<svg" in svg and "safety_verdict" in svg
    assert 'fill="#fbe3b5"' in svg and "stroke-dasharray" in svg  # the telemetry boxes survive layout
    assert "telemetry (@emits)" in svg


# -- telemetry nodes ---------------------------------------------------------------------------

NODE_LINE = re.compile(r'^\t("[^"]*"|\w+) \[(.*)\]$', re.M)


def _nodes(dot: str) -> dict[str, str]:
    """Each node statement's attributes, by node name (legend entries too, quoted)."""
    return {name: attrs for name, attrs in NODE_LINE.findall(dot.replace("\t\t", "\t"))}


def test_telemetry_nodes_are_drawn_apart_and_in_the_legend(capsys) -> None:
    from pipeline.driver import build_driver
    from pipeline.telemetry.declare import TELEMETRY_TAG

    variables = build_driver("llama_cpp").list_available_variables()
    telemetry = {v.name for v in variables if v.tags.get(TELEMETRY_TAG)}
    functions = {v.name for v in variables if not v.is_external_input} - telemetry
    assert {"safety_verdict_telemetry", "refined_generation_telemetry", "result_telemetry"} <= telemetry

    assert main(["dag"]) == 0
    nodes = _nodes(capsys.readouterr().out)
    for name in telemetry:
        assert 'fillcolor="#fbe3b5"' in nodes[name] and "dashed" in nodes[name], name
    for name in functions:
        assert "#fbe3b5" not in nodes[name] and "dashed" not in nodes[name], name
    assert 'fillcolor="#fbe3b5"' in nodes['"telemetry (@emits)"']


def test_dot_source_is_the_same_in_every_process() -> None:
    # Hamilton walks a set of nodes, whose order follows the process's string-hash seed.
    sources = {
        subprocess.run(
            [caro_executable(), "dag"], capture_output=True, text=True, check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(sources) == 1


# -- one request's path: caro dag --execution --------------------------------------------------

STATIC_REQUEST = "find python files modified in the last 7 days"
MODEL_REQUEST = "write a haiku about the moon and save it somewhere nice"
NOTE = re.compile(r"<br />(did work|passed through|skipped|empty|not run), [0-9.]+ ms>")
ON_PATH = 'color="#c0392b"'


def _execution(request: str, target: Path) -> str:
    assert main(["dag", "--execution", request, "--output", str(target)]) == 0
    return target.read_text()


def _statuses(dot: str) -> tuple[dict[str, str], set[str]]:
    """Each node's status from its label, and the nodes drawn on the request's path."""
    status, path = {}, set()
    for name, attrs in _nodes(dot).items():
        if note := NOTE.search(attrs):
            status[name] = note[1]
            if ON_PATH in attrs:
                path.add(name)
    return status, path


def test_a_static_request_takes_the_static_path(tmp_path: Path, caro) -> None:
    dot = _execution(STATIC_REQUEST, tmp_path / "static.dot")
    status, path = _statuses(dot)
    assert status["static_match"] == "did work" and "static_match" in path
    assert status["llm_generation"] == "skipped" and "llm_generation" not in path
    assert status["generation_prompt"] == "empty" and status["installed_tools"] == "empty"
    assert {"request_text", "static_match", "candidate", "safety_verdict", "result"} <= path
    assert not {"needs_model", "generation_prompt", "refined_generation"} & path
    # Every function node ran and says so; the request and its command are nowhere in the picture.
    assert set(status) >= set(STAGE_NODES)
    command = caro.handle(STATIC_REQUEST).command
    svg = _execution(STATIC_REQUEST, tmp_path / "static.svg")
    for drawing in (dot, svg):
        assert STATIC_REQUEST not in drawing and command not in drawing
        assert "python files" not in drawing and "-mtime" not in drawing


def test_a_request_the_table_cannot_answer_takes_another_path(tmp_path: Path) -> None:
    # CARO_BACKEND=none (conftest): the model stage runs and reports that no model is configured.
    static_status, static_path = _statuses(_execution(STATIC_REQUEST, tmp_path / "static.dot"))
    status, path = _statuses(_execution(MODEL_REQUEST, tmp_path / "model.dot"))
    assert status["static_match"] == "empty" and "static_match" not in path
    assert status["needs_model"] == "did work" and status["llm_generation"] == "did work"
    assert status["refined_generation"] == "passed through"
    assert {"needs_model", "generation_prompt", "llm_generation", "refined_generation", "result"} <= path
    assert status["candidate"] == "empty" and "candidate" not in path
    assert path != static_path and status != static_status


def test_an_execution_png_is_a_valid_image(tmp_path: Path) -> None:
    target = tmp_path / "path.png"
    assert main(["dag", "-e", STATIC_REQUEST, "-o", str(target)]) == 0
    chunks = _png_chunks(target.read_bytes())
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height = struct.unpack(">II", chunks[0][1][:8])
    assert width > 200 and height > 100


def test_drawing_a_request_runs_nothing_and_records_nothing(
    tmp_path: Path, caro_home: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CARO_TELEMETRY_ENABLED", "1")
    assert main(["dag", "-e", "touch marker.txt"]) == 0
    status, path = _statuses(capsys.readouterr().out)
    assert status["passthrough_command"] == "did work" and "passthrough_command" in path
    assert status["static_match"] == "empty" and status["llm_generation"] == "skipped"
    assert not (tmp_path / "marker.txt").exists()
    assert not list(caro_home.rglob("*.db"))


def test_execution_reads_the_request_from_stdin(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(STATIC_REQUEST.encode())))
    assert main(["dag", "--execution", "-"]) == 0
    status, _ = _statuses(capsys.readouterr().out)
    assert status["static_match"] == "did work"
