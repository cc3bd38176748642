"""The three built-in profiles: smoke (CI), quick (CPU default) and paper (GPU)."""

from __future__ import annotations

from frlbench.registry import PROFILES
from frlbench.spec import Profile

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
