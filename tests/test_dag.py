"""`caro dag`: the request DAG as DOT, SVG and a valid PNG image."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from pipeline.cli.main import main

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


def test_svg_output_names_the_nodes(tmp_path: Path) -> None:
    target = tmp_path / "dag.svg"
    assert main(["dag", "-o", str(target)]) == 0
    svg = target.read_text()
    assert "<svg" in svg and "safety_verdict" in svg
