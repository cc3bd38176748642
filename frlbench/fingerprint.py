"""The fingerprint of the data a run was scored on, as a record stores it (no torch here).

Two runs are compared pairwise only when they were scored on the same test fields. A dataset's
cache key says which *options* built it; it cannot say whether another machine's solver (other
CPU, thread count, GPU) produced the same bits from them, and the forced flow is chaotic, so
tiny differences can grow. The fingerprint is therefore computed from the arrays themselves,
at evaluation time (:func:`frlbench.data.fingerprint.dataset_fingerprint`): a SHA-256 over the
normalization statistics and the test split's inputs and targets at every grid, in a fixed
order and byte layout. Beside the hash, a few summary statistics per grid (mean, RMS and
extremes of the targets in physical units) explain a mismatch: :func:`describe_mismatch` says
how far two builds are apart. This module only holds and compares fingerprints, so the report
reads them without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

#: Version of the fingerprint's byte layout; part of the stored fingerprint so that a change of
#: the recipe is never read as a change of the data.
FINGERPRINT_VERSION = 1


@dataclass(frozen=True)
class GridSummary:
    """Summary statistics of the test targets at one grid, in physical units.

    Attributes:
        resolution: The grid's resolution.
        samples: Number of test pairs.
        mean: Mean over every sample, channel and point.
        rms: Root mean square.
        min: Smallest value.
        max: Largest value.
    """

    resolution: int
    samples: int
    mean: float
    rms: float
    min: float
    max: float


@dataclass(frozen=True)
class DatasetFingerprint:
    """Identity of the test data a run was scored on.

    Attributes:
        digest: SHA-256 (hex) of the normalization statistics and every test input and target.
        version: :data:`FINGERPRINT_VERSION` of the recipe that computed ``digest``.
        grids: Summary of the test targets per resolution, ascending.
    """

    digest: str
    version: int
    grids: tuple[GridSummary, ...]

    def to_dict(self) -> dict:
        """Plain data for a record (JSON numbers, not strings)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DatasetFingerprint:
        """Inverse of :meth:`to_dict`."""
        grids = tuple(GridSummary(**g) for g in data["grids"])
        return cls(digest=str(data["digest"]), version=int(data["version"]), grids=grids)

    def matches(self, other: DatasetFingerprint) -> bool:
        """Bit-identical test data, by the same recipe."""
        return self.version == other.version and self.digest == other.digest

    @property
    def short(self) -> str:
        """The first 12 hex digits of ``digest``, for tables and messages."""
        return self.digest[:12]


def describe_mismatch(local: DatasetFingerprint, published: DatasetFingerprint) -> str:
    """One line saying why two fingerprints differ ('' when they match)."""
    if local.matches(published):
        return ""
    if local.version != published.version:
        return (
            f"fingerprint recipe v{local.version} here, v{published.version} published: "
            "rescore or rebuild to compare"
        )
    mine = {g.resolution: g for g in local.grids}
    theirs = {g.resolution: g for g in published.grids}
    if set(mine) != set(theirs):
        return f"test grids differ: {sorted(mine)} here, {sorted(theirs)} published"
    worst, where = 0.0, None
    for resolution, g in mine.items():
        p = theirs[resolution]
        if g.samples != p.samples:
            return f"{g.samples} test pairs here, {p.samples} published (grid {resolution})"
        scale = max(abs(p.rms), 1e-30)
        change = max(abs(g.mean - p.mean), abs(g.rms - p.rms)) / scale
        if not math.isfinite(change) or change > worst:
            worst, where = change, resolution
    if where is None:
        return "test data differ in their bits; their summary statistics agree"
    return (
        f"test data differ: at grid {where} the targets' mean or RMS differ by "
        f"{worst:.2e} of their RMS"
    )
