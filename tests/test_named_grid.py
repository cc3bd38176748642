"""Named grids beside a profile's main grid (``frlbench run --grid``), and the refusal, before
any work, of an FRL variant with more levels than the training grid holds."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from frlbench.catalog import Catalog
from frlbench.cli import app
from frlbench.registry import GRIDS
from frlbench.runner import expand_grid, expand_named_grid
from frlbench.spec import ConfigError


@pytest.fixture(scope="module", autouse=True)
def catalog():
    """The built-in catalog, loaded once."""
    Catalog.default().load()


def test_the_ablation_grid_holds_the_papers_ablations_beside_the_main_grid():
    plans = expand_named_grid(GRIDS.get("ablation"))
    ids = {p.run_id for p in plans}
    assert len(plans) == len(ids) == 105  # (5 fluid3d + 2 era5 baselines) x 5 variants x 3 seeds
    by_task = {t: sum(p.task.name == t for p in plans) for t in ("fluid3d", "era5")}
    assert by_task == {"fluid3d": 75, "era5": 30}
    assert {p.profile for p in plans} == {"quick"} and {p.seed for p in plans} == {0, 1, 2}
    main = {p.run_id for p in expand_grid(profile="quick")}
    assert not ids & main  # `run --all` stays at its grid
    j2 = next(p for p in plans if p.frl.name == "full-j2" and p.task.name == "fluid3d")
    assert j2.frl.levels == 2


def test_too_many_levels_are_refused_at_grid_expansion():
    needle = r"'full-j2' on task 'fluid3d' at profile 'smoke'.*levels"
    with pytest.raises(ConfigError, match=needle):
        expand_grid(profile="smoke", tasks=["fluid3d"], baselines=["cnn"], frl=["full-j2"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--grid", "ablation", "--task", "fluid3d"], "--task narrows"),
        (["--grid", "ablation", "--frl", "full"], "--all/--frl/--seeds"),
        (["--grid", "nope"], "unknown grid 'nope'. Known grids: ablation"),
    ],
)
def test_run_grid_bad_selections_are_one_line_errors(tmp_path, args, needle):
    result = CliRunner().invoke(app, ["run", *args, "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert needle in result.output and "Traceback" not in result.output
