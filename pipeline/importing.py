"""Importing a library without the optional extras it would load but caro does not use.

Some libraries import every optional companion that happens to be installed, at import time:
Hamilton imports pandera (for validators caro does not use), sqlite-utils imports pandas and
numpy (to map their scalar types, which caro never inserts). Each costs a caro process
100-300 ms. `import_hiding` imports a module while those names look absent, exactly as if they
were not installed; a companion that is already imported is not hidden (nothing to save).
"""

from __future__ import annotations

import importlib
import importlib.abc
import sys
from types import ModuleType


class _Hide(importlib.abc.MetaPathFinder):
    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if any(name == hidden or name.startswith(hidden + ".") for hidden in self.names):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


def import_hiding(module: str, hidden: tuple[str, ...]) -> ModuleType:
    """`module`, imported (the first time) while `hidden` packages not yet loaded look uninstalled."""
    if module in sys.modules:
        return sys.modules[module]
    absent = tuple(name for name in hidden if name not in sys.modules)
    if not absent:
        return importlib.import_module(module)
    blocker = _Hide(absent)
    sys.meta_path.insert(0, blocker)
    try:
        return importlib.import_module(module)
    finally:
        sys.meta_path.remove(blocker)
