"""Building the Hamilton driver for the request DAG, with Hamilton's noisy parts switched off."""

from __future__ import annotations

import logging
import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING

from pipeline.importing import import_hiding

if TYPE_CHECKING:
    from hamilton import driver as hamilton_driver


def node_modules() -> list[ModuleType]:
    """The node modules in stage order: parse, static match, generate, refine, safety, alternatives, emit."""
    from nodes import alternatives, emit, generate, parse, refine, safety, static_match

    return [parse, static_match, generate, refine, safety, alternatives, emit]


def _silence_hamilton() -> None:
    # Hamilton logs a failing node's inputs (the user's request, the command) and an
    # advert for its chat; neither may reach the user's terminal or log files. Telemetry
    # was removed from Hamilton in 1.89; the variable keeps older releases quiet too.
    os.environ["HAMILTON_TELEMETRY_ENABLED"] = "false"
    hamilton_logger = logging.getLogger("hamilton")
    hamilton_logger.setLevel(logging.CRITICAL + 1)
    hamilton_logger.propagate = False


def import_hamilton() -> ModuleType:
    """`hamilton.driver`, imported (the first time) quietly and with pandera hidden from it.

    Every caro module that imports Hamilton calls this first: whichever comes first imports
    Hamilton as a whole, and the later ones find it loaded.
    """
    _silence_hamilton()
    if "hamilton.driver" in sys.modules:
        return sys.modules["hamilton.driver"]
    # Hamilton loads an extension for every library it finds installed (matplotlib, plotly,
    # polars, ...; ~300 ms with matplotlib), for materializers caro does not use: switched off
    # for this import only, so a command caro runs still sees the user's own setting.
    saved = os.environ.get(_AUTOLOAD)
    os.environ[_AUTOLOAD] = "0"
    try:
        # It also imports pandera whenever it is installed, for @check_output validators caro
        # does not use (100-160 ms); caro's telemetry imports pandera when it validates.
        return import_hiding("hamilton.driver", hidden=("pandera",))
    finally:
        if saved is None:
            os.environ.pop(_AUTOLOAD, None)
        else:
            os.environ[_AUTOLOAD] = saved


_AUTOLOAD = "HAMILTON_AUTOLOAD_EXTENSIONS"


def build_driver(backend: str, adapters: tuple[object, ...] = ()) -> hamilton_driver.Driver:
    """A driver over the node modules, configured for one model backend, with lifecycle adapters."""
    driver = import_hamilton()

    builder = driver.Builder().with_modules(*node_modules()).with_config({"llm_backend": backend})
    if adapters:
        builder = builder.with_adapters(*adapters)
    return builder.build()
