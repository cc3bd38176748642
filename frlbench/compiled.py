"""Compiled training and evaluation steps: one static ``torch.compile`` graph per grid size.

Whether a run is compiled is a *runtime* choice, recorded in its record (``compiled``) and never
hashed into its id: a compiled run computes the same model up to floating-point rounding, so
it is the same run. The choice, most specific first:

1. the ``compile`` argument of :func:`frlbench.train.train_and_evaluate` (``True``/``False``);
2. the environment variable ``FRLBENCH_COMPILE`` (``on``, ``off`` or ``auto``), which reaches
   every worker of the local, Ray and Slurm backends;
3. ``auto`` (the default): compiled when the backbone's family is in
   :data:`COMPILED_BY_DEFAULT`, eager otherwise.

Graphs are static (``dynamic=False``): each grid size (training levels ρ0 and ρ0/2, every test
grid) and batch size gets its own graph, compiled the first time it is met. Dynamic shapes are
not used because inductor fails on circular padding with symbolic sizes
(``LoweringException: ValueRangeError``). A model with its own ``training_loss`` (the diffusion
forecaster) stays eager: its loss is not the module's forward, which is what is compiled.
"""

from __future__ import annotations

import os
from typing import Literal

import torch
from torch import nn

from frlbench.frl.wrap import training_loss_of

#: Environment variable with the default compile mode of a process (``on``, ``off``, ``auto``).
COMPILE_ENV = "FRLBENCH_COMPILE"
CompileMode = Literal["on", "off", "auto"]
COMPILE_MODES: tuple[str, ...] = ("on", "off", "auto")
#: Backbone families whose runs compile under ``auto``. A family is added only when its whole
#: run (compile time included) measured >= 5% faster on 2 quiet cores with RMSEs within seed
#: noise (docs/performance.md); none has been measured so on a quiet machine yet.
COMPILED_BY_DEFAULT: frozenset[str] = frozenset()
#: Graphs kept per compiled module: training levels, validation, test grids and their last,
#: smaller evaluation chunks (torch's default of 8 would fall back to eager silently).
RECOMPILE_LIMIT = 64


def compile_mode_from_env() -> CompileMode:
    """The mode of ``FRLBENCH_COMPILE`` (``auto`` when unset).

    Raises:
        ValueError: On any other value, naming the variable and the valid ones.
    """
    value = os.environ.get(COMPILE_ENV, "auto").strip().lower() or "auto"
    if value not in COMPILE_MODES:
        raise ValueError(
            f"environment variable {COMPILE_ENV}={value!r}: expected one of "
            f"{', '.join(COMPILE_MODES)}"
        )
    return value  # type: ignore[return-value]


def can_compile(model: nn.Module) -> bool:
    """Whether the training step of ``model`` is its forward (no own ``training_loss``)."""
    return training_loss_of(model) is None


def family_compiles(backbone: str) -> bool:
    """Whether runs of ``backbone`` compile under ``auto``: the mode its family trains in."""
    return backbone in COMPILED_BY_DEFAULT


def should_compile(backbone: str, model: nn.Module, requested: bool | None = None) -> bool:
    """Whether a run of ``backbone`` compiles ``model``.

    Args:
        backbone: The registered backbone (its family decides under ``auto``).
        model: The model to train (a model with its own ``training_loss`` never compiles).
        requested: An explicit choice; ``None`` reads ``FRLBENCH_COMPILE``.
    """
    if not can_compile(model):
        return False
    if requested is not None:
        return requested
    mode = compile_mode_from_env()
    if mode == "auto":
        return family_compiles(backbone)
    return mode == "on"


def compile_model(model: nn.Module) -> nn.Module:
    """``model`` with its forward compiled, one static graph per input shape.

    The result shares ``model``'s parameters; keep using ``model`` itself for the optimizer
    and the state dict (the compiled wrapper prefixes every key with ``_orig_mod.``).
    """
    dynamo = torch._dynamo.config
    dynamo.recompile_limit = max(dynamo.recompile_limit, RECOMPILE_LIMIT)
    return torch.compile(model, dynamic=False)


__all__ = [
    "COMPILED_BY_DEFAULT",
    "COMPILE_ENV",
    "COMPILE_MODES",
    "can_compile",
    "compile_mode_from_env",
    "compile_model",
    "family_compiles",
    "should_compile",
]
