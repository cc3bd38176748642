"""Every registered backbone, parametrized over the whole registry, plus the shipped baselines.

A backbone added to frlbench/models/ or dropped into baselines/ as a ``*.py`` plugin is
tested here the day it is added: shapes at several resolutions in 2D and 3D, gradients,
determinism, zero-shot runs at 4x the training resolution and the error messages.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from frlbench.catalog import Catalog, discover_plugins
from frlbench.models import build_backbone, count_parameters, create_backbone
from frlbench.models.common import grid_coordinates
from frlbench.models.gnn import neighbour_offsets
from frlbench.models.transformer import GalerkinTransformer, TransformerOptions
from frlbench.registry import BACKBONES, UnknownNameError
from frlbench.spec import BackboneSpec, ConfigError, TaskSpec, TrainSettings, load_baseline
from frlbench.tools.zoo import Measurement, describe_backbones, measure_in_process
from tests.conftest import make_task, real_backbones

CATALOG = Catalog.default()
BASELINES_DIR = CATALOG.baselines_dir
discover_plugins(BASELINES_DIR)  # the user's own plugins (./baselines/*.py) are tested too
NAMES = real_backbones()
BUILTINS = ["cnn", "diffusion", "fno", "gnn", "mamba", "node", "tfno", "transformer", "unet"]
BASELINE_FILES = CATALOG.baseline_files()  # the built-ins shipped in the package, then the user's
# Resolutions divisible by 4, the grid multiple of the tiny U-Net (depth 2).
RESOLUTIONS = (8, 12, 16)


def latlon_task() -> TaskSpec:
    return dataclasses.replace(make_task(ndim=2, channels=2), name="latlon", grid="latlon")


def tiny(name: str, task: TaskSpec, in_channels: int = 2, out_channels: int = 3, seed: int = 0):
    torch.manual_seed(seed)
    return create_backbone(name, task, in_channels, out_channels, size="tiny")


def test_builtin_families_are_registered():
    assert set(BUILTINS) <= set(NAMES)
    for name in BUILTINS:
        info = BACKBONES.entry(name).info
        assert info.sizes == ("tiny", "small", "base") == tuple(info.presets)
        assert info.family


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("name", NAMES)
def test_output_shape_at_three_resolutions(name: str, ndim: int):
    task = make_task(ndim=ndim, channels=2)
    model = tiny(name, task)
    for n in RESOLUTIONS:
        x = torch.randn(2, 2, *([n] * ndim))
        with torch.no_grad():
            y = model(x)
        assert y.shape == (2, 3, *([n] * ndim)), (name, n)
        assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_latlon_grid(name: str):
    task = latlon_task()
    model = tiny(name, task, in_channels=2, out_channels=2)
    x = torch.randn(1, 2, *task.grid_shape(16))
    with torch.no_grad():
        assert model(x).shape == x.shape


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name: str):
    model = tiny(name, make_task(ndim=3, channels=2))
    model(torch.randn(2, 2, 8, 8, 8)).square().mean().backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, f"{name}: no gradient reaches {pname}"
        assert torch.isfinite(p.grad).all(), f"{name}: non-finite gradient in {pname}"
        assert p.grad.abs().sum() > 0, f"{name}: zero gradient in {pname}"


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output(name: str):
    task = make_task(ndim=3, channels=2)
    x = torch.randn(1, 2, 8, 8, 8)
    with torch.no_grad():
        a = tiny(name, task, seed=3)(x)
        b = tiny(name, task, seed=3)(x)
        c = tiny(name, task, seed=4)(x)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


@pytest.mark.parametrize("name", NAMES)
def test_tiny_runs_at_four_times_its_training_resolution(name: str):
    task = make_task(ndim=3, channels=3)  # smoke: tiny trains at 8^3
    model = tiny(name, task, in_channels=3, out_channels=3)
    train = task.profiles["smoke"].train_resolution
    x = torch.randn(1, 3, *([4 * train] * 3))
    with torch.no_grad():
        y = model(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("name", NAMES)
def test_frl_style_extra_input_channels(name: str):
    """FRL appends encoding channels by asking for a larger ``in_channels``; nothing else."""
    model = tiny(name, make_task(ndim=2, channels=3), in_channels=3 + 16, out_channels=3)
    with torch.no_grad():
        assert model(torch.randn(1, 19, 8, 8)).shape == (1, 3, 8, 8)


def test_unknown_backbone_lists_known_ones_and_closest_match():
    with pytest.raises(UnknownNameError) as info:
        create_backbone("fnoo", make_task(), 1, 1)
    message = str(info.value)
    assert "Did you mean 'fno'" in message
    for name in BUILTINS:
        assert name in message


@pytest.mark.parametrize("name", NAMES)
def test_unknown_size_lists_valid_ones_and_closest_match(name: str):
    with pytest.raises(ValueError, match=r"unknown size 'smal'") as info:
        create_backbone(name, make_task(), 1, 1, size="smal")
    message = str(info.value)
    assert "Did you mean 'small'" in message or "Valid sizes" in message
    for size in BACKBONES.entry(name).info.sizes:
        assert size in message


def test_build_backbone_checks_the_size_of_a_spec():
    spec = BackboneSpec(name="b", backbone="cnn", defaults=TrainSettings(size="huge"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Valid sizes: tiny, small, base"):
        build_backbone(spec, make_task(), 1, 1)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_channel_count_names_expected_and_given_shape(name: str):
    model = tiny(name, make_task(ndim=3, channels=3), in_channels=3, out_channels=3)
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 3, n, n, n\)") as info:
        model(torch.randn(1, 4, 8, 8, 8))
    assert "got (1, 4, 8, 8, 8)" in str(info.value)


@pytest.mark.parametrize("name", NAMES)
def test_wrong_dimensionality_names_expected_and_given_shape(name: str):
    model = tiny(name, make_task(ndim=3, channels=3), in_channels=3, out_channels=3)
    with pytest.raises(ValueError, match=r"3 spatial dims") as info:
        model(torch.randn(1, 3, 8, 8))
    assert "got (1, 3, 8, 8)" in str(info.value)


@pytest.mark.parametrize("name", BUILTINS)
def test_unknown_option_lists_valid_keys(name: str):
    with pytest.raises(ConfigError, match=r"options\.widht.*unknown key; valid keys"):
        create_backbone(name, make_task(), 1, 1, widht=3)


def test_options_override_the_size_preset():
    small = create_backbone("cnn", make_task(), 1, 1, size="small")
    wider = create_backbone("cnn", make_task(), 1, 1, size="small", width=32)
    assert count_parameters(wider) > count_parameters(small)
    with pytest.raises(ConfigError, match=r"options\.kernel_size.*odd"):
        create_backbone("cnn", make_task(), 1, 1, kernel_size=4)


def test_unet_refuses_a_grid_not_divisible_by_its_downsampling_factor():
    model = tiny("unet", make_task(ndim=2, channels=2))
    with pytest.raises(ValueError, match=r"divisible by 4; got grid \(10, 10\)"):
        model(torch.randn(1, 2, 10, 10))


@pytest.mark.parametrize("name", ["fno", "tfno"])
def test_fno_refuses_odd_grid_sizes_that_neuralop_mishandles(name: str):
    model = tiny(name, make_task(ndim=2, channels=2))
    with pytest.raises(ValueError, match=r"even size.*got grid \(9, 8\)"):
        model(torch.randn(1, 2, 9, 8))
    with torch.no_grad():  # the last (real-FFT) axis may be odd
        assert model(torch.randn(1, 2, 8, 9)).shape == (1, 3, 8, 9)


@pytest.mark.parametrize(("size", "modes"), [("tiny", 8), ("small", 16), ("base", 32)])
def test_fno_sizes_keep_every_mode_of_their_training_grid(size: str, modes: int):
    """neuraloperator 2.0: n_modes = n keeps every mode of an n-point axis, not n/2."""
    with torch.device("meta"):
        model = create_backbone("fno", make_task(ndim=3), 1, 1, size=size)
    assert list(model.net.n_modes) == [modes] * 3


@pytest.mark.parametrize("name", ["fno", "tfno"])
def test_fno_latitude_padding_pads_latitude_only_and_only_on_a_latlon_grid(name: str):
    torch.manual_seed(0)
    padded = create_backbone(name, latlon_task(), 2, 2, size="tiny", latitude_padding=0.25)
    pad = padded.net.domain_padding
    for rows in (8, 16):  # the same fraction of every grid: 2 and 4 rows at each pole
        x = torch.randn(1, 2, rows, 2 * rows)
        assert pad.pad(x).shape == (1, 2, rows + rows // 2, 2 * rows)
        with torch.no_grad():
            assert padded(x).shape == x.shape
    torch.manual_seed(0)
    plain = create_backbone(name, latlon_task(), 2, 2, size="tiny")
    assert plain.net.domain_padding is None
    x = torch.randn(1, 2, 8, 16)
    with torch.no_grad():  # same weights, different treatment of the poles
        assert not torch.allclose(padded(x), plain(x))
    periodic = create_backbone(name, make_task(ndim=2), 1, 1, size="tiny", latitude_padding=0.25)
    assert periodic.net.domain_padding is None
    with pytest.raises(ConfigError, match=r"options\.latitude_padding.*0 <= value <= 1"):
        create_backbone(name, latlon_task(), 2, 2, size="tiny", latitude_padding=-0.1)


def test_fno_channel_mlp_dropout_acts_in_training_only():
    model = create_backbone("fno", make_task(ndim=2), 1, 1, size="tiny", channel_mlp_dropout=0.5)
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        model.train()
        assert not torch.allclose(model(x), model(x))
        model.eval()
        torch.testing.assert_close(model(x), model(x))
    with pytest.raises(ConfigError, match=r"options\.channel_mlp_dropout.*0 <= value < 1"):
        create_backbone("fno", make_task(ndim=2), 1, 1, size="tiny", channel_mlp_dropout=1.0)


def test_fno_n_modes_convention_passes_the_nyquist_band():
    """A spectral layer with n_modes = 16 passes wavenumbers up to 8 on a 16-point axis."""
    from neuralop.layers.spectral_convolution import SpectralConv

    layer = SpectralConv(1, 1, n_modes=(16, 16), bias=False)
    with torch.no_grad():
        layer.weight.tensor.fill_(1.0)
        xs = torch.arange(16) * (2 * math.pi / 16)
        for k in range(1, 8):
            wave = torch.cos(k * xs)[None, None, :, None].expand(1, 1, 16, 16).contiguous()
            assert torch.allclose(layer(wave), wave, atol=1e-5), k


def test_gnn_stencil_is_fixed_in_physical_units():
    coarse = neighbour_offsets((16, 16, 16), 1 / 16, "star")
    fine = neighbour_offsets((64, 64, 64), 1 / 16, "star")
    assert sorted(o for o, _ in coarse) == sorted(
        tuple(s * e for e in unit) for s in (-1, 1) for unit in ((1, 0, 0), (0, 1, 0), (0, 0, 1))
    )
    assert sorted(o for o, _ in fine) == sorted(tuple(4 * c for c in o) for o, _ in coarse)
    # the edge features (displacement / radius) are the same on both grids
    assert sorted(d for _, d in coarse) == sorted(d for _, d in fine)
    ball = neighbour_offsets((32, 32), 1 / 16, "ball")  # radius 2 cells
    assert len(ball) == 12  # integer points with 0 < |o| <= 2


def test_transformer_positions_are_functions_of_physical_coordinates():
    model = GalerkinTransformer(
        TransformerOptions(), 1, 1, (2 * math.pi, 2 * math.pi), (True, True)
    )
    x = torch.zeros(1)
    coarse = model.positional_features((8, 8), x)
    fine = model.positional_features((16, 16), x)
    assert torch.allclose(coarse, fine[::2, ::2], atol=1e-6)
    lat = grid_coordinates((4,), (math.pi,), (False,))[0]
    assert torch.allclose(lat, torch.tensor([0.5, 1.5, 2.5, 3.5]) * math.pi / 4)


def test_describe_backbones_counts_parameters_of_every_size():
    rows = {row["name"]: row for row in describe_backbones(names=BUILTINS)}
    assert sorted(rows) == BUILTINS
    for row in rows.values():
        counts = row["parameters"]
        assert not row["error"]
        assert counts["tiny"] < counts["small"] < counts["base"], row
    # complex spectral weights count twice
    task = make_task(ndim=3, channels=3)
    fno = create_backbone("fno", task, 3, 3, size="tiny")
    real = sum(p.numel() for p in fno.parameters() if not p.is_complex())
    complex_ = sum(p.numel() for p in fno.parameters() if p.is_complex())
    assert rows["fno"]["parameters"]["tiny"] == real + 2 * complex_ != real + complex_


def test_measure_in_process_reports_time_and_memory():
    m = measure_in_process("cnn", "tiny", 8, 2, ndim=2, min_total_s=0.0, max_repeats=1)
    assert isinstance(m, Measurement)
    assert m.parameters > 0 and m.forward_s > 0 and m.backward_s > 0
    assert m.backward_peak_mb >= m.forward_peak_mb >= m.rss_before_mb > 0


@pytest.mark.parametrize("path", BASELINE_FILES, ids=[p.stem for p in BASELINE_FILES])
def test_every_baseline_loads_and_builds_its_smoke_config(path: Path):
    spec = load_baseline(path)
    assert spec.backbone in BACKBONES, f"{path}: unknown backbone {spec.backbone!r}"
    settings = {profile: spec.settings(profile) for profile in ("smoke", "quick", "paper")}
    assert settings["smoke"].size == "tiny", f"{path}: the smoke profile must use size 'tiny'"
    smoke = dataclasses.replace(spec, defaults=settings["smoke"])
    task = make_task(ndim=3, channels=3)
    torch.manual_seed(0)
    model = build_backbone(smoke, task, 3, 3)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 8, 8)).shape == (1, 3, 8, 8, 8)
    # the quick and paper options are valid too (built without allocating)
    for profile in ("quick", "paper"):
        with torch.device("meta"):
            build_backbone(dataclasses.replace(spec, defaults=settings[profile]), task, 3, 3)


def test_one_baseline_per_builtin_backbone():
    backbones = {load_baseline(path).backbone for path in BASELINE_FILES}
    assert set(BUILTINS) <= backbones


@pytest.mark.slow
def test_write_model_zoo_writes_a_markdown_table(tmp_path: Path):
    from frlbench.tools.zoo import write_model_zoo

    out = tmp_path / "zoo.md"
    rows = write_model_zoo(
        out, backbones=["cnn"], sizes=["tiny"], ndim=2, train_resolution=8, scale=2,
        progress=None,
    )  # fmt: skip
    assert [(m.resolution, m.batch_size) for m in rows] == [(8, 8), (16, 1)]
    assert all(m.forward_s and m.forward_peak_mb and not m.note for m in rows)
    text = out.read_text()
    assert "## 8×8, batch 8" in text and "## 16×16, batch 1" in text
    assert "| cnn | CNN | tiny |" in text
