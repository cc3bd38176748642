"""The paired multi-resolution dataset every task builder returns.

A builder generates (or loads) reference trajectories at ``reference_resolution`` and derives
every coarser resolution of the *same* samples from them, so errors at different resolutions
are comparable (DESIGN.md, "Paired ground truth").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from frlbench.registry import TASK_BUILDERS
from frlbench.spec import ResolvedTask

SPLITS = ("train", "val", "test")
#: Initial-condition seeds of split s are ``seed + SPLIT_SEED_OFFSET[s] + i``: disjoint ranges.
SPLIT_SEED_OFFSET = {"train": 0, "val": 100_000, "test": 200_000}


@dataclass
class PairedSplit:
    """Input/target pairs of one split at several resolutions.

    Attributes:
        inputs: Resolution -> tensor ``(N, C, *grid)`` of states u(t), normalized.
        targets: Resolution -> tensor ``(N, C, *grid)`` of states u(t + Δt), normalized.
        sample_seeds: Initial-condition seed of each of the ``N`` pairs (several pairs may
            share a trajectory).
    """

    inputs: dict[int, torch.Tensor]
    targets: dict[int, torch.Tensor]
    sample_seeds: list[int] = field(default_factory=list)

    @property
    def resolutions(self) -> list[int]:
        """Resolutions held, ascending."""
        return sorted(self.inputs)

    def __len__(self) -> int:
        return next(iter(self.inputs.values())).shape[0]


@dataclass
class PairedDataset:
    """Train/validation/test pairs of one task under one profile.

    Attributes:
        task: Task name.
        profile: Profile name.
        train_resolution: ρ0; the train and val splits hold only this resolution.
        splits: ``"train"``, ``"val"``, ``"test"`` -> :class:`PairedSplit`; the test split holds
            every test resolution.
        mean: Per-channel mean used for normalization (from the training resolution only).
        std: Per-channel standard deviation used for normalization (training resolution only).
        metadata: Builder-specific facts about the data (viscosity, Reynolds number, spectra);
            ``"builder"`` names the builder, ``"data_source"`` (optional) where the data came
            from in plain words (see :attr:`data_source`).
        climatology: Test resolution -> climatological state ``(C, *grid)`` in physical units,
            for ACC (weather tasks); empty otherwise.
        val_resolution: The grid the validation split is held and scored at, when it is not
            ρ0 (the resolution-transfer selection trains at ρ0/2 and validates at ρ0);
            ``None``: ρ0. See :attr:`validation_resolution`.
    """

    task: str
    profile: str
    train_resolution: int
    splits: dict[str, PairedSplit]
    mean: torch.Tensor
    std: torch.Tensor
    metadata: dict[str, Any] = field(default_factory=dict)
    climatology: dict[int, torch.Tensor] = field(default_factory=dict)
    val_resolution: int | None = None

    @property
    def validation_resolution(self) -> int:
        """The grid validation is scored at: ``val_resolution``, else the training grid."""
        return self.train_resolution if self.val_resolution is None else self.val_resolution

    @property
    def data_source(self) -> str:
        """Where the data came from, in plain words, for records and the leaderboard.

        The dataset's ``metadata["data_source"]`` when its builder wrote one (``era5``: real
        ERA5 or the stand-in), else the ``data_source`` its builder registered with
        ``@register_task_builder`` (also covers datasets cached before the field existed).
        """
        if self.metadata.get("data_source"):
            return str(self.metadata["data_source"])
        builder = str(self.metadata.get("builder", ""))
        entry = TASK_BUILDERS.entry(builder) if builder in TASK_BUILDERS else None
        if entry is not None and entry.info.data_source:
            return str(entry.info.data_source)
        return f"task builder {builder!r}" if builder else "unknown"

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map a normalized ``(N, C, *grid)`` tensor back to physical units."""
        view = _channel_view(x)
        return x * self.std.reshape(view).to(x) + self.mean.reshape(view).to(x)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map a physical-unit ``(N, C, *grid)`` tensor to the normalized space (inverse of
        :meth:`denormalize`)."""
        view = _channel_view(x)
        return (x - self.mean.reshape(view).to(x)) / self.std.reshape(view).to(x)


class SolverNotApplicable(RuntimeError):
    """A task's registered solver does not apply to the data at hand (e.g. real ERA5); the
    message is the reason recorded on the ``not_applicable`` reference row."""


def _channel_view(x: torch.Tensor) -> tuple[int, ...]:
    """Shape that broadcasts a per-channel vector over ``(N, C, *grid)``."""
    return (1, -1) + (1,) * (x.dim() - 2)


def channel_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std over every dimension but dim 1 of ``(N, C, *grid)``."""
    dims = [d for d in range(x.dim()) if d != 1]
    mean = x.mean(dim=dims)
    std = x.std(dim=dims).clamp_min(1e-12)
    return mean, std


def normalize_splits(
    raw: dict[str, tuple[dict[int, torch.Tensor], dict[int, torch.Tensor], list[int]]],
    train_resolution: int,
    dtype: torch.dtype = torch.float32,
) -> tuple[dict[str, PairedSplit], torch.Tensor, torch.Tensor]:
    """Normalize every split with statistics of the training inputs at ``train_resolution``.

    Args:
        raw: Split name -> (inputs by resolution, targets by resolution, sample seeds).
        train_resolution: Resolution whose training inputs define mean and std.
        dtype: Storage dtype of the normalized tensors.
    """
    mean, std = channel_stats(raw["train"][0][train_resolution].double())
    splits = {}
    for name, (inputs, targets, seeds) in raw.items():
        # In place on one double copy: the same arithmetic, a third of the temporary memory
        # (0.25° grids of the era5 paper profile are hundreds of MB per tensor).
        norm = {
            which: {
                r: t.to(torch.float64, copy=True)
                .sub_(mean.reshape(_channel_view(t)))
                .div_(std.reshape(_channel_view(t)))
                .to(dtype)
                for r, t in tensors.items()
            }
            for which, tensors in (("inputs", inputs), ("targets", targets))
        }
        splits[name] = PairedSplit(norm["inputs"], norm["targets"], list(seeds))
    return splits, mean.to(dtype), std.to(dtype)


def assemble_dataset(
    task: ResolvedTask,
    raw: dict[str, tuple[dict[int, torch.Tensor], dict[int, torch.Tensor], list[int]]],
    metadata: dict[str, Any],
) -> PairedDataset:
    """Normalize raw physical-unit splits (see :func:`normalize_splits`) into a dataset."""
    train_resolution = task.train_resolution
    splits, mean, std = normalize_splits(raw, train_resolution)
    return PairedDataset(
        task=task.name,
        profile=task.profile,
        train_resolution=train_resolution,
        splits=splits,
        mean=mean,
        std=std,
        metadata=metadata,
    )
