"""Step 3 of FRL and the training objective that combines the three steps.

``L = L_data + λ_spec · L_spec + λ_cons · L_cons`` where, over the levels ``j = 0..J`` of
:mod:`frlbench.frl.multires` (only ``j = 0`` without multires):

* ``L_data`` -- the mean over levels of the plain MSE at each level. Equal weights per level
  are what training on the union of the levels would give (every sample once per level, the
  usual per-sample MSE); weighting by grid points instead would leave the coarse levels with
  ``2^{-jd}`` of the weight, i.e. practically unseen.
* ``L_spec`` -- the mean over levels of the per-shell normalized Fourier error: for every
  channel and every max-norm wavenumber shell ``s`` (the modes with ``max_i |k_i| = s·Δk``, the
  modes a grid holds form complete shells), ``Σ_s |ê_k|² / (Σ_s |ŷ_k|² + floor)``, averaged
  over shells and channels. Each shell counts the same whatever its energy, so a high-frequency
  shell holding 1% of the energy weighs as much as the largest scales instead of being swamped
  by them. ``floor`` (``1e-3`` of the channel's mean shell energy) keeps shells with almost no
  target energy from dominating. The term is zero exactly when every Fourier coefficient of the
  prediction matches the target's, and uses squared magnitudes, so its gradient is finite
  everywhere (also at zero error).
* ``L_cons`` -- the mean over ``j = 0..J-1`` of ``MSE(truncate(pred_j, grid_{j+1}), pred_{j+1})``:
  the prediction on level ``j`` truncated to level ``j+1`` against the prediction made on level
  ``j+1``, which by Parseval is the disagreement on their shared modes. Both sides carry
  gradients. Without multires there is one level and ``L_cons`` is not computed: the
  ``loss-only`` ablation is then the Fourier term alone, so it does not smuggle coarse-grid
  inputs (step 1) into an ablation meant to isolate step 3.

With every step off, :class:`FRLObjective` is exactly ``mse_loss(model(x), y)``: one forward
pass and nothing else.

Coarse-level schedule (``cfg.coarse_every = N > 1``): the levels ``j >= 1`` are built, run and
scored only on calls ``0, N, 2N, ...`` of one objective (one per training run). Each level's
terms keep their weight ``1 / (J + 1)`` in the level means, the coarse ones (and ``L_cons``)
multiplied by ``N`` on the steps that visit them and absent otherwise, so the objective
averaged over ``N`` consecutive steps equals the every-step one, at ``1/N`` of the coarse passes.

A model with its own ``training_loss(inputs, targets)`` (the diffusion forecaster's denoising
objective; see :func:`frlbench.frl.wrap.training_loss_of`) is trained with that loss as
``L_data`` instead of the MSE, and FRL keeps its meaning:

* encoding -- the condition fed to the denoiser carries the encoding channels (the wrapper);
* multires -- ``L_data`` is the mean of the denoising loss over the levels;
* spectral loss -- ``L_spec`` and ``L_cons`` are measured on the forecast implied by the
  denoised (x0-) estimate, ``training_loss(..., return_estimate=True)``, at the noise level
  drawn for that batch. The estimates of different levels see independent noise, so
  ``L_cons`` also pulls each level's estimate towards the conditional mean.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from frlbench import spectral
from frlbench.frl.multires import build_levels, coarsen, level_shapes
from frlbench.frl.wrap import returns_estimate, training_loss_of
from frlbench.geometry import PERIODIC, Geometry
from frlbench.spec import FRLConfig, TaskSpec

# Fraction of a channel's mean shell energy added to every shell's denominator.
SHELL_FLOOR = 1e-3


def _fft_ready(x: torch.Tensor) -> torch.Tensor:
    """``x`` in a dtype the FFT supports everywhere (half precision from autocast -> float32)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


@functools.lru_cache(maxsize=32)
def _shells(
    shape: tuple[int, ...], lengths: tuple[float, ...], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Max-norm shell of every ``rfftn`` mode, the mode's multiplicity, and the shell count."""
    kmax = spectral.wavenumber_magnitude(shape, lengths, norm="max", real=True)
    delta_k = spectral.TWO_PI / max(lengths)
    index = torch.round(kmax / delta_k).long()
    # rfftn stores one of each conjugate pair along the last axis: count those modes twice.
    n = shape[-1]
    last = torch.ones(n // 2 + 1, dtype=torch.float64)
    last[1 : (n - 1) // 2 + 1] = 2.0
    weight = torch.broadcast_to(last, index.shape)
    n_shells = int(index.max().item()) + 1
    return index.reshape(-1).to(device), weight.reshape(-1).to(device), n_shells


def _shell_power(
    coeffs: torch.Tensor, index: torch.Tensor, weight: torch.Tensor, n_shells: int
) -> torch.Tensor:
    """``Σ_{k ∈ shell} |c_k|²`` per channel, summed over the batch: ``(C, n_shells)``."""
    power = coeffs.real**2 + coeffs.imag**2
    power = power.sum(dim=0).reshape(power.shape[1], -1) * weight.to(power.dtype)
    out = power.new_zeros(power.shape[0], n_shells)
    return out.index_add(1, index, power)


def spectral_error(
    pred: torch.Tensor, target: torch.Tensor, lengths: Sequence[float] | None = None
) -> torch.Tensor:
    """Per-shell normalized Fourier error of ``(B, C, *grid)`` fields (see module docstring).

    Args:
        pred: Prediction ``(B, C, *grid)`` on a periodic grid.
        target: Truth of the same shape.
        lengths: Physical length per spatial axis (default 2π each).

    Returns:
        A scalar: the mean over channels and shells of error energy / target energy.
    """
    if pred.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    pred, target = _fft_ready(pred), _fft_ready(target)
    ndim = pred.dim() - 2
    shape = tuple(pred.shape[2:])
    lengths = tuple(float(v) for v in lengths) if lengths is not None else (spectral.TWO_PI,) * ndim
    index, weight, n_shells = _shells(shape, lengths, pred.device)
    dims = tuple(range(2, pred.dim()))
    error = _shell_power(
        torch.fft.rfftn(pred - target, dim=dims, norm="forward"), index, weight, n_shells
    )
    with torch.no_grad():
        truth = _shell_power(
            torch.fft.rfftn(target, dim=dims, norm="forward"), index, weight, n_shells
        )
        floor = SHELL_FLOOR * truth.mean(dim=1, keepdim=True) + torch.finfo(truth.dtype).tiny
    return (error / (truth + floor)).mean()


def zonal_spectral_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Lat-lon version of :func:`spectral_error`, per *zonal* wavenumber m.

    The error and target power of every zonal wavenumber (an FFT along each latitude circle,
    weighted by the latitude's area, summed over batch and latitudes) are compared per channel
    and m: ``Σ |ê_m|² / (Σ |ŷ_m|² + floor)`` averaged over m and channels. A per-axis
    (zonal) wavenumber, not the spherical-harmonic degree: an FFT across latitudes is not a
    spectrum on the sphere.
    """
    if pred.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    pred, target = _fft_ready(pred), _fft_ready(target)
    nlat = pred.shape[-2]
    lat = (torch.arange(nlat, device=pred.device, dtype=pred.dtype) + 0.5) * (torch.pi / nlat)
    weight = torch.sin(lat).reshape(-1, 1)  # cos(latitude) of the cell centres

    def power(x: torch.Tensor) -> torch.Tensor:
        c = torch.fft.rfft(x, dim=-1, norm="forward")
        return ((c.real**2 + c.imag**2) * weight).sum(dim=(0, 2))  # (C, m)

    error = power(pred - target)
    with torch.no_grad():
        truth = power(target)
        floor = SHELL_FLOOR * truth.mean(dim=1, keepdim=True) + torch.finfo(truth.dtype).tiny
    return (error / (truth + floor)).mean()


def consistency_error(
    preds: Sequence[torch.Tensor],
    shapes: Sequence[Sequence[int]],
    geometry: Geometry = PERIODIC,
) -> torch.Tensor:
    """Mean over adjacent levels of ``MSE(coarsen(pred_j, grid_{j+1}), pred_{j+1})``.

    Coarsening is spectral truncation on periodic grids (the shared modes, by Parseval) and
    the area-weighted average on lat-lon grids (:func:`frlbench.frl.multires.coarsen`).

    Args:
        preds: Predictions per level, finest first, ``(B, C, *shapes[j])``.
        shapes: Grid shape per level.
        geometry: The task's grid geometry.
    """
    if len(preds) < 2:
        raise ValueError("the consistency term needs at least two levels")
    terms = [
        F.mse_loss(coarsen(_fft_ready(fine), shape, geometry), _fft_ready(coarse))
        for fine, coarse, shape in zip(preds[:-1], preds[1:], shapes[1:], strict=True)
    ]
    return torch.stack(terms).mean()


class FRLObjective:
    """The training loss of one run: plain MSE with FRL off, the FRL objective otherwise.

    Validates the configuration against the task's grid when built, so a bad ``levels`` fails
    before training starts.

    Args:
        cfg: FRL configuration.
        task: The task (grid kind, spatial dims, lengths).
        train_resolution: ρ0, the resolution of the training batches.

    Raises:
        InvalidValue: More levels than the grid allows (key ``'levels'`` / ``'min_resolution'``).
    """

    def __init__(self, cfg: FRLConfig, task: TaskSpec, train_resolution: int) -> None:
        self.cfg = cfg
        self.task = task
        self.train_resolution = train_resolution
        self.shapes = level_shapes(cfg, task, train_resolution)
        self.lengths = task.lengths
        self.calls = 0  # batches seen; sets which steps visit the coarse levels

    @property
    def plain(self) -> bool:
        """True when the objective is plain MSE at the training resolution."""
        return len(self.shapes) == 1 and not self.cfg.spectral_loss

    def __call__(
        self, model: nn.Module, x: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one batch and its terms.

        Args:
            model: The (wrapped) model, mapping ``(B, C_in, *grid)`` to ``(B, C, *grid)``.
            x: Normalized inputs ``(B, C, *grid)`` at the training resolution.
            y: Normalized targets of the same shape.

        Returns:
            ``(loss, parts)``: the scalar loss (with grad) and a dict of floats for logging,
            with ``"data"`` and, when computed, ``"spec"`` and ``"cons"`` (unweighted).
        """
        own_loss = training_loss_of(model)
        if self.plain:
            loss = own_loss(x, y) if own_loss is not None else F.mse_loss(model(x), y)
            return loss, {"data": loss.item()}
        every = self.cfg.coarse_every
        visit = self.calls % every == 0
        self.calls += 1
        shapes = self.shapes if visit else self.shapes[:1]
        xs = build_levels(x, shapes, self.task.geometry)
        ys = build_levels(y, shapes, self.task.geometry)
        # Weight of each computed level in the level means (None: plain mean, every step).
        weights = None if every == 1 else [1.0] + [float(every)] * (len(shapes) - 1)
        if own_loss is None:
            preds = [model(level) for level in xs]
            data = [F.mse_loss(p, t) for p, t in zip(preds, ys, strict=True)]
        elif self.cfg.spectral_loss:
            if not returns_estimate(model):
                raise TypeError(
                    "FRL step 'spectral_loss' needs the model's training_loss(inputs, targets, "
                    "return_estimate=False) to accept return_estimate and return (loss, "
                    "forecast estimate) when it is true"
                )
            data, preds = zip(
                *(own_loss(xj, yj, return_estimate=True) for xj, yj in zip(xs, ys, strict=True)),
                strict=True,
            )
        else:
            data, preds = [own_loss(xj, yj) for xj, yj in zip(xs, ys, strict=True)], []
        terms = {"data": _level_mean(list(data), weights, len(self.shapes))}
        loss = terms["data"]
        if self.cfg.spectral_loss:
            if self.task.geometry.spherical:
                errors = [zonal_spectral_error(p, t) for p, t in zip(preds, ys, strict=True)]
            else:
                errors = [
                    spectral_error(p, t, self.lengths) for p, t in zip(preds, ys, strict=True)
                ]
            terms["spec"] = _level_mean(errors, weights, len(self.shapes))
            loss = loss + self.cfg.lambda_spec * terms["spec"]
            if len(preds) > 1:
                terms["cons"] = consistency_error(preds, shapes, self.task.geometry) * (
                    1 if every == 1 else every
                )
                loss = loss + self.cfg.lambda_cons * terms["cons"]
        values = torch.stack([t.detach() for t in terms.values()]).tolist()
        return loss, dict(zip(terms, values, strict=True))


def _level_mean(
    values: list[torch.Tensor], weights: list[float] | None, n_levels: int
) -> torch.Tensor:
    """``mean(values)`` when ``weights`` is None, else ``Σ w_j · value_j / n_levels``."""
    if weights is None:
        return torch.stack(values).mean()
    return sum(w * v for w, v in zip(weights, values, strict=True)) / n_levels
