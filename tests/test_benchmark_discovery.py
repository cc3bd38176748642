"""asv discovers every module-level ``time_*``/``peakmem_*``/``mem_*``/``track_*`` function in
``benchmarks/`` as a benchmark and calls it with no arguments (or its ``params``): a helper
named that way fails ``asv run``."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

PREFIXES = ("time_", "peakmem_", "mem_", "track_", "timeraw_")
MODULES = sorted(p.stem for p in (Path(__file__).parents[1] / "benchmarks").glob("*.py"))


@pytest.mark.parametrize("name", [m for m in MODULES if m != "__init__"])
def test_module_level_benchmark_functions_take_no_required_arguments(name: str):
    module = importlib.import_module(f"benchmarks.{name}")
    for attr, obj in vars(module).items():
        if attr.startswith(PREFIXES) and inspect.isfunction(obj):
            params = getattr(obj, "params", None)
            required = [
                p
                for p in inspect.signature(obj).parameters.values()
                if p.default is inspect.Parameter.empty
            ]
            if not params:
                expected = 0
            elif isinstance(params[0], list):  # one list of values per argument
                expected = len(params)
            else:
                expected = 1
            assert len(required) == expected, (
                f"benchmarks/{name}.py: {attr} looks like an asv benchmark but needs "
                f"{len(required)} arguments; rename it if it is a helper"
            )
