"""Every planned run id is the one in ``tests/data/run_ids.golden`` (see tests/golden_ids.py)."""

from __future__ import annotations

import pytest

from tests.golden_ids import planned_ids, read_golden


def test_planned_run_ids_match_the_golden_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FRLBENCH_ERA5", raising=False)
    monkeypatch.delenv("FRLBENCH_HOME", raising=False)
    golden, planned = set(read_golden()), set(planned_ids())
    moved = sorted(f"- {i}" for i in golden - planned) + sorted(f"+ {i}" for i in planned - golden)
    assert not moved, (
        f"{len(moved)} run ids moved (- golden only, + planned only); if on purpose, rewrite "
        "the file with `python -m tests.golden_ids --write` and give the reason in the commit:\n"
        + "\n".join(moved[:40])
    )


def test_the_golden_file_covers_every_profile_and_the_test_grid() -> None:
    golden = read_golden()
    assert len(golden) == len(set(golden))
    for prefix in ("fluid3d-", "era5-", "advection-"):
        assert any(i.startswith(prefix) for i in golden), prefix
