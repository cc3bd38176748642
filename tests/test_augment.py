"""Symmetry augmentation: the cube group commutes with the fluid solver; misuse is refused."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from frlbench.augment import augment_batch, cube_symmetry
from frlbench.catalog import builtin_task_file
from frlbench.config import InvalidValue, TrainSettings, load_task
from frlbench.data.ns3d import NS3DSolver
from frlbench.data.turbulence import random_velocity
from frlbench.frl import FRLObjective
from frlbench.registry import FRL_VARIANTS
from frlbench.train import fit


def _step(u0: torch.Tensor) -> torch.Tensor:
    """A short forced Navier-Stokes run on 8³ (the dynamics whose symmetries are used)."""
    solver = NS3DSolver(8, 0.02, "linear")
    return solver.simulate(u0, t_end=0.1, dt=0.025, save_every=4)[-1]


def test_every_drawn_cube_element_commutes_with_the_solver():
    u0 = random_velocity(8, seed=5, peak_wavenumber=2.0, energy=0.5)
    u1 = _step(u0)
    generator = torch.Generator().manual_seed(0)
    for _ in range(6):
        state = generator.get_state()
        x, y = cube_symmetry(u0[None], u1[None], generator)
        assert not torch.equal(x, u0[None]) or torch.equal(y, u1[None])
        # the transformed input, advanced by the solver, is the transformed target
        torch.testing.assert_close(_step(x[0]), y[0], rtol=0, atol=1e-10)
        generator.set_state(state)
        x_again, _ = cube_symmetry(u0[None], u0[None], generator)
        assert torch.equal(x_again, x)  # input and target get the same element


def test_permuting_the_grid_without_the_components_is_not_a_symmetry():
    """The check above can fail: moving the axes but not the vector components breaks it."""
    u0 = random_velocity(8, seed=5, peak_wavenumber=2.0, energy=0.5)
    wrong = u0.permute(0, 2, 1, 3)  # swap axes x and y, leave the components alone
    assert (_step(wrong) - _step(u0).permute(0, 2, 1, 3)).abs().max() > 1e-3


def test_augmentation_changes_nothing_on_a_task_without_symmetry(task2d):
    assert task2d.symmetry == "none"
    x = torch.randn(2, 1, 8, 8)
    assert augment_batch(task2d, x, x, torch.Generator())[0] is x


def test_cube_symmetry_needs_one_component_per_periodic_axis(task2d):
    with pytest.raises(InvalidValue, match="symmetry"):
        dataclasses.replace(task2d, symmetry="cube")  # 1 channel on a 2D grid
    assert load_task(builtin_task_file("fluid3d")).symmetry == "cube"


def test_fit_needs_the_task_to_augment(task2d):
    objective = FRLObjective(FRL_VARIANTS.get("off"), task2d, 8)
    settings = TrainSettings(augment=True)
    with pytest.raises(ValueError, match="task="):
        fit(torch.nn.Identity(), None, objective, settings, torch.device("cpu"), seed=0)  # type: ignore[arg-type]
