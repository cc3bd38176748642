"""Registered backbones, one module per family.

Importing this package registers ``fno``, ``tfno``, ``cnn``, ``unet``, ``transformer``,
``gnn``, ``node``, ``diffusion`` and ``mamba``. Build one with :func:`create_backbone` (or
through a baseline and the registry); :mod:`frlbench.tools.zoo` measures their cost.
"""

from frlbench.models import (  # noqa: F401  (registration)
    cnn,
    diffusion,
    fno,
    gnn,
    mamba,
    node,
    transformer,
    unet,
)
from frlbench.models.common import (
    GridBackbone,
    build_backbone,
    check_input,
    count_parameters,
    create_backbone,
    make_spec,
    resolve_size,
    with_input_check,
)

__all__ = [
    "GridBackbone",
    "build_backbone",
    "check_input",
    "count_parameters",
    "create_backbone",
    "make_spec",
    "resolve_size",
    "with_input_check",
]
