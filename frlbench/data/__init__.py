"""Task data: builders that generate paired multi-resolution datasets, and their cache."""

import frlbench.data.era5
import frlbench.data.fluid3d  # noqa: F401  (registers the "fluid3d" builder)
from frlbench.data import synthetic  # noqa: F401  (registers the "advection" builder)
from frlbench.data.base import PairedDataset, PairedSplit
from frlbench.data.cache import dataset_path, default_cache_dir, load_dataset

__all__ = ["PairedDataset", "PairedSplit", "dataset_path", "default_cache_dir", "load_dataset"]
