"""Computing the fingerprint of the data a run is scored on, from the arrays themselves.

A SHA-256 over the normalization statistics and the test split's inputs and targets at every
grid, in a fixed order and byte layout, plus per-grid summaries of the targets that explain a
mismatch. What a fingerprint is, how two are compared and how a mismatch is described lives in
:mod:`frlbench.fingerprint` (no torch there: the report reads it); it is re-exported
here.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import torch

from frlbench.data.base import PairedDataset
from frlbench.fingerprint import (
    FINGERPRINT_VERSION,
    DatasetFingerprint,
    GridSummary,
    describe_mismatch,
)

__all__ = [
    "FINGERPRINT_VERSION",
    "DatasetFingerprint",
    "GridSummary",
    "dataset_fingerprint",
    "describe_mismatch",
    "fingerprint_of",
]


def _update(hasher: hashlib._Hash, tensor: torch.Tensor) -> None:
    """Feed a tensor's shape, dtype and little-endian bytes (C order) to ``hasher``."""
    array = tensor.detach().cpu().contiguous().numpy()
    array = array.astype(array.dtype.newbyteorder("<"), copy=False)
    hasher.update(f"{array.dtype.str}{array.shape}".encode())
    hasher.update(memoryview(np.ascontiguousarray(array)).cast("B"))  # no copy of the bytes


def dataset_fingerprint(data: PairedDataset) -> DatasetFingerprint:
    """The fingerprint of ``data``'s test split (every grid) and normalization statistics."""
    hasher = hashlib.sha256(f"frlbench-test-data-v{FINGERPRINT_VERSION}".encode())
    _update(hasher, data.mean)
    _update(hasher, data.std)
    split = data.splits["test"]
    grids = []
    for resolution in split.resolutions:
        _update(hasher, split.inputs[resolution])
        _update(hasher, split.targets[resolution])
        physical = data.denormalize(split.targets[resolution].double())
        grids.append(
            GridSummary(
                resolution=resolution,
                samples=int(physical.shape[0]),
                mean=float(physical.mean()),
                rms=float(physical.square().mean().sqrt()),
                min=float(physical.min()),
                max=float(physical.max()),
            )
        )
    return DatasetFingerprint(hasher.hexdigest(), FINGERPRINT_VERSION, tuple(grids))


def fingerprint_of(data: PairedDataset) -> dict[str, Any]:
    """:func:`dataset_fingerprint` as a record stores it (``RunRecord.dataset_fingerprint``)."""
    return dataset_fingerprint(data).to_dict()
