"""Frequency Representation Learning: multi-resolution data, frequency encoding, spectral loss.

The trainer uses three names::

    in_channels = len(task.channels) + encoding_channels(cfg, task)
    model = wrap(backbone, cfg, task, train_resolution)  # the backbone itself when encoding is off
    objective = FRLObjective(cfg, task, train_resolution)
    loss, parts = objective(model, x, y)
"""

from frlbench.frl import variants  # noqa: F401  (registers the FRL variants)
from frlbench.frl.encoding import FrequencyEncoding, axis_features, encoding_channels
from frlbench.frl.multires import (
    UnsupportedGrid,
    build_levels,
    level_resolutions,
    level_shapes,
    max_levels,
)
from frlbench.frl.spectral_loss import FRLObjective, consistency_error, spectral_error
from frlbench.frl.wrap import EncodedModel, wrap

__all__ = [
    "EncodedModel",
    "FRLObjective",
    "FrequencyEncoding",
    "UnsupportedGrid",
    "axis_features",
    "build_levels",
    "consistency_error",
    "encoding_channels",
    "level_resolutions",
    "level_shapes",
    "max_levels",
    "spectral_error",
    "wrap",
]
