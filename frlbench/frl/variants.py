"""Registered FRL variants: ``off``, ``full`` and the ablations, as configs rather than code."""

from __future__ import annotations

from frlbench.config import FRLConfig
from frlbench.registry import FRL_VARIANTS

VARIANTS = (
    FRLConfig(name="off"),
    FRLConfig(name="full", multires=True, encoding=True, spectral_loss=True),
    FRLConfig(name="encoding-only", encoding=True),
    FRLConfig(name="multires-only", multires=True),
    FRLConfig(name="loss-only", spectral_loss=True),
    FRLConfig(name="no-encoding", multires=True, spectral_loss=True),
)

for _cfg in VARIANTS:
    _steps = [s for s in ("multires", "encoding", "spectral_loss") if getattr(_cfg, s)]
    FRL_VARIANTS.add(_cfg.name, _cfg, source=__name__, steps=", ".join(_steps) or "none")
