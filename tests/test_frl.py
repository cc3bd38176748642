"""FRL: encoding, multi-resolution levels, spectral loss, wrapper, objective and variants."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from frlbench import metrics, spectral
from frlbench.frl import (
    EncodedModel,
    FRLObjective,
    axis_features,
    build_levels,
    consistency_error,
    encoding_channels,
    level_resolutions,
    level_shapes,
    max_levels,
    spectral_error,
    wrap,
)
from frlbench.frl.spectral_loss import zonal_spectral_error
from frlbench.frl.variants import FULL_CHANGES
from frlbench.geometry import LATLON
from frlbench.registry import BACKBONES, FRL_VARIANTS, UnknownNameError
from frlbench.spec import BackboneSpec, FRLConfig, InvalidValue, TaskSpec, TrainSettings
from tests.conftest import ABLATION_VARIANTS, make_task, real_backbones

VARIANT_NAMES = ABLATION_VARIANTS
#: Named variants that change one of FRL's open choices (convention, M, J, the two weights).
CHOICE_NAMES = ("encoding-only-physical", *FULL_CHANGES)
#: Each arm under its own name, for the ρ0-chosen rows the selection moved.
RHO0_NAMES = ("off-rho0", "full-rho0")
FULL = FRLConfig(name="t", multires=True, encoding=True, spectral_loss=True, levels=2)


def latlon_task() -> TaskSpec:
    task = make_task(ndim=2)
    return dataclasses.replace(task, name="latlon", grid="latlon")


class SpectralMultiplier(nn.Module):
    """A linear operator diagonal in Fourier space with a real multiplier of |k| (band-limited)."""

    def __init__(self, lengths: tuple[float, ...]) -> None:
        super().__init__()
        self.lengths = lengths
        self.scale = nn.Parameter(torch.tensor(0.3, dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape[2:])
        dims = tuple(range(2, x.dim()))
        k = spectral.wavenumber_magnitude(shape, self.lengths, real=True, device=x.device)
        factor = torch.exp(-self.scale * k**2) * (1 + torch.cos(k))
        return torch.fft.irfftn(torch.fft.rfftn(x, dim=dims) * factor, s=shape, dim=dims)


class CountingModel(nn.Module):
    """A pointwise linear model that counts its forward passes."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 1)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.conv(x)


# --- encoding -------------------------------------------------------------------------------


def test_encoding_channel_count():
    task = make_task(ndim=3, channels=3)
    assert encoding_channels(FRLConfig(name="off"), task) == 0
    cfg = FRLConfig(name="e", encoding=True, encoding_frequencies=4)
    assert encoding_channels(cfg, task) == 3 * 7


@pytest.mark.parametrize("n", [4, 8, 16, 32, 64])
def test_encoding_top_frequency_is_the_grid_nyquist(n):
    length = 3.0
    frequencies = 2
    rows = axis_features(n, frequencies, dtype=torch.float64)
    k = spectral.wavenumbers(n, length).abs()
    power = torch.fft.fft(rows, dim=-1, norm="forward").abs() ** 2
    dominant = k[power.argmax(dim=-1)]
    nyquist = spectral.nyquist_wavenumber(n, length)
    # rows: cos_1, cos_2 (= Nyquist), sin_1; m = 1 is half the Nyquist.
    assert dominant[1].item() == pytest.approx(nyquist)
    assert dominant[0].item() == pytest.approx(nyquist / 2)
    assert dominant[2].item() == pytest.approx(nyquist / 2)
    assert torch.equal(rows[1], torch.tensor([(-1.0) ** i for i in range(n)], dtype=rows.dtype))


def test_encoding_matches_formula_in_physical_units():
    length, frequencies = 5.0, 4
    for n in (8, 16, 24):
        x = torch.arange(n, dtype=torch.float64) * (length / n)
        k = torch.arange(1, frequencies + 1, dtype=torch.float64) / frequencies
        k = k * spectral.nyquist_wavenumber(n, length)
        expected = torch.cat(
            [torch.cos(k[:, None] * x), torch.sin(k[:-1, None] * x)]
        )  # sin at m = M is sin(π i) = 0 and is dropped
        got = axis_features(n, frequencies, dtype=torch.float64)
        torch.testing.assert_close(got, expected, atol=1e-12, rtol=0)


def test_equal_normalized_frequency_gives_identical_features_on_every_grid():
    coarse = axis_features(8, 4)
    for n in (16, 32, 64):
        fine = axis_features(n, 4)
        # Position i on any grid sits at the same fraction of that grid's Nyquist wavelength.
        assert torch.equal(fine[:, :8], coarse)


def test_physical_convention_fixes_physical_frequency():
    n0 = 8
    train = axis_features(n0, 4, reference_points=n0, dtype=torch.float64)
    assert torch.equal(train, axis_features(n0, 4, dtype=torch.float64))
    fine = axis_features(4 * n0, 4, reference_points=n0, dtype=torch.float64)
    # Same physical point (every 4th fine point), same feature.
    torch.testing.assert_close(fine[:, ::4], train, atol=1e-12, rtol=0)


def test_encoded_model_appends_cached_channels_on_any_grid():
    task = make_task(ndim=2, channels=2)
    cfg = FRLConfig(name="e", encoding=True, encoding_frequencies=3)
    extra = encoding_channels(cfg, task)
    seen = []
    model = wrap(lambda_module(seen), cfg, task, 8)
    assert isinstance(model, EncodedModel)
    for n in (8, 16, 12):
        x = torch.randn(3, 2, n, n)
        model(x)
        assert seen[-1].shape == (3, 2 + extra, n, n)
        assert torch.equal(seen[-1][:, :2], x)
    feats = model.encoding.features((16, 16), torch.device("cpu"), torch.float32)
    assert feats is model.encoding.features((16, 16), torch.device("cpu"), torch.float32)
    # Axis 0 features vary along axis 0 only.
    assert torch.equal(feats[0, 0, :, 0], feats[0, 0, :, 5])
    assert torch.equal(feats[0, 0, :, 0], axis_features(16, 3)[0])


def lambda_module(seen: list) -> nn.Module:
    class Recorder(nn.Module):
        def forward(self, x):
            seen.append(x)
            return x[:, :2]

    return Recorder()


def test_latlon_encoding_uses_per_axis_nyquist():
    task = latlon_task()
    cfg = FRLConfig(name="e", encoding=True, encoding_frequencies=2)
    enc = wrap(nn.Identity(), cfg, task, 16).encoding
    feats = enc.features(task.grid_shape(16), torch.device("cpu"), torch.float64)
    assert feats.shape == (1, 2 * 3, 8, 16)
    lat, lon = feats[0, :3, :, 0], feats[0, 3:, 0, :]
    # Latitudes at cell centres: the top-frequency (Nyquist) row is the sine ±1 ...
    nyq_lat = torch.tensor([(-1.0) ** i for i in range(8)], dtype=torch.float64)
    torch.testing.assert_close(lat[2], nyq_lat, atol=1e-12, rtol=0)
    # ... and longitudes start at 0: it is the cosine (-1)^i.
    assert torch.equal(lon[1], torch.tensor([(-1.0) ** i for i in range(16)], dtype=lon.dtype))


# --- multi-resolution levels ----------------------------------------------------------------


def test_levels_are_exact_spectral_truncations():
    task = make_task(ndim=3, channels=2, train=16)
    shapes = level_shapes(FULL, task, 16)
    assert shapes == ((16,) * 3, (8,) * 3, (4,) * 3)
    x = torch.randn(2, 2, 16, 16, 16, dtype=torch.float64)
    levels = build_levels(x, shapes)
    assert levels[0] is x
    for level, shape in zip(levels, shapes, strict=True):
        assert torch.equal(level, spectral.truncate(x, shape))


def test_level_resolutions_and_limits():
    assert level_resolutions(32, 2, 4) == (32, 16, 8)
    assert max_levels(32, 4) == 3
    assert max_levels(24, 4) == 2  # 24, 12, 6 (3 is below the minimum)
    assert max_levels(12, 4) == 1  # 12, 6: 3 is below the minimum
    assert max_levels(10, 4) == 1
    assert max_levels(4, 8) == -1


def test_multires_off_means_one_level():
    task = make_task(ndim=2, train=8)
    cfg = FRLConfig(name="t", spectral_loss=True, levels=9)  # levels unused without multires
    assert level_shapes(cfg, task, 8) == ((8, 8),)


# --- spectral loss --------------------------------------------------------------------------


def test_spectral_error_is_zero_exactly_when_spectra_match():
    torch.manual_seed(0)
    y = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    assert spectral_error(y.clone(), y).item() == 0.0
    # One high-frequency mode off: detected.
    bump = torch.cos(7 * torch.arange(16, dtype=torch.float64) * 2 * math.pi / 16)
    assert spectral_error(y + 1e-3 * bump, y).item() > 0


def test_spectral_error_has_finite_gradients():
    torch.manual_seed(0)
    y = torch.randn(2, 1, 8, 8, 8)
    for pred in (torch.randn_like(y), y.clone()):
        pred.requires_grad_(True)
        spectral_error(pred, y).backward()
        assert torch.isfinite(pred.grad).all()
    assert torch.equal(pred.grad, torch.zeros_like(pred.grad))  # minimum at zero error


def test_spectral_error_counts_high_frequencies_like_low_ones():
    n = 32
    grid = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    # The low mode holds 100 times the energy of the high one.
    y = (torch.cos(grid) + 0.1 * torch.cos(12 * grid)).reshape(1, 1, n)
    low = y + 0.1 * torch.cos(grid)  # 10% error on the large scale
    high = y + 0.1 * 0.1 * torch.cos(12 * grid)  # 10% error on the small scale
    assert F.mse_loss(high, y) < 0.02 * F.mse_loss(low, y)
    # Plain MSE barely sees the small-scale error; the spectral term weighs both the same
    # (up to the energy floor of quiet shells).
    torch.testing.assert_close(spectral_error(high, y), spectral_error(low, y), rtol=2e-2, atol=0)


def test_consistency_is_zero_for_a_linear_band_limited_operator():
    task = make_task(ndim=3, train=16)
    model = SpectralMultiplier(task.lengths)
    shapes = level_shapes(FULL, task, 16)
    x = torch.randn(2, 1, 16, 16, 16, dtype=torch.float64)
    preds = [model(level) for level in build_levels(x, shapes)]
    assert consistency_error(preds, shapes).item() < 1e-24
    # A pointwise nonlinearity creates modes the coarse grids alias: not consistent.
    preds = [level**2 for level in build_levels(x, shapes)]
    assert consistency_error(preds, shapes).item() > 1e-2


# --- objective and wrapper ------------------------------------------------------------------


def test_off_is_exactly_plain_mse_with_one_forward():
    task = make_task(ndim=2, channels=2, train=8)
    off = FRL_VARIANTS.get("off")
    model = CountingModel(2)
    assert wrap(model, off, task, 8) is model
    x, y = torch.randn(4, 2, 8, 8), torch.randn(4, 2, 8, 8)
    loss, parts = FRLObjective(off, task, 8)(model, x, y)
    assert model.calls == 1
    assert torch.equal(loss, F.mse_loss(model(x), y))
    assert parts == {"data": loss.item()}


@pytest.mark.parametrize(
    ("cfg", "calls", "keys"),
    [
        (FRLConfig(name="m", multires=True, levels=2), 3, {"data"}),
        (FRLConfig(name="l", spectral_loss=True), 1, {"data", "spec"}),
        (
            FRLConfig(name="f", multires=True, spectral_loss=True, levels=1),
            2,
            {"data", "spec", "cons"},
        ),
    ],
)
def test_objective_terms_and_forward_passes(cfg, calls, keys):
    task = make_task(ndim=2, channels=2, train=16)
    model = CountingModel(2)
    x, y = torch.randn(4, 2, 16, 16), torch.randn(4, 2, 16, 16)
    loss, parts = FRLObjective(cfg, task, 16)(model, x, y)
    assert model.calls == calls
    assert set(parts) == keys
    expected = parts["data"] + cfg.lambda_spec * parts.get("spec", 0.0)
    expected += cfg.lambda_cons * parts.get("cons", 0.0)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_multires_data_term_averages_levels_equally():
    task = make_task(ndim=2, channels=1, train=16)
    cfg = FRLConfig(name="m", multires=True, levels=2)
    model = CountingModel(1)
    x, y = torch.randn(2, 1, 16, 16), torch.randn(2, 1, 16, 16)
    loss, _ = FRLObjective(cfg, task, 16)(model, x, y)
    shapes = level_shapes(cfg, task, 16)
    per_level = [
        F.mse_loss(model(spectral.truncate(x, s)), spectral.truncate(y, s)) for s in shapes
    ]
    torch.testing.assert_close(loss, torch.stack(per_level).mean())


def test_coarse_schedule_visits_coarse_levels_every_nth_step_with_the_mean_objective():
    task = make_task(ndim=2, channels=2, train=16)
    every = 3
    full = FRLConfig(name="f", multires=True, spectral_loss=True, levels=1)
    sched = dataclasses.replace(full, name="s", coarse_every=every)
    x, y = torch.randn(4, 2, 16, 16), torch.randn(4, 2, 16, 16)
    model = CountingModel(2)
    objective = FRLObjective(sched, task, 16)
    losses, calls = [], []
    for _ in range(2 * every):
        before = model.calls
        losses.append(objective(model, x, y)[0])
        calls.append(model.calls - before)
    assert calls == [2, 1, 1] * 2  # coarse level on steps 0 and N only
    # Averaged over N steps the scheduled objective is the every-step one.
    reference, _ = FRLObjective(full, task, 16)(model, x, y)
    torch.testing.assert_close(torch.stack(losses[:every]).mean(), reference)
    torch.testing.assert_close(losses[0], losses[every])
    # A fine-only step is the fine level's share of the every-step terms.
    fine = F.mse_loss(model(x), y) + full.lambda_spec * spectral_error(model(x), y, task.lengths)
    torch.testing.assert_close(losses[1], fine / 2)


def test_full_sched_is_full_with_a_coarse_schedule():
    full, sched = FRL_VARIANTS.get("full"), FRL_VARIANTS.get("full-sched")
    assert sched.coarse_every > 1 and full.coarse_every == 1
    assert dataclasses.replace(sched, name="full", coarse_every=1) == full


def test_default_coarse_every_leaves_run_ids_unchanged(task2d):
    from frlbench.spec import RunSpec

    spec = BackboneSpec(name="b", backbone="cnn", defaults=TrainSettings(size="tiny"))
    run = RunSpec(task2d, spec, FRL_VARIANTS.get("full"), 0, "smoke").resolve()
    assert "coarse_every" not in run.fingerprint()["frl"]
    sched = dataclasses.replace(run, frl=dataclasses.replace(run.frl, coarse_every=2))
    assert sched.fingerprint()["frl"]["coarse_every"] == 2
    assert sched.run_id.split("-")[-1] != run.run_id.split("-")[-1]


def test_objective_rejects_a_batch_off_the_training_grid():
    task = make_task(ndim=2, train=16)
    objective = FRLObjective(FRLConfig(name="m", multires=True, levels=1), task, 16)
    with pytest.raises(ValueError, match="training grid"):
        objective(CountingModel(1), torch.randn(1, 1, 8, 8), torch.randn(1, 1, 8, 8))


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("lambda_spec", -0.1),
        ("lambda_cons", -1.0),
        ("encoding_frequencies", 0),
        ("coarse_every", 0),
    ],
)
def test_bad_hyperparameters_name_the_key_and_valid_range(key, value):
    with pytest.raises(InvalidValue, match=f"key '{key}'.*valid: >= ") as info:
        FRLConfig(name="bad", **{key: value})
    assert info.value.key == key


def test_more_levels_than_the_grid_allows():
    task = make_task(ndim=3, train=16)
    cfg = FRLConfig(name="deep", multires=True, levels=3, min_resolution=4)
    with pytest.raises(InvalidValue, match="more levels than the grid allows") as info:
        FRLObjective(cfg, task, 16)
    assert info.value.key == "levels"
    assert "0..2" in str(info.value)
    cfg = FRLConfig(name="deep", multires=True, levels=0, min_resolution=32)
    with pytest.raises(InvalidValue, match="more levels than the grid allows") as info:
        FRLObjective(cfg, task, 16)
    assert info.value.key == "min_resolution"


def test_unknown_variant_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="Did you mean 'full'") as info:
        FRL_VARIANTS.get("ful")
    for name in VARIANT_NAMES:
        assert name in str(info.value)


def test_latlon_frl_levels_are_area_weighted_and_every_variant_trains():
    task = latlon_task()
    x = torch.randn(2, 3, 16, 32, dtype=torch.float64)
    shapes = level_shapes(FRL_VARIANTS.get("full"), task, 32)
    assert shapes[:2] == ((16, 32), (8, 16))
    levels = build_levels(x, shapes, LATLON)
    for level in levels:  # area-weighted means are conserved on every level
        w = metrics.latitude_weights(level.shape[-2]).reshape(-1, 1)
        torch.testing.assert_close(
            (level * w).mean(dim=(-2, -1)),
            (x * metrics.latitude_weights(16).reshape(-1, 1)).mean(dim=(-2, -1)),
        )
    model = nn.Conv2d(3, 3, 3, padding=1).double()
    for name in ("full", "multires-only", "loss-only", "no-encoding", "encoding-only"):
        cfg = FRL_VARIANTS.get(name)
        objective = FRLObjective(dataclasses.replace(cfg, encoding=False), task, 32)
        loss, parts = objective(model, x, x)
        assert torch.isfinite(loss) and parts["data"] >= 0
    perfect = zonal_spectral_error(x, x)
    assert float(perfect) == 0.0 and float(zonal_spectral_error(x + 0.1 * x.flip(-1), x)) > 0


# --- every registered variant with every registered backbone --------------------------------


def test_registered_variants_are_exactly_the_ablations_and_the_named_choices():
    assert set(FRL_VARIANTS.list()) == {*VARIANT_NAMES, *CHOICE_NAMES, *RHO0_NAMES}
    assert FRL_VARIANTS.get("full-rho0") == dataclasses.replace(
        FRL_VARIANTS.get("full"), name="full-rho0"
    )
    full = FRL_VARIANTS.get("full")
    assert full.multires and full.encoding and full.spectral_loss
    assert not FRL_VARIANTS.get("off").enabled


class TinyConv(nn.Module):
    """A local stand-in backbone, used when no backbone is registered."""

    def __init__(self, ndim: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim]
        self.net = nn.Sequential(
            conv(in_channels, 8, 3, padding=1, padding_mode="circular"),
            nn.GELU(),
            conv(8, out_channels, 3, padding=1, padding_mode="circular"),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _build_tiny(backbone: str, task: TaskSpec, in_channels: int, out_channels: int) -> nn.Module:
    if backbone == "local-tiny-conv":
        return TinyConv(task.ndim, in_channels, out_channels)
    spec = BackboneSpec(name="t", backbone=backbone, defaults=TrainSettings(size="tiny"))
    return BACKBONES.get(backbone)(spec, task, in_channels, out_channels)


def _one_choice_per_backbone_kind() -> list[tuple[str, str]]:
    """The named-choice variants change settings, not code paths: a grid-local and a spectral
    backbone cover them (every backbone already trains with every ablation above)."""
    kinds = [b for b in ("cnn", "fno") if b in BACKBONES.list()] or ["local-tiny-conv"]
    return [(b, v) for b in kinds for v in CHOICE_NAMES]


@pytest.mark.parametrize(
    ("backbone", "variant"),
    [(b, v) for v in VARIANT_NAMES for b in real_backbones() or ["local-tiny-conv"]]
    + _one_choice_per_backbone_kind(),
)
def test_every_backbone_trains_one_step_with_every_variant(backbone, variant):
    cfg = FRL_VARIANTS.get(variant)
    train = max(8, cfg.min_resolution * 2**cfg.levels) if cfg.multires else 8
    task = make_task(ndim=3, channels=2, train=train, tests=(train,), ref=train)
    torch.manual_seed(0)
    backbone_module = _build_tiny(backbone, task, 2 + encoding_channels(cfg, task), 2)
    model = wrap(backbone_module, cfg, task, train)
    assert (model is backbone_module) == (not cfg.encoding)
    objective = FRLObjective(cfg, task, train)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(2, 2, *task.grid_shape(train))
    y = torch.randn_like(x)
    before = [p.detach().clone() for p in model.parameters()]
    loss, parts = objective(model, x, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
    assert all(math.isfinite(v) for v in parts.values())
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    # The trained model still runs on a finer grid (zero-shot super-resolution).
    with torch.no_grad():
        out = model(torch.randn(1, 2, *task.grid_shape(2 * train)))
    assert out.shape == (1, 2, *task.grid_shape(2 * train))
