"""Checks of user input made before any data is built or any process is spawned.

Every function raises :class:`~frlbench.errors.UserError` with a message that names the option
(or file and key), what was given and what would be valid. Nothing here imports torch at module
level, so :mod:`frlbench.spec` can use :func:`is_safe_name`.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from frlbench.errors import UserError
from frlbench.spec import SAFE_NAME_RULE, is_safe_name

if TYPE_CHECKING:
    import torch

    from frlbench.spec import ResolvedTask

#: Names of tasks and baselines and run ids: they become directory and file names.
DEVICES = "auto, cpu, cuda, cuda:<index>, mps"
#: Share of the machine's memory one test grid may take before --resolutions is refused.
MEMORY_SHARE = 0.5


def check_run_id(run_id: str, option: str = "--run-id") -> str:
    """A run id given on the command line, refused unless it is one plain folder name."""
    if not is_safe_name(run_id):
        raise UserError(f"{option} {run_id!r}: not a run id; valid: {SAFE_NAME_RULE}")
    return run_id


#: What separates the items of a list option: commas and/or whitespace.
LIST_SEPARATORS = re.compile(r"[,\s]+")


def split_list(
    values: str | Sequence[str] | None, option: str, *, what: str = "names"
) -> list[str] | None:
    """Items of a list option given as repetitions and/or comma- or space-separated lists.

    ``["cnn,unet", "fno"]`` and ``"cnn unet, fno"`` -> ``["cnn", "unet", "fno"]`` (in order,
    without repeats); ``None`` (the option not given) -> ``None``.

    Raises:
        UserError: If the option was given but holds no item (``""``, ``" "``, ``","``): an
            unset shell variable must not mean "all".
    """
    if values is None:
        return None
    given = [values] if isinstance(values, str) else list(values)
    if not given:
        return None
    items = [item for value in given for item in LIST_SEPARATORS.split(value) if item]
    if not items:
        shown = given[0] if len(given) == 1 else given
        raise UserError(
            f"{option}: got {shown!r}, which names nothing; expected comma-separated {what} "
            "(leave the option out to use the default)"
        )
    return list(dict.fromkeys(items))


def nonempty_path(value: str | Path, option: str) -> Path:
    """A path option's value, refused when empty or only whitespace (``--out ""`` must not mean
    the current directory).

    Raises:
        UserError: Naming the option.
    """
    if not str(value).strip():
        raise UserError(f"{option}: got {str(value)!r}; expected a directory path")
    return Path(value)


def parse_ints(
    value: str | None,
    option: str,
    *,
    minimum: int | None = None,
    what: str = "integers",
    example: str = "0,1,2",
) -> list[int] | None:
    """A comma- or space-separated list of integers given to ``option`` (``None`` when not
    given): ``"0 1"`` and ``"0,1"`` are both 0 and 1.

    Raises:
        UserError: For a value with no numbers (``""``, ``","``), a non-integer, or one below
            ``minimum``.
    """
    if value is None:
        return None
    parts = [s for s in LIST_SEPARATORS.split(value) if s]
    if not parts:
        raise UserError(f"{option}: got {value!r}; expected comma-separated {what}, e.g. {example}")
    numbers = []
    for part in parts:
        try:
            numbers.append(int(part))
        except ValueError:
            raise UserError(
                f"{option}: {part!r} in {value!r} is not an integer; "
                f"expected comma-separated {what}"
            ) from None
    if minimum is not None:
        low = [n for n in numbers if n < minimum]
        if low:
            raise UserError(f"{option}: got {low[0]}; each value must be >= {minimum}")
    return list(dict.fromkeys(numbers))


def parse_seeds(value: str | None) -> list[int] | None:
    """``--seeds``: non-negative integers."""
    return parse_ints(value, "--seeds", minimum=0, what="non-negative seeds")


def available_memory_bytes() -> int:
    """Physical memory of this machine (a generous bound for what one process may use)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # pragma: no cover - non-POSIX
        return 16 * 2**30


def grid_bytes(task: ResolvedTask, resolution: int) -> int:
    """Estimated bytes of the test data at ``resolution``: inputs and targets, float32,
    plus the float64 reference trajectories the truth is made from."""
    sizes = task.sizes
    points = math.prod(task.grid_shape(resolution))
    samples = sizes.n_train + sizes.n_val + sizes.n_test
    return points * len(task.channels) * samples * (2 * 4 + 8)


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"  # pragma: no cover


def check_task_memory(tasks: Sequence[ResolvedTask], *, memory: int | None = None) -> None:
    """One sample of every task's grids at its profile (one float64 field) fits in
    :data:`MEMORY_SHARE` of this machine's memory, checked before any array is allocated
    (``reference_resolution = 2**40`` is a clear error, not an overflow deep inside torch).
    The bound is deliberately loose: it refuses only grids no run could ever hold.

    Raises:
        UserError: Naming the task file, the key and the sizes.
    """
    budget = (memory if memory is not None else available_memory_bytes()) * MEMORY_SHARE
    for task in tasks:
        sizes = task.sizes
        for key in ("reference_resolution", "train_resolution"):
            resolution = getattr(sizes, key)
            need = math.prod(task.grid_shape(resolution)) * len(task.channels) * 8
            if need > budget:
                raise UserError(
                    f"{task.where}: key 'profiles.{task.profile}.{key}' = {resolution}: "
                    f"one sample of task {task.name!r} at that grid needs about {_size(need)} of "
                    f"memory; this machine has {_size(budget / MEMORY_SHARE)}"
                )


def parse_resolutions(
    value: str | None, tasks: Sequence[ResolvedTask], *, memory: int | None = None
) -> list[int] | None:
    """``--resolutions``: grid sizes >= the training resolution, affordable in memory.

    A resolution above a task's reference grid is allowed (the truth is regenerated at that
    finer grid) as long as the data fits in :data:`MEMORY_SHARE` of this machine's memory.
    """
    res = parse_ints(value, "--resolutions", minimum=2, what="grid sizes", example="16,32,64")
    if res is None:
        return None
    budget = (memory if memory is not None else available_memory_bytes()) * MEMORY_SHARE
    for task in tasks:
        sizes = task.sizes
        below = [r for r in res if r < sizes.train_resolution]
        if below:
            raise UserError(
                f"--resolutions: {below[0]} is below the training resolution "
                f"{sizes.train_resolution} of task {task.name!r} ({task.profile} profile); valid: "
                f"{sizes.train_resolution} or more (reference grid: "
                f"{sizes.reference_resolution})"
            )
        need = grid_bytes(task, max(res))
        if need > budget:
            raise UserError(
                f"--resolutions: {max(res)} needs about {_size(need)} for task {task.name!r} "
                f"({task.profile} profile, reference grid {sizes.reference_resolution}); this "
                f"machine has {_size(budget / MEMORY_SHARE)} of memory"
            )
    return res


def check_device(device: str) -> str:
    """``--device``: ``auto``, ``cpu``, ``cuda[:i]`` (if CUDA is usable) or ``mps`` (if usable)."""
    import torch

    name = device.strip().lower()
    if name in ("auto", "cpu"):
        return name
    if name == "cuda" or re.fullmatch(r"cuda:\d+", name):
        if not torch.cuda.is_available():
            raise UserError(
                f"--device {device}: no CUDA device is available on this machine; "
                "use --device cpu (or auto)"
            )
        index = int(name.split(":")[1]) if ":" in name else 0
        if index >= torch.cuda.device_count():
            raise UserError(
                f"--device {device}: this machine has {torch.cuda.device_count()} CUDA "
                f"device(s); valid: cuda:0 to cuda:{torch.cuda.device_count() - 1}"
            )
        return name
    if name == "mps":
        if not torch.backends.mps.is_available():
            raise UserError(
                f"--device {device}: Apple MPS is not available on this machine; "
                "use --device cpu (or auto)"
            )
        return name
    raise UserError(f"--device {device!r}: unknown device; valid: {DEVICES}")


def check_backend(backend: str, ray_address: str | None = None) -> None:
    """``--backend``: its optional dependency is installed, and Slurm exists for ``slurm``."""
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise UserError(
            "--backend ray: the 'ray' package is not installed; "
            'pip install -e ".[distributed]", or use --backend local'
        )
    if backend == "slurm":
        if importlib.util.find_spec("submitit") is None:
            raise UserError(
                "--backend slurm: the 'submitit' package is not installed; "
                'pip install -e ".[distributed]", or use --backend local'
            )
        if shutil.which("sbatch") is None:
            raise UserError(
                "--backend slurm: no Slurm on this machine ('sbatch' is not on PATH); "
                "run from a Slurm login node, or use --backend local"
            )


def check_input_dir(path: Path | None, option: str) -> None:
    """A directory the user named to read from exists and is a directory."""
    if path is None:
        return
    if not path.exists():
        raise UserError(f"{option} {path}: no such directory")
    if not path.is_dir():
        raise UserError(f"{option} {path}: is a file, expected a directory")


def check_output_dir(path: Path | None, option: str) -> None:
    """A directory the user named to write into is not a file and can be created."""
    if path is None:
        return
    for parent in (path, *path.parents):
        if parent.exists():
            if not parent.is_dir():
                where = "is a file" if parent == path else f"its parent {parent} is a file"
                raise UserError(f"{option} {path}: {where}, expected a directory")
            break
    if path.exists() and not os.access(path, os.W_OK):
        read_only = bool(os.statvfs(path).f_flag & getattr(os, "ST_RDONLY", 1))
        why = "read-only file system" if read_only else "not writable (permission denied)"
        raise UserError(f"{option} {path}: {why}")


def check_backbone_output(
    model: torch.nn.Module,
    sample: torch.Tensor,
    out_channels: int,
    *,
    backbone: str,
    baseline: str,
) -> None:
    """Run ``model`` once on ``sample`` (one input) and check the output's shape.

    The random state is restored afterwards, so the check does not change any result.

    Raises:
        UserError: Naming the backbone, the expected and the received shape.
    """
    import torch

    expected = (sample.shape[0], out_channels, *sample.shape[2:])
    was_training = model.training
    model.eval()
    devices: list[Any] = [sample.device] if sample.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            output = model(sample)
    finally:
        model.train(was_training)
    received = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
    if received != expected:
        raise UserError(
            f"backbone {backbone!r} (baseline {baseline!r}) returned shape {received} for an "
            f"input of shape {tuple(sample.shape)}; expected {expected} "
            "(batch, out_channels, *grid)"
        )
