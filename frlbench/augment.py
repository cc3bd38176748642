"""Training-data augmentation by the symmetries of a task's dynamics.

A task declares its symmetry (``symmetry`` in ``tasks/<name>.toml``); a baseline opts in with
``augment = true``, which uses whatever symmetry the task being run declares and changes
nothing on a task that declares none (a baseline runs on every task). For
``symmetry = "cube"`` (a periodic box whose channels are the velocity components along the
axes) each training batch goes through one random element of the cube's symmetry group (48
in 3D, 8 in 2D): a permutation of the spatial axes, which permutes the components the same
way, then a reflection of some axes, which negates their components. Input and target get
the same element, so a pair of states one Δt apart stays such a pair of the same dynamics
(forced Navier-Stokes with an isotropic forcing commutes with every element).

For ``symmetry = "equator"`` (a lat-lon grid) each batch is, with probability 1/2, mirrored
north-south: latitude reversed and the task's ``odd_channels`` (those that change sign under
the reflection, e.g. the meridional wind) negated. Reflection through the equatorial plane
commutes with the planet's rotation, so the rotating shallow-water or primitive equations map
a solution to a solution (the Coriolis parameter changes sign with latitude, as the mirrored
vorticity does). A forcing or orography that is not itself symmetric breaks this; the task
file says how well it holds. The negation is done in physical units (the batch is normalized
by per-channel means that need not be zero), so it is exact.

Why it matters (measured, see ``baselines/fno.toml``): with 40 training pairs an FNO, whose
spectral weights are free per wavevector, memorizes the training increments and its
validation error rises above persistence's, while a CNN, whose small kernels tie all
wavevectors together, generalizes. The group ties the wavevectors of one orbit together.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from frlbench.registry import SYMMETRIES, register_symmetry
from frlbench.spec import ResolvedTask


def cube_symmetry(
    x: torch.Tensor, y: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply one random rotation/reflection of the cube to a batch of vector-field pairs.

    Args:
        x: Inputs ``(batch, ndim, *grid)``: channel ``i`` is the component along axis ``i``.
        y: Targets of the same shape.
        generator: Source of the random element (the whole batch gets the same one).

    Returns:
        The transformed ``(x, y)``.
    """
    ndim = x.dim() - 2
    if x.shape[1] != ndim or y.shape != x.shape:
        raise ValueError(
            f"cube symmetry needs (batch, {ndim} components, *grid) inputs and targets of the "
            f"same shape; got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    perm = torch.randperm(ndim, generator=generator).tolist()
    flips = (torch.rand(ndim, generator=generator) < 0.5).tolist()
    dims = (0, 1, *(2 + axis for axis in perm))
    sign = torch.tensor([-1.0 if flip else 1.0 for flip in flips], dtype=x.dtype)
    sign = sign.view(1, ndim, *([1] * ndim)).to(x.device)
    flip_dims = [2 + axis for axis, flip in enumerate(flips) if flip]

    def transform(t: torch.Tensor) -> torch.Tensor:
        t = t[:, perm].permute(dims)
        if flip_dims:
            t = t.flip(flip_dims)
        return t * sign

    return transform(x), transform(y)


def equator_mirror(
    x: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator,
    odd: Sequence[int],
    mean: torch.Tensor,
    std: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror a batch of normalized lat-lon pairs north-south with probability 1/2.

    Args:
        x: Normalized inputs ``(batch, channels, lat, lon)``.
        y: Normalized targets of the same shape.
        generator: Source of the random draw (the whole batch gets the same element).
        odd: Indices of the channels that change sign under the reflection.
        mean: Per-channel normalization mean ``(channels,)``.
        std: Per-channel normalization standard deviation ``(channels,)``.

    Returns:
        ``(x, y)`` unchanged, or both mirrored: in physical units ``u(-φ)`` for an even channel
        and ``-u(-φ)`` for an odd one, i.e. ``-x - 2·mean/std`` for an odd normalized channel.
    """
    if x.dim() != 4 or y.shape != x.shape or mean.shape != (x.shape[1],):
        raise ValueError(
            "equator symmetry needs (batch, channels, lat, lon) inputs and targets of the same "
            f"shape and one mean per channel; got {tuple(x.shape)}, {tuple(y.shape)} and "
            f"{tuple(mean.shape)}"
        )
    if torch.rand(1, generator=generator).item() < 0.5:
        return x, y
    sign = torch.ones(x.shape[1], dtype=x.dtype)
    shift = torch.zeros(x.shape[1], dtype=x.dtype)
    for c in odd:
        sign[c] = -1.0
        shift[c] = -2.0 * float(mean[c]) / float(std[c])
    sign, shift = sign.view(1, -1, 1, 1).to(x.device), shift.view(1, -1, 1, 1).to(x.device)
    return x.flip(-2) * sign + shift, y.flip(-2) * sign + shift


Batch = tuple[torch.Tensor, torch.Tensor]


@register_symmetry("none", description="no symmetry: batches are used as they are")
def _identity(task: ResolvedTask, x, y, generator, mean=None, std=None) -> Batch:
    return x, y


@register_symmetry("cube", description="48 rotations/reflections of a periodic box")
def _cube(task: ResolvedTask, x, y, generator, mean=None, std=None) -> Batch:
    return cube_symmetry(x, y, generator)


@register_symmetry("equator", description="north-south mirror of a lat-lon grid")
def _equator(task: ResolvedTask, x, y, generator, mean=None, std=None) -> Batch:
    if mean is None or std is None:
        raise ValueError("equator symmetry needs the normalization mean and std")
    odd = [task.channels.index(name) for name in task.odd_channels]
    return equator_mirror(x, y, generator, odd, mean, std)


def augment_batch(
    task: ResolvedTask,
    x: torch.Tensor,
    y: torch.Tensor,
    generator: torch.Generator,
    mean: torch.Tensor | None = None,
    std: torch.Tensor | None = None,
) -> Batch:
    """Transform a training batch by a random element of ``task``'s symmetry group (registered
    with ``@register_symmetry``; unchanged for ``"none"``).

    ``mean`` and ``std`` are the dataset's normalization statistics; ``"equator"`` needs them
    (its odd channels are negated in physical units).
    """
    return SYMMETRIES.get(task.symmetry)(task, x, y, generator, mean, std)


__all__ = ["augment_batch", "cube_symmetry", "equator_mirror"]
