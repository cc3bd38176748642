"""Symmetry augmentation: the cube group commutes with the fluid solver, the equator mirror with
the unforced shallow-water solver; misuse is refused."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from frlbench.augment import augment_batch, cube_symmetry, equator_mirror
from frlbench.catalog import builtin_task_file
from frlbench.data.ns3d import NS3DSolver
from frlbench.data.swe import SphereSWE, SWEParams
from frlbench.data.turbulence import random_velocity
from frlbench.frl import FRLObjective
from frlbench.registry import FRL_VARIANTS
from frlbench.spec import InvalidValue, TrainSettings, load_task
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


def _swe_step(swe: SphereSWE, phi, u, v):
    """Three steps of the shallow-water solver from grid fields; grid fields back."""
    state = swe.run(swe.from_grid(phi, u, v), steps=3, save_every=3)[-1]
    out = swe.to_grid(state)
    return out["geopotential"], out["u_component_of_wind"], out["v_component_of_wind"]


def _mirror(phi, u, v, negate_v=True):
    return phi.flip(-2), u.flip(-2), (-v if negate_v else v).flip(-2)


@pytest.mark.parametrize("forcing", [0.0, 2e-5])
def test_equator_mirror_commutes_with_the_shallow_water_solver_unless_forced(forcing):
    swe = SphereSWE(32, SWEParams(dt=600.0, forcing_amplitude=forcing))
    start = swe.to_grid(swe.random_initial_condition(seed=2))
    fields = start["geopotential"], start["u_component_of_wind"], start["v_component_of_wind"]
    mirrored_then_stepped = _swe_step(swe, *_mirror(*fields))
    stepped_then_mirrored = _mirror(*_swe_step(swe, *fields))
    scale = [f.abs().max() for f in stepped_then_mirrored]
    errors = [
        (a - b).abs().max() / s
        for a, b, s in zip(mirrored_then_stepped, stepped_then_mirrored, scale, strict=True)
    ]
    if forcing == 0.0:
        assert max(errors) < 1e-9
        # the check can fail: mirroring v without negating it is not a symmetry
        wrong = _swe_step(swe, *_mirror(*fields, negate_v=False))
        assert (wrong[2] - _mirror(*_swe_step(swe, *fields), negate_v=False)[2]).abs().max() > (
            1e-3 * scale[2]
        )
    else:  # a forcing pattern that is not itself symmetric breaks the symmetry
        assert max(errors) > 1e-6


def test_equator_mirror_of_normalized_fields_is_the_physical_mirror_normalized():
    generator = torch.Generator().manual_seed(0)
    phys_x = torch.randn(2, 3, 8, 16, generator=generator) + torch.tensor([5.0, 1.0, 0.3]).view(
        1, 3, 1, 1
    )
    phys_y = phys_x + 0.1 * torch.randn(2, 3, 8, 16, generator=generator)
    mean, std = torch.tensor([5.0, 1.2, 0.3]), torch.tensor([2.0, 0.5, 0.7])

    def norm(t):
        return (t - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1)

    sign = torch.tensor([1.0, 1.0, -1.0]).view(1, 3, 1, 1)
    seen = set()
    for seed in range(8):
        x, y = equator_mirror(
            norm(phys_x), norm(phys_y), torch.Generator().manual_seed(seed), [2], mean, std
        )
        mirrored = torch.allclose(x, norm(phys_x.flip(-2) * sign), atol=1e-6)
        assert mirrored or torch.equal(x, norm(phys_x))
        if mirrored:
            torch.testing.assert_close(y, norm(phys_y.flip(-2) * sign))
        seen.add(mirrored)
    assert seen == {True, False}  # identity and mirror are both drawn


def test_equator_symmetry_needs_a_latlon_grid_and_known_odd_channels(task2d):
    with pytest.raises(InvalidValue, match="symmetry"):
        dataclasses.replace(task2d, symmetry="equator")  # periodic grid
    era5 = load_task(builtin_task_file("era5"))
    assert era5.symmetry == "equator" and era5.odd_channels == ("v500",)
    with pytest.raises(InvalidValue, match="w500"):
        dataclasses.replace(era5, odd_channels=("w500",))
    with pytest.raises(InvalidValue, match="odd_channels"):
        dataclasses.replace(era5, symmetry="none")
    x = torch.randn(2, 3, 4, 8)
    with pytest.raises(ValueError, match="mean and std"):
        augment_batch(era5, x, x, torch.Generator())
