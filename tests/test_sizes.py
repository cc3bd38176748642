"""Small pieces: no module of ``frlbench`` over 500 lines, no function over 80.

``python -m tests.test_sizes`` prints every module and function over the limits. The few
functions still over are listed in :data:`KNOWN_LONG` with their length when listed: one may
shrink (or leave the list), never grow, and no new one may join.
"""

from __future__ import annotations

import ast
from pathlib import Path

import frlbench

PACKAGE = Path(frlbench.__file__).resolve().parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80

#: Functions over the limit, with their length when listed (work on them is under way).
KNOWN_LONG: dict[str, int] = {}


def long_modules() -> dict[str, int]:
    """Modules over :data:`MAX_MODULE_LINES` lines, by path relative to the repository."""
    sizes = {
        str(p.relative_to(PACKAGE.parent)): len(p.read_text().splitlines())
        for p in sorted(PACKAGE.rglob("*.py"))
    }
    return {path: n for path, n in sizes.items() if n > MAX_MODULE_LINES}


def long_functions() -> dict[str, int]:
    """Functions (and methods) over :data:`MAX_FUNCTION_LINES` lines, as ``path:name``."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found[f"{path.relative_to(PACKAGE.parent)}:{node.name}"] = length
    return found


def test_no_module_over_500_lines():
    assert long_modules() == {}


def test_no_new_or_longer_function_over_80_lines():
    grown = {
        name: n
        for name, n in long_functions().items()
        if n > KNOWN_LONG.get(name, MAX_FUNCTION_LINES)
    }
    assert grown == {}


def test_the_counters_see_the_package():
    assert len(list(PACKAGE.rglob("*.py"))) > 50
    assert all(n > MAX_FUNCTION_LINES for n in long_functions().values())


if __name__ == "__main__":
    for label, found in (("modules", long_modules()), ("functions", long_functions())):
        print(f"{label} over the limit: {len(found)}")
        for name, n in sorted(found.items(), key=lambda item: -item[1]):
            print(f"  {n:4d} {name}")
