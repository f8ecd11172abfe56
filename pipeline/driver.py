"""Building the Hamilton driver for the request DAG, with Hamilton's noisy parts switched off."""

from __future__ import annotations

import logging
import os
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


def build_driver(backend: str) -> hamilton_driver.Driver:
    """A driver over the node modules, configured for one model backend."""
    _silence_hamilton()
    from hamilton import driver

    return driver.Builder().with_modules(*node_modules()).with_config({"llm_backend": backend}).build()
