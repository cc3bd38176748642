"""Terminal output that user-provided text cannot take over.

A task description, a baseline name, a record's reason or a path may hold ANSI escape
sequences or other control characters (clear the screen, move the cursor, set the window
title). :func:`printable` removes them; :class:`SafeConsole` and :class:`SafeTable` apply it to
every string they are given, so the CLI prints user text as text.
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.table import Table

#: ANSI escape sequences: CSI (``ESC [ ... final``), OSC (``ESC ] ... BEL|ST``), other ``ESC x``.
_ESCAPES = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, terminated by BEL or ST (or not at all)
    r"|\x1b[@-Z\\-_]"  # two-character escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
#: Control characters left after the sequences: C0 but tab and newline, DEL, C1.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` without escape sequences and control characters (tab and newline kept)."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


class SafeConsole(Console):
    """A rich Console whose ``print`` strips control characters from string arguments."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        """:meth:`rich.console.Console.print` of the objects, strings made :func:`printable`."""
        super().print(*(printable(o) if isinstance(o, str) else o for o in objects), **kwargs)


class SafeTable(Table):
    """A rich Table whose cells are made :func:`printable`."""

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        """:meth:`rich.table.Table.add_row` with string cells made :func:`printable`."""
        cells = (printable(c) if isinstance(c, str) else c for c in renderables)
        super().add_row(*cells, **kwargs)
