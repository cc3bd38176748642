"""Family-specific checks of the Neural ODE, diffusion and Mamba backbones.

The registry-wide tests of tests/test_models.py cover shapes, gradients, determinism and
zero-shot runs; these check what is particular to each family: solver and sampler options,
the diffusion model's own training loss and its reproducible sampling, and the scan orders.
"""

from __future__ import annotations

import importlib

import pytest
import torch

from frlbench.evaluation.evaluate import ModelForecaster
from frlbench.frl import FRLObjective, encoding_channels, wrap
from frlbench.models import create_backbone
from frlbench.models.diffusion import DiffusionOptions, sigma_schedule
from frlbench.models.mamba import SelectiveScan
from frlbench.models.node import SOLVERS
from frlbench.registry import BACKBONES
from frlbench.spec import ConfigError, FRLConfig
from frlbench.tools.zoo import measure_in_process
from tests.conftest import make_task


@pytest.mark.parametrize("name", ["node", "diffusion", "mamba", "transformer"])
def test_families_carry_their_module_version(name: str):
    module = importlib.import_module(f"frlbench.models.{name}")
    assert BACKBONES.entry(name).info.version == module.VERSION


def test_node_solver_names_are_torchdiffeq_methods():
    from torchdiffeq._impl.odeint import SOLVERS as TORCHDIFFEQ_SOLVERS

    assert set(SOLVERS) <= set(TORCHDIFFEQ_SOLVERS)


def test_node_unknown_solver_names_key_and_valid_values():
    with pytest.raises(ConfigError, match=r"options\.solver.*'rk5'.*valid: euler, .*rk4.*dopri5"):
        create_backbone("node", make_task(), 1, 1, solver="rk5")
    with pytest.raises(ConfigError, match=r"options\.steps.*got 0.*>= 1"):
        create_backbone("node", make_task(), 1, 1, steps=0)


@pytest.mark.parametrize("options", [{"solver": "dopri5"}, {"adjoint": True}])
def test_node_adaptive_solver_and_adjoint_train(options: dict):
    torch.manual_seed(0)
    model = create_backbone("node", make_task(ndim=2), 2, 2, **options)
    model(torch.randn(2, 2, 8, 8)).square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_node_more_steps_converge_to_the_same_flow():
    torch.manual_seed(0)
    coarse = create_backbone("node", make_task(ndim=2), 1, 1, steps=4)
    fine = create_backbone("node", make_task(ndim=2), 1, 1, steps=32)
    fine.load_state_dict(coarse.state_dict())
    x = torch.randn(1, 1, 8, 8)
    with torch.no_grad():
        euler = create_backbone("node", make_task(ndim=2), 1, 1, solver="euler", steps=1)
        euler.load_state_dict(coarse.state_dict())
        gap_rk4 = (coarse(x) - fine(x)).abs().max()
        gap_euler = (euler(x) - fine(x)).abs().max()
    assert gap_rk4 < 1e-3 * fine(x).abs().max() + 1e-6
    assert gap_euler > gap_rk4


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("sampling_steps", 0, r"options\.sampling_steps.*got 0.*integer >= 1"),
        ("sampling_steps", -3, r"options\.sampling_steps.*got -3"),
        ("sampler", "ddpm", r"options\.sampler.*'ddpm'.*valid: euler, heun"),
        ("sigma_min", 20.0, r"options\.sigma_min.*sigma_max"),
    ],
)
def test_diffusion_bad_options_name_key_and_valid_values(key, value, message):
    with pytest.raises(ConfigError, match=message):
        create_backbone("diffusion", make_task(), 1, 1, **{key: value})


def test_sigma_schedule_descends_from_sigma_max_to_zero():
    sigmas = sigma_schedule(DiffusionOptions(sampling_steps=4, sigma_max=10.0))
    assert len(sigmas) == 5 and sigmas[-1] == 0
    assert torch.isclose(sigmas[0], torch.tensor(10.0)) and torch.isclose(
        sigmas[-2], torch.tensor(0.002)
    )
    assert (sigmas[1:] < sigmas[:-1]).all()
    assert sigma_schedule(DiffusionOptions(sampling_steps=1, sigma_max=10.0)).tolist() == [
        10.0,
        0.0,
    ]


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_diffusion_evaluations_agree_whatever_the_global_rng(sampler: str):
    torch.manual_seed(0)
    model = create_backbone("diffusion", make_task(ndim=3, channels=2), 2, 2, sampler=sampler)
    x = torch.randn(3, 2, 8, 8, 8)
    forecaster = ModelForecaster(model, torch.device("cpu"))  # the evaluation layer's path
    first = forecaster.forecast(x, 8)
    torch.manual_seed(123)
    torch.randn(100)
    second = forecaster.forecast(x, 8)
    assert torch.equal(first, second)
    other = create_backbone("diffusion", make_task(ndim=3, channels=2), 2, 2, sampler_seed=1)
    other.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert not torch.equal(other(x), first)  # the seed does reach the sampler


def test_diffusion_training_loss_is_the_data_term_when_frl_is_off():
    task = make_task(ndim=2, channels=2, train=16)
    torch.manual_seed(0)
    model = create_backbone("diffusion", task, 2, 2)
    x, y = torch.randn(4, 2, 16, 16), torch.randn(4, 2, 16, 16)
    torch.manual_seed(5)
    loss, parts = FRLObjective(FRLConfig(name="off"), task, 16)(model, x, y)
    torch.manual_seed(5)
    expected = model.training_loss(x, y)
    assert torch.equal(loss, expected) and parts == {"data": expected.item()}
    with torch.no_grad():  # not the MSE of the sampled forecast
        assert not torch.isclose(loss, torch.nn.functional.mse_loss(model(x), y))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_diffusion_with_frl_full_uses_levels_encoding_and_x0_estimate():
    task = make_task(ndim=2, channels=2, train=16)
    cfg = FRLConfig(name="full", multires=True, encoding=True, spectral_loss=True, levels=1)
    torch.manual_seed(0)
    backbone = create_backbone("diffusion", task, 2 + encoding_channels(cfg, task), 2)
    model = wrap(backbone, cfg, task, 16)
    x, y = torch.randn(4, 2, 16, 16), torch.randn(4, 2, 16, 16)
    loss, parts = FRLObjective(cfg, task, 16)(model, x, y)
    assert set(parts) == {"data", "spec", "cons"}
    assert all(v > 0 for v in parts.values())
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    _, estimate = backbone.training_loss(model.encoding(x), y, return_estimate=True)
    assert estimate.shape == y.shape


def test_zoo_times_the_training_loss_of_a_model_that_has_one():
    m = measure_in_process("diffusion", "tiny", 8, 2, ndim=2, min_total_s=0.0, max_repeats=1)
    assert m.backward_s and "training_loss" in m.note


@pytest.mark.parametrize(
    ("scans", "message"),
    [
        (["2+"], r"options\.scans.*\['2\+'\].*valid: scan orders of a 2-D grid: 0\+, 0-, 1\+, 1-"),
        (["x+"], r"options\.scans.*'<axis><\+\|->'"),
        (["0+", "0+"], r"options\.scans.*without repeats"),
    ],
)
def test_mamba_scan_order_the_grid_cannot_take_fails_at_build(scans, message):
    with pytest.raises(ConfigError, match=message):
        create_backbone("mamba", make_task(ndim=2), 1, 1, scans=scans)


def test_mamba_scan_orders_are_selectable_and_run():
    model = create_backbone("mamba", make_task(ndim=3), 1, 1, scans=["0+", "2-"])
    assert [(s.axis, s.reverse) for s in model.blocks[0].scans] == [(0, False), (2, True)]
    with torch.no_grad():
        assert model(torch.randn(1, 1, 4, 6, 8)).shape == (1, 1, 4, 6, 8)


def test_mamba_patches_run_on_finer_grids_and_refuse_grids_they_do_not_divide():
    model = create_backbone("mamba", make_task(ndim=3), 3, 3, "small")
    assert model.options.patch == 2
    with torch.no_grad():
        for n in (8, 16):  # the training grid and a finer one, same weights
            assert model(torch.randn(1, 3, n, n, n)).shape == (1, 3, n, n, n)
        with pytest.raises(ValueError, match=r"mamba \(patch 2\).*divisible by 2.*\(9, 9, 9\)"):
            model(torch.randn(1, 3, 9, 9, 9))


def test_mamba_scan_is_causal_along_its_axis_and_direction():
    torch.manual_seed(0)
    forward, backward = SelectiveScan(4, 3, axis=1, reverse=False), SelectiveScan(4, 3, 1, True)
    backward.load_state_dict(forward.state_dict())
    x = torch.randn(1, 5, 8, 4)
    probe = x.clone()
    probe[:, :, 5] += 1.0  # change position 5 of every line along axis 1
    for scan, unchanged in ((forward, slice(0, 5)), (backward, slice(6, 8))):
        with torch.no_grad():
            diff = (scan(probe, 1.0) - scan(x, 1.0)).abs()
        assert diff[:, :, unchanged].max() == 0
        assert diff[:, :, 5].max() > 0


def test_mamba_step_is_physical_so_memory_spans_the_same_distance_on_every_grid():
    """Δ is scaled by the grid spacing: the response to a bump decays over the same physical
    distance whether the line has 64 or 128 points; with a step fixed in cells it would decay
    over half the distance on the finer grid."""
    torch.manual_seed(0)
    scan = SelectiveScan(2, 2, axis=0, reverse=False)
    coarse = torch.zeros(1, 16, 2)
    coarse[:, 0] = 1.0  # a bump over the first sixteenth of the line

    def response(refine: int, scaled: bool) -> torch.Tensor:
        fine = coarse.repeat_interleave(refine, dim=1)
        with torch.no_grad():  # at the end of coarse cells 1..3, after the bump
            return scan(fine, 1 / refine if scaled else 1.0)[
                :, 2 * refine - 1 : 4 * refine : refine
            ]

    scaled = (response(4, True) - response(8, True)).abs().max()
    fixed = (response(4, False) - response(8, False)).abs().max()
    assert response(8, True).abs().max() > 1e-2  # there is a response to compare
    assert scaled < 0.2 * fixed
