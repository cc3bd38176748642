"""Registered FRL variants: ``off``, ``full`` and the ablations, as configs rather than code.

Every variant that builds multi-resolution levels uses ``levels = 1`` (ρ0 and ρ0 / 2) with
``min_resolution = 4``: a variant must run under every profile, and one halving is what an
8-point smoke training grid allows (the grid must halve into integer grids of at least
``min_resolution`` points; more levels fail with "more levels than the grid allows"). It also
keeps the extra forward/backward work at about ``2^-d`` of a step (1/8 in 3-D); see
``benchmarks/bench_frl.py`` for the measured overhead. Deeper ladders are ablations to
register under their own names, not a silent change of these.

``full-sched`` is ``full`` with the coarse level visited on every ``COARSE_EVERY``-th step only,
weighted so the objective averaged over those steps is ``full``'s (``FRLConfig.coarse_every``):
a cheaper scheme whose accuracy against ``full`` is for the ablation table to show.
"""

from __future__ import annotations

from frlbench.registry import FRL_VARIANTS
from frlbench.spec import FRLConfig

LADDER = {"levels": 1, "min_resolution": 4}
#: Weight of the Fourier-domain term in every variant that has it, chosen on the validation
#: split by the procedure that sets each baseline's learning rate (``python -m frlbench.tune
#: --task fluid3d --profile quick --baseline B --frl full --frl-set lambda_spec=L``): grid
#: L in {1e-4, 1e-3, 1e-2, 1e-1} x lr in {1e-3, 3e-3, 1e-2}, seed 0, all nine baselines, best
#: validation RMSE per (baseline, L). For 8 of the 9 baselines the validation RMSE falls
#: monotonically as L falls; mean of best validation RMSE / persistence's: 1e-1 0.92,
#: 1e-2 0.83, 1e-3 0.68, 1e-4 0.64 (docs/frl_weights.md has every run). The smallest L tried
#: wins: a larger weight never helped on validation. lambda_cons keeps its default 0.1 (not tuned).
SPECTRAL = {"lambda_spec": 1e-4}
#: The two variants every profile runs: the backbone alone, and the backbone with all of FRL.
OFF = "off"
FULL = "full"
#: ``full-sched`` visits the coarse level every COARSE_EVERY-th step (cheaper; an option).
COARSE_EVERY = 4

#: ``full``'s own settings; the named variants below change one of them each.
FULL_SETTINGS = {"multires": True, "encoding": True, "spectral_loss": True, **LADDER, **SPECTRAL}
#: One open choice of FRL changed at a time around ``full`` (docs/frl_selection.md): the
#: encoding convention, the number of encoding frequencies M, the consistency and spectral
#: weights, and (an ablation only: a grid of 8 points per axis cannot hold two levels below it)
#: J = 2 levels. Each is a registered variant, so a table row names the choice it measured.
FULL_CHANGES: dict[str, dict[str, object]] = {
    "full-physical": {"encoding_convention": "physical"},
    "full-m2": {"encoding_frequencies": 2},
    "full-m8": {"encoding_frequencies": 8},
    "full-cons0": {"lambda_cons": 0.0},
    "full-cons1": {"lambda_cons": 1.0},
    "full-spec1e-2": {"lambda_spec": 1e-2},
    "full-j2": {"levels": 2},
}

VARIANTS = (
    FRLConfig(name=OFF),
    FRLConfig(name=FULL, **FULL_SETTINGS),
    FRLConfig(name="full-sched", coarse_every=COARSE_EVERY, **FULL_SETTINGS),
    FRLConfig(name="encoding-only", encoding=True),
    FRLConfig(name="multires-only", multires=True, **LADDER),
    FRLConfig(name="loss-only", spectral_loss=True, **SPECTRAL),
    FRLConfig(name="no-encoding", multires=True, spectral_loss=True, **LADDER, **SPECTRAL),
    # The encoding's other reading: fixed physical frequencies, fractions of the *training* grid's
    # Nyquist, so a finer grid's channels differ from the training grid's in index space.
    FRLConfig(name="encoding-only-physical", encoding=True, encoding_convention="physical"),
    *(FRLConfig(name=name, **{**FULL_SETTINGS, **change}) for name, change in FULL_CHANGES.items()),
    # Each arm of the main comparison under its own name, for a baseline whose arm the
    # resolution-transfer selection moved: its table in the baseline TOML holds the setting
    # chosen at ρ0 before, so that row stays in the ablation table (docs/frl_selection.md).
    FRLConfig(name="off-rho0"),
    FRLConfig(name="full-rho0", **FULL_SETTINGS),
)

#: Built-in variant names in display order (the report's order and colours follow it).
VARIANT_NAMES = tuple(cfg.name for cfg in VARIANTS)

for _cfg in VARIANTS:
    _steps = [s for s in ("multires", "encoding", "spectral_loss") if getattr(_cfg, s)]
    FRL_VARIANTS.add(_cfg.name, _cfg, source=__name__, steps=", ".join(_steps) or "none")
