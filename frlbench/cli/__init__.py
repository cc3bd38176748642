"""Command-line interface: a thin layer over the library (``frlbench --help`` lists it)."""

from frlbench.cli import (  # noqa: F401  (registers the commands, in this order)
    benchmark,
    catalog,
    runs,
)
from frlbench.cli.shell import app, load_catalog, main

__all__ = ["app", "load_catalog", "main"]
