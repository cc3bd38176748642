"""Losses of a few eager training steps, stored so that a faster step proves it computes the same.

``tests/data/step_losses.json`` holds, for a few backbones (tiny size) under every built-in FRL
variant, the loss terms (``data``, ``spec``, ``cons``, unweighted) and the total loss of the
first :data:`STEPS` Adam steps on fixed random batches: a 3-D periodic task (8³, coarse level
4³) and a 2-D lat-lon one. ``tests/test_step_losses.py`` recomputes them with the current code
and compares to 1e-6. The file was written from the code before the training step was made
faster; rewrite it only when the numbers change on purpose::

    python -m tests.step_losses --write
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from tests.conftest import ABLATION_VARIANTS

FIXTURE = Path(__file__).parent / "data" / "step_losses.json"
STEPS = 3
BATCH = 2
CHANNELS = 2
BACKBONES = ("fno", "unet", "cnn", "diffusion")
# (case name, spatial dims, grid kind, training resolution)
GRIDS = (("periodic3d", 3, "periodic", 8), ("latlon2d", 2, "latlon", 16))
LATLON_BACKBONES = ("cnn",)


def cases() -> list[tuple[str, str, str]]:
    """``(grid case, backbone, variant)`` of every stored entry."""
    out = []
    for grid, _, kind, _ in GRIDS:
        backbones = LATLON_BACKBONES if kind == "latlon" else BACKBONES
        out += [(grid, b, v) for b in backbones for v in ABLATION_VARIANTS]
    return out


def step_losses(grid: str, backbone: str, variant: str) -> list[dict[str, float]]:
    """Loss terms and total loss of each of the first :data:`STEPS` eager training steps."""
    import torch

    from frlbench.catalog import discover_plugins
    from frlbench.frl import FRLObjective, encoding_channels, wrap
    from frlbench.registry import BACKBONES as REGISTRY
    from frlbench.registry import FRL_VARIANTS
    from frlbench.spec import BackboneSpec, TrainSettings
    from tests.conftest import make_task

    discover_plugins()
    _, ndim, kind, train = next(g for g in GRIDS if g[0] == grid)
    task = make_task(ndim=ndim, channels=CHANNELS, train=train, tests=(train,), ref=train)
    task = dataclasses.replace(task, grid=kind)
    cfg = FRL_VARIANTS.get(variant)
    torch.manual_seed(0)
    spec = BackboneSpec(name="t", backbone=backbone, defaults=TrainSettings(size="tiny"))
    net = REGISTRY.get(backbone)(spec, task, CHANNELS + encoding_channels(cfg, task), CHANNELS)
    model = wrap(net, cfg, task, train)
    objective = FRLObjective(cfg, task, train)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(1)
    shape = (BATCH, CHANNELS, *task.grid_shape(train))
    out = []
    for _ in range(STEPS):
        x = torch.randn(shape, generator=gen)
        y = 0.9 * x + 0.1 * torch.randn(shape, generator=gen)
        loss, parts = objective(model, x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        out.append({**parts, "loss": loss.item()})
    return out


def compute_all() -> dict[str, list[dict[str, float]]]:
    """Every case's losses, keyed ``grid/backbone/variant``."""
    return {f"{g}/{b}/{v}": step_losses(g, b, v) for g, b, v in cases()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {FIXTURE}")
    args = parser.parse_args(argv)
    values = compute_all()
    if args.write:
        FIXTURE.write_text(json.dumps(values, indent=1, sort_keys=True) + "\n")
        print(f"wrote {FIXTURE} ({len(values)} cases)")
    else:
        print(json.dumps(values, indent=1, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
