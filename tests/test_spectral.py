"""Property tests of the spectral identities every other module relies on."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from frlbench import spectral

SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def grids(draw, min_size: int = 2, max_size: int = 12):
    """A dimension (1-3), a coarse shape and a finer shape, even and odd sizes mixed."""
    ndim = draw(st.integers(1, 3))
    coarse = tuple(draw(st.integers(min_size, max_size)) for _ in range(ndim))
    fine = tuple(c + draw(st.integers(0, 8)) for c in coarse)
    seed = draw(st.integers(0, 2**31 - 1))
    return ndim, coarse, fine, seed


def random_field(shape, seed, lead=(2,)):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(*lead, *shape, generator=gen, dtype=torch.float64)


@SETTINGS
@given(grids())
def test_truncate_inverts_zero_pad(case):
    _, coarse, fine, seed = case
    x = random_field(coarse, seed)
    y = spectral.zero_pad(x, fine)
    assert y.shape[-len(fine) :] == fine
    torch.testing.assert_close(spectral.truncate(y, coarse), x, atol=1e-12, rtol=0)


@SETTINGS
@given(grids())
def test_zero_pad_inverts_truncate_on_band_limited_fields(case):
    _, coarse, fine, seed = case
    # Band-limit strictly below the coarse Nyquist: truncate then pad must reproduce it.
    strict = tuple(c - 1 if c % 2 == 0 else c for c in coarse)
    y = spectral.zero_pad(random_field(strict, seed), fine)
    torch.testing.assert_close(spectral.zero_pad(spectral.truncate(y, coarse), fine), y,
                               atol=1e-12, rtol=0)  # fmt: skip


@SETTINGS
@given(grids(), st.floats(0.5, 20.0))
def test_band_mse_sums_to_total(case, length):
    ndim, _, fine, seed = case
    err = random_field(fine, seed, lead=(2, 3))
    lengths = (length,) * ndim
    nyq = spectral.nyquist_wavenumber(min(fine), length)
    cutoffs = sorted({nyq / 3, nyq / 2, nyq})
    bands = spectral.band_mse(err, cutoffs, lengths, ndim=ndim)
    assert bands.shape == (len(cutoffs) + 1,)
    assert torch.all(bands >= 0)
    assert abs(bands.sum().item() - (err**2).mean().item()) < 1e-10


@SETTINGS
@given(st.integers(2, 3), st.integers(6, 16), st.data())
def test_shell_spectrum_of_single_mode(ndim, n, data):
    mode = [data.draw(st.integers(-(n // 2 - 1), n // 2 - 1)) for _ in range(ndim)]
    if not any(mode):
        mode[0] = 1
    coords = torch.meshgrid(
        *[torch.arange(n, dtype=torch.float64) * 2 * math.pi / n] * ndim, indexing="ij"
    )
    field = torch.cos(sum(m * c for m, c in zip(mode, coords, strict=True)))
    k, energy = spectral.energy_spectrum(field[None, None], ndim=ndim)
    shell = round(math.sqrt(sum(m * m for m in mode)))
    assert energy[shell].item() == pytest.approx(0.25, rel=1e-12)  # ½ mean(cos²)
    others = torch.cat([energy[:shell], energy[shell + 1 :]])
    assert others.abs().max().item() < 1e-20
    assert k[shell].item() == pytest.approx(shell)


def test_wavenumbers_physical_units():
    k = spectral.wavenumbers(8, length=4 * math.pi)
    assert k.tolist() == [0, 0.5, 1, 1.5, -2, -1.5, -1, -0.5]
    assert spectral.nyquist_wavenumber(8, 4 * math.pi) == 2.0


def test_truncate_keeps_physical_mode_amplitude():
    """A resolved mode has the same amplitude on the coarse grid (paired ground truth)."""
    n, m = 32, 8
    x = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    coarse = spectral.truncate(torch.sin(3 * x), (m,))
    xc = torch.arange(m, dtype=torch.float64) * 2 * math.pi / m
    torch.testing.assert_close(coarse, torch.sin(3 * xc))


def test_band_masks_partition_and_max_norm():
    masks = spectral.band_masks((8, 8), [2.0])
    assert torch.equal(masks[0] ^ masks[1], torch.ones(8, 8, dtype=torch.bool))
    k = spectral.wavenumber_grid((8, 8))
    corner = (k[0].abs() == 2) & (k[1].abs() == 2)
    assert masks[0][corner].all()  # max-norm: the (2, 2) corner is held by a 4-point grid


def test_errors_are_clear():
    with pytest.raises(ValueError, match="coarser"):
        spectral.truncate(torch.zeros(4, 4), (8, 8))
    with pytest.raises(ValueError, match="finer"):
        spectral.zero_pad(torch.zeros(8, 8), (4, 4))
    with pytest.raises(ValueError, match="ascending"):
        spectral.band_masks((4,), [2.0, 1.0])
