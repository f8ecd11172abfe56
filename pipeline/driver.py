"""Building the Hamilton driver for the request DAG, with Hamilton's noisy parts switched off."""

from __future__ import annotations

import importlib.abc
import logging
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hamilton import driver as hamilton_driver


def node_modules() -> list[ModuleType]:
    """The node modules in stage order: parse, static match, generate, refine, safety, emit."""
    from nodes import emit, generate, parse, refine, safety, static_match

    return [parse, static_match, generate, refine, safety, emit]


def _silence_hamilton() -> None:
    # Hamilton logs a failing node's inputs (the user's request, the command) and an
    # advert for its chat; neither may reach the user's terminal or log files. Telemetry
    # was removed from Hamilton in 1.89; the variable keeps older releases quiet too.
    os.environ["HAMILTON_TELEMETRY_ENABLED"] = "false"
    hamilton_logger = logging.getLogger("hamilton")
    hamilton_logger.setLevel(logging.CRITICAL + 1)
    hamilton_logger.propagate = False


class _WithoutPandera(importlib.abc.MetaPathFinder):
    """Makes `import pandera` fail while Hamilton is imported.

    Hamilton imports pandera at import time whenever it is installed, to offer pandera
    validators for @check_output, which caro does not use; that costs every caro process
    100-160 ms on this machine. caro's telemetry imports pandera itself, when it validates.
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandera" or name.startswith("pandera."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None


def import_hamilton() -> ModuleType:
    """`hamilton.driver`, imported (the first time) quietly and with pandera hidden from it.

    Every caro module that imports Hamilton calls this first: whichever comes first imports
    Hamilton as a whole, and the later ones find it loaded.
    """
    _silence_hamilton()
    if "hamilton.driver" in sys.modules or "pandera" in sys.modules:
        from hamilton import driver

        return driver
    blocker = _WithoutPandera()
    sys.meta_path.insert(0, blocker)
    try:
        from hamilton import driver
    finally:
        sys.meta_path.remove(blocker)
    return driver


def build_driver(backend: str, adapters: tuple[object, ...] = ()) -> hamilton_driver.Driver:
    """A driver over the node modules, configured for one model backend, with lifecycle adapters."""
    driver = import_hamilton()

    builder = driver.Builder().with_modules(*node_modules()).with_config({"llm_backend": backend})
    if adapters:
        builder = builder.with_adapters(*adapters)
    return builder.build()
