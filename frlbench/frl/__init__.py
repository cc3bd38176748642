"""Frequency Representation Learning: multi-resolution data, frequency encoding, spectral loss.

The trainer uses three names::

    in_channels = len(task.channels) + encoding_channels(cfg, task)
    model = wrap(backbone, cfg, task, train_resolution)  # the backbone itself when encoding is off
    objective = FRLObjective(cfg, task, train_resolution)
    loss, parts = objective(model, x, y)
"""

import importlib
import sys
from typing import Any

from frlbench.frl import variants  # noqa: F401  (registers the FRL variants; imports no torch)

# The torch-backed parts load on first use, so the report can read variant names from
# frlbench.frl.variants without importing torch.
_LAZY = {
    "EncodedModel": "wrap",
    "FRLObjective": "spectral_loss",
    "FrequencyEncoding": "encoding",
    "axis_features": "encoding",
    "build_levels": "multires",
    "consistency_error": "spectral_loss",
    "encoding_channels": "encoding",
    "level_resolutions": "multires",
    "level_shapes": "multires",
    "max_levels": "multires",
    "spectral_error": "spectral_loss",
    "wrap": "wrap",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'frlbench.frl' has no attribute {name!r}")
    importlib.import_module(f"frlbench.frl.{_LAZY[name]}")
    # Bind every name of every submodule loaded so far: importing submodule ``wrap`` (also
    # indirectly, from ``spectral_loss``) sets the package's ``wrap`` attribute to the module,
    # and the function of that name must win.
    for key, where in _LAZY.items():
        module = sys.modules.get(f"frlbench.frl.{where}")
        if module is not None:
            globals()[key] = getattr(module, key)
    return globals()[name]


__all__ = [
    "EncodedModel",
    "FRLObjective",
    "FrequencyEncoding",
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
