"""Write the resolution-transfer selection's choices into the baseline TOMLs.

``python -m frlbench.tools.hop_apply results/selection/quick/selection.json`` appends, to each
built-in baseline's TOML, one table per (task, variant) it sets:

- ``frl.off`` and ``frl.full``: the chosen learning rate, the chosen ``full`` configuration's
  FRL settings where they differ from ``full``'s, and ``selected_by`` (``"hop"``, or
  ``"rho0"`` where the procedure fell back);
- the ablation variants of the named grid (``frlbench run --grid ablation``): ``full``'s
  chosen rate and the chosen settings *of the parts each keeps* (the encoding's frequencies
  and convention for a variant with the encoding, the loss weights for one with the loss);
  a variant's own defining change (e.g. ``encoding-only-physical``'s convention, ``full-j2``'s
  levels) is kept;
- ``off-rho0`` and ``full-rho0``, where the hop changed an arm: today's ρ0-chosen setting
  under its own name, trained for the ablation table.

Nothing is written twice: a baseline whose file already holds a table of the same key path is
refused, naming it. Run it once per selection, from a clean checkout, and commit the result.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from frlbench.catalog import Catalog
from frlbench.frl.variants import FULL, OFF
from frlbench.profiles import ABLATIONS
from frlbench.registry import BASELINES, FRL_VARIANTS
from frlbench.safeio import write_atomic
from frlbench.spec import ConfigError

ENCODING_KEYS = ("encoding_frequencies", "encoding_convention")
LOSS_KEYS = ("lambda_spec", "lambda_cons")


def chosen_changes(variant: str) -> dict[str, Any]:
    """FRL settings of the chosen ``full`` configuration that differ from ``full``'s."""
    chosen, full = FRL_VARIANTS.get(variant), FRL_VARIANTS.get(FULL)
    return {
        f.name: getattr(chosen, f.name)
        for f in dataclasses.fields(full)
        if f.name != "name" and getattr(chosen, f.name) != getattr(full, f.name)
    }


def kept_changes(variant: str, changes: dict[str, Any]) -> dict[str, Any]:
    """The part of ``changes`` an ablation variant keeps (its own defining setting wins)."""
    cfg, full = FRL_VARIANTS.get(variant), FRL_VARIANTS.get(FULL)
    keys = (ENCODING_KEYS if cfg.encoding else ()) + (LOSS_KEYS if cfg.spectral_loss else ())
    own = {k for k in keys if getattr(cfg, k) != getattr(full, k)}
    return {k: v for k, v in changes.items() if k in keys and k not in own}


def _value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _table(path: str, values: dict[str, Any], settings: dict[str, Any]) -> str:
    lines = [f"[{path}]"] + [f"{k} = {_value(v)}" for k, v in values.items()]
    if settings:
        inner = ", ".join(f"{k} = {_value(v)}" for k, v in settings.items())
        lines.append(f"frl_settings = {{ {inner} }}")
    return "\n".join(lines)


def tables_for(choice: dict[str, Any], profile: str, today: dict[str, float]) -> list[str]:
    """The TOML tables of one (task, baseline) choice; ``today`` holds each arm's current
    learning rate."""
    task, arms = choice["task"], choice["arms"]
    base = f"profiles.{profile}.tasks.{task}.frl"
    off, full = arms[OFF], arms[FULL]
    changes = chosen_changes(full["variant"])
    out = [
        _table(f"{base}.{OFF}", {"lr": off["lr"], "selected_by": off["how"]}, {}),
        _table(f"{base}.{FULL}", {"lr": full["lr"], "selected_by": full["how"]}, changes),
    ]
    for variant in ABLATIONS:
        out.append(_table(f"{base}.{variant}", {"lr": full["lr"]}, kept_changes(variant, changes)))
    for arm, rho0 in ((OFF, "off-rho0"), (FULL, "full-rho0")):
        moved = not math.isclose(arms[arm]["lr"], today[arm]) or (arm == FULL and changes)
        if moved:
            out.append(_table(f"{base}.{rho0}", {"lr": today[arm]}, {}))
    return out


def apply(selection: Sequence[dict[str, Any]], profile: str, source: str) -> dict[Path, str]:
    """The text to append to each baseline TOML.

    Raises:
        ConfigError: If a file already holds one of the tables.
    """
    texts: dict[Path, list[str]] = {}
    for choice in selection:
        baseline = BASELINES.get(choice["baseline"])
        today = {arm: baseline.settings(profile, arm, choice["task"]).lr for arm in (OFF, FULL)}
        path = Path(baseline.source)
        existing = path.read_text(encoding="utf-8")
        for table in tables_for(choice, profile, today):
            header = table.splitlines()[0]
            if header in existing:
                raise ConfigError(f"{path}: already holds {header}; the selection was applied")
            texts.setdefault(path, []).append(table)
    head = (
        f"\n# Chosen by the resolution-transfer selection (docs/frl_selection.md; {source}).\n"
        '# selected_by = "hop": by the hop\'s validation score; "rho0": the procedure fell '
        "back to today's setting.\n"
    )
    return {path: head + "\n\n".join(tables) + "\n" for path, tables in texts.items()}


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m frlbench.tools.hop_apply")
    parser.add_argument("selection", type=Path, help="selection.json of `frlbench tune --hop`")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--dry-run", action="store_true", help="print, write nothing")
    args = parser.parse_args(argv)
    Catalog.default().load()
    selection = json.loads(args.selection.read_text(encoding="utf-8"))
    for path, text in apply(selection, args.profile, str(args.selection.parent)).items():
        if args.dry_run:
            print(f"--- {path}\n{text}")
        else:
            write_atomic(path, path.read_text(encoding="utf-8") + text, root=path.parent)
            print(f"appended to {path}")


if __name__ == "__main__":
    main()
