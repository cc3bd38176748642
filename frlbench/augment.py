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

Why it matters (measured, see ``baselines/fno.toml``): with 40 training pairs an FNO, whose
spectral weights are free per wavevector, memorizes the training increments and its
validation error rises above persistence's, while a CNN, whose small kernels tie all
wavevectors together, generalizes. The group ties the wavevectors of one orbit together.
"""

from __future__ import annotations

import torch

from frlbench.config import TaskSpec


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


def augment_batch(
    task: TaskSpec, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Transform a training batch by a random symmetry of ``task`` (unchanged for ``"none"``)."""
    if task.symmetry == "cube":
        return cube_symmetry(x, y, generator)
    return x, y


__all__ = ["augment_batch", "cube_symmetry"]
