"""The three built-in profiles: smoke (CI), quick (CPU default) and paper (GPU); and the named
grid of the paper's ablations at the quick profile's test grids."""

from __future__ import annotations

from frlbench.registry import GRIDS, PROFILES
from frlbench.spec import GridCell, NamedGrid, Profile

for _profile in (
    Profile(
        name="smoke",
        description="seconds per run; for CI and for checking an installation",
        seeds=(0,),
        frl_variants=("off", "full"),
        device="cpu",
        expects_skill=False,
    ),
    Profile(
        name="quick",
        description="CPU default: the whole `frlbench run --all` takes about 3 h 45 min on 2 cores",
        seeds=(0, 1, 2),
        frl_variants=("off", "full"),
        device="auto",
    ),
    Profile(
        name="paper",
        description="GPU sizes close to the paper's (train 32^3, test up to 128^3)",
        seeds=(0, 1, 2),
        frl_variants=("off", "full", "encoding-only", "multires-only", "loss-only", "no-encoding"),
        device="auto",
    ),
):
    PROFILES.add(_profile.name, _profile, source=__name__, description=_profile.description)

#: The paper's ablations: each FRL step alone (the encoding under both conventions) and two
#: multi-resolution levels, for the paper's families on each task.
ABLATIONS = ("encoding-only", "encoding-only-physical", "multires-only", "loss-only", "full-j2")

ABLATION_GRID = NamedGrid(
    name="ablation",
    description=(
        "the paper's ablations (each FRL step alone, J = 2) at every quick test grid, and the "
        "rho0-chosen rows the selection moved; 3 seeds; beside `run --all`, not in it"
    ),
    profile="quick",
    seeds=(0, 1, 2),
    cells=(
        GridCell(("fluid3d",), ("gnn", "cnn", "fno", "transformer", "diffusion"), ABLATIONS),
        GridCell(("era5",), ("cnn", "transformer"), ABLATIONS),
        GridCell(("fluid3d", "era5"), (), ("off-rho0", "full-rho0"), declared_only=True),
    ),
)
GRIDS.add(ABLATION_GRID.name, ABLATION_GRID, source=__name__, description=ABLATION_GRID.description)
