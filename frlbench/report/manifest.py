"""The report's manifest: the files one render wrote, so the next deletes only its own outputs.

``<results>/.frlbench-report-manifest.json`` lists the paths (relative to the results
directory) that :func:`~frlbench.report.render_report` wrote. An output of an earlier render
that this one no longer produces is deleted only if the manifest lists it; a user's own file
(``figures/rmse_ratio_my_draft.png``) is never touched, whatever its name.
"""

from __future__ import annotations

import json
from pathlib import Path

from frlbench.records import write_json_atomic

MANIFEST_NAME = ".frlbench-report-manifest.json"
#: Written by every render before manifests existed, at fixed names: treated as owned.
LEGACY_OUTPUTS = ("leaderboard_rollout.csv",)


def manifest_path(results_dir: Path) -> Path:
    """Where the manifest of ``results_dir`` lives."""
    return Path(results_dir) / MANIFEST_NAME


def read_manifest(results_dir: Path) -> list[Path]:
    """Outputs recorded by the last render (legacy fixed names when there is no manifest).

    Entries that are absolute, climb out of ``results_dir`` or are not strings are ignored,
    so a tampered manifest cannot make the report delete anything else.
    """
    results_dir = Path(results_dir)
    path = manifest_path(results_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = data.get("outputs", []) if isinstance(data, dict) else []
    except FileNotFoundError:
        names = list(LEGACY_OUTPUTS)
    except (OSError, ValueError):
        names = []
    owned = []
    for name in names:
        if not isinstance(name, str) or not name:
            continue
        relative = Path(name)
        if relative.is_absolute() or ".." in relative.parts:
            continue
        owned.append(results_dir / relative)
    return owned


def write_manifest(results_dir: Path, written: list[Path]) -> None:
    """Record ``written`` (paths inside ``results_dir``) as this render's outputs."""
    results_dir = Path(results_dir)
    names = sorted({str(Path(p).relative_to(results_dir)) for p in written})
    write_json_atomic(manifest_path(results_dir), {"outputs": names}, root=results_dir)
