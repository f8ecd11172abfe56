"""caro's machinery: everything that is not a Hamilton node (CLI, driver, config, engines)."""

__version__ = "0.1.0"
