"""The FRL configuration: which of FRL's three steps a variant switches on, and their settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from frlbench.spec.parse import check

#: Version of what FRL computes (multi-resolution levels, encoding, spectral loss). Part of every
#: run's identity: bump it by hand when a change to :mod:`frlbench.frl` changes trained weights,
#: so finished runs are no longer "finished" (as neuraloperator keeps a ``_version`` with weights).
FRL_VERSION = "1"


@dataclass(frozen=True)
class FRLConfig:
    """Frequency Representation Learning switches and hyper-parameters.

    Attributes:
        name: Variant name (``off``, ``full``, ablations).
        multires: Train on levels ρ0 / 2^j built by spectral truncation (step 1).
        encoding: Append Nyquist-normalized sin/cos encoding channels (step 2).
        spectral_loss: Add the Fourier-domain and cross-level consistency terms (step 3).
        levels: Number of coarser levels J below the training resolution.
        min_resolution: Smallest grid allowed for a level.
        encoding_frequencies: Frequencies M per axis; f_m = (m / M) · k_Nyquist, m = 1..M.
        encoding_convention: ``"nyquist"`` (fractions of each grid's own Nyquist) or
            ``"physical"`` (fractions of the training grid's Nyquist, fixed in physical units).
        lambda_spec: Weight of the Fourier-domain error term.
        lambda_cons: Weight of the cross-level consistency term.
        coarse_every: Visit the coarser multires levels on every ``N``-th training step only
            (the first, the ``N+1``-th, ...), with their loss terms weighted ``N`` times, so
            the objective averaged over ``N`` steps is the every-step one. ``1`` (default):
            every step. Cuts the extra coarse-level passes to ``1/N`` of the steps.
    """

    name: str = "off"
    multires: bool = False
    encoding: bool = False
    spectral_loss: bool = False
    levels: int = 2
    min_resolution: int = 4
    encoding_frequencies: int = 4
    encoding_convention: Literal["nyquist", "physical"] = "nyquist"
    lambda_spec: float = 0.1
    lambda_cons: float = 0.1
    coarse_every: int = 1

    def __post_init__(self) -> None:
        check(self.levels >= 0, "levels", self.levels, ">= 0")
        check(self.min_resolution >= 2, "min_resolution", self.min_resolution, ">= 2")
        check(
            self.encoding_frequencies >= 1,
            "encoding_frequencies",
            self.encoding_frequencies,
            ">= 1",
        )
        check(self.lambda_spec >= 0, "lambda_spec", self.lambda_spec, ">= 0")
        check(self.lambda_cons >= 0, "lambda_cons", self.lambda_cons, ">= 0")
        check(self.coarse_every >= 1, "coarse_every", self.coarse_every, ">= 1")

    @property
    def enabled(self) -> bool:
        """True when any FRL step is switched on."""
        return self.multires or self.encoding or self.spectral_loss
