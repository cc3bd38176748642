"""The golden list of planned run ids: every id of the smoke, quick and paper grids.

A run id names the trained weights, so an id that moves silently strands every finished run
under the old one. ``tests/data/run_ids.golden`` lists every id the built-in catalog plans
(each task × baseline × registered FRL variant × the profile's seeds, for every profile),
plus the 2-D advection test grid. ``tests/test_golden_ids.py`` checks the current code plans
exactly these ids. A change that moves ids on purpose rewrites the file with

    python -m tests.golden_ids --write

and says in its commit message which ids moved and why; nothing else may move them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

GOLDEN = Path(__file__).parent / "data" / "run_ids.golden"
HEADER = (
    "# Every planned run id of the built-in grids (smoke, quick, paper; every registered FRL\n"
    "# variant) and of the 2-D advection test grid. Rewrite only on purpose, with\n"
    "# `python -m tests.golden_ids --write`, and give the reason in the commit message.\n"
)


def _expand(profile: str, tasks: list[str]) -> list:
    """Every plan of ``profile`` × every registered variant the tasks' grids can hold (a
    variant with more levels than a training grid is refused at expansion, so never runs)."""
    from frlbench.registry import FRL_VARIANTS
    from frlbench.runner.grid import expand_grid
    from frlbench.spec import ConfigError

    plans = []
    for task in tasks:
        for variant in FRL_VARIANTS.list():
            try:
                plans += expand_grid(profile=profile, tasks=[task], frl=[variant])
            except ConfigError as exc:
                if "more levels than the grid allows" not in str(exc):
                    raise
    return plans


def planned_ids() -> list[str]:
    """Every run id the built-in catalog (and the advection test grid) plans, sorted."""
    from frlbench.catalog import Catalog
    from frlbench.registry import PROFILES, TASKS

    with tempfile.TemporaryDirectory() as tmp:
        Catalog(Path(tmp) / "tasks", Path(tmp) / "baselines").load()
        ids: set[str] = set()
        for profile in PROFILES.list():
            tasks = [t for t in TASKS.list() if profile in TASKS.get(t).profiles]
            ids.update(spec.run_id for spec in _expand(profile, tasks))
        ids.update(advection_ids(Path(tmp)))
    return sorted(ids)


def advection_ids(root: Path) -> set[str]:
    """Run ids of the 2-D advection test grid (the user-task route of the test suite)."""
    from frlbench.catalog import Catalog
    from tests.conftest import ADVECTION_TASK

    tasks = root / "user" / "tasks"
    tasks.mkdir(parents=True)
    (tasks / "advection.toml").write_text(ADVECTION_TASK)
    Catalog(tasks, root / "user" / "baselines").load()
    try:
        return {spec.run_id for spec in _expand("smoke", ["advection"])}
    finally:
        Catalog(root / "tasks", root / "baselines").load()


def read_golden() -> list[str]:
    """The ids in the golden file, comments skipped."""
    lines = GOLDEN.read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the golden file")
    args = parser.parse_args(argv)
    ids = planned_ids()
    if args.write:
        GOLDEN.write_text(HEADER + "\n".join(ids) + "\n")
        print(f"wrote {len(ids)} ids to {GOLDEN}")
        return 0
    golden = read_golden()
    moved = sorted(set(golden) ^ set(ids))
    for run_id in moved:
        print(("- " if run_id in golden else "+ ") + run_id)
    return 1 if moved else 0


if __name__ == "__main__":
    sys.exit(main())
