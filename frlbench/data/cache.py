"""Content-addressed cache of built datasets, with an integrity check.

A dataset is stored as ``<cache>/<task>-<profile>-<key>.pt`` where ``key`` hashes everything
that determines the data (the task's grid, channels, the profile's sizes and builder options,
the builder's version, and, for a builder that reads files, its data source: resolved path and a
cheap identity of the content, from the builder's registered ``source_identity``; so one source
is never served for another, and the stand-in's key is unchanged). Files are written to a
temporary name and renamed, and a ``.sha256`` file beside them is checked on every load: a
corrupted or partial file is rebuilt, never used.

A build is resumable: a builder hands each expensive, independent piece (a reference
trajectory) to :func:`resumable`, which keeps it in ``<dataset>.partial/`` as soon as it is
finished (each piece written atomically). An interrupted build run again loads the finished
pieces and computes only the rest, with the same result as an uninterrupted build; the pieces
are removed once the whole dataset is saved. Only the complete file with its checksum is ever
served as the dataset.
"""

from __future__ import annotations

import contextvars
import dataclasses
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from frlbench.data.base import PairedDataset, PairedSplit
from frlbench.registry import TASK_BUILDERS
from frlbench.safeio import atomic_path, check_inside, make_dirs, resolve_root, write_atomic
from frlbench.spec import ResolvedTask

log = logging.getLogger(__name__)


#: The cache directory of the dataset being built, for builders that write side files (the
#: era5 stand-in's netCDF): set by :func:`load_dataset` around the builder call.
_BUILD_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "frlbench_build_dir", default=None
)


#: Where the finished pieces of the dataset being built are kept (see :func:`resumable`).
_PIECES: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "frlbench_build_pieces", default=None
)


def resumable(name: str, compute: Callable[[], torch.Tensor]) -> tuple[torch.Tensor, bool]:
    """A piece of the dataset being built: loaded if an earlier, interrupted build finished it,
    else computed and kept until the dataset is saved.

    Args:
        name: The piece's name, unique within the dataset (e.g. ``trajectory-1003``); it must
            name the same content in every build of the dataset (a function of the seed).
        compute: Computes the piece (deterministic).

    Returns:
        The piece, and whether it was loaded rather than computed. Outside a build
        (:func:`load_dataset`), it is simply computed.
    """
    folder = _PIECES.get()
    if folder is None:
        return compute(), False
    path = check_inside(folder / f"{name}.pt", folder.parent)
    if path.exists():
        try:
            return torch.load(path, weights_only=True), True
        except Exception as exc:  # written atomically, so only a damaged disk gets here
            log.warning("unreadable piece %s of an interrupted build (%r); recomputing", path, exc)
    piece = compute()
    make_dirs(folder, folder.parent)
    with atomic_path(path, root=folder.parent) as tmp:
        torch.save(piece, tmp)
    return piece, False


def pieces_dir(path: Path) -> Path:
    """Where the finished pieces of the dataset cached at ``path`` are kept while it builds."""
    return path.with_suffix(".partial")


def build_dir() -> Path:
    """Where the dataset being built is cached (the ``--cache-dir`` the user named), else the
    default cache directory; a builder's side files go there and nowhere else."""
    return _BUILD_DIR.get() or default_cache_dir()


def default_cache_dir() -> Path:
    """``$FRLBENCH_CACHE`` if set, else ``~/.cache/frlbench``."""
    env = os.environ.get("FRLBENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "frlbench"


def dataset_key(task: ResolvedTask) -> str:
    """Hash of everything that determines the data of ``task`` at its profile."""
    entry = TASK_BUILDERS.entry(task.builder)
    content = {
        "builder": task.builder,
        "builder_version": entry.info.version,
        "ndim": task.ndim,
        "grid": task.grid,
        "channels": list(task.channels),
        "domain_length": task.domain_length,
        # The rollout settings only change the evaluation, not the data.
        "profile": {
            k: v
            for k, v in dataclasses.asdict(task.sizes).items()
            if k not in ("rollout_steps", "rollout_trajectories")
        },
    }
    identify = entry.info.source_identity
    source = identify(task) if identify is not None else None
    if source is not None:  # absent for generated data: their keys stay as they were
        content["data_source"] = source["cache"]
    blob = json.dumps(content, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def dataset_path(task: ResolvedTask, cache_dir: Path | None = None) -> Path:
    """Where the dataset of ``task`` at its profile is cached."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / f"{task.name}-{task.profile}-{dataset_key(task)}.pt"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _to_payload(ds: PairedDataset) -> dict[str, Any]:
    return {
        "task": ds.task,
        "profile": ds.profile,
        "train_resolution": ds.train_resolution,
        "mean": ds.mean,
        "std": ds.std,
        "metadata": json.dumps(ds.metadata, default=float),
        "climatology": {str(r): t for r, t in ds.climatology.items()},
        "splits": {
            name: {
                "inputs": {str(r): t for r, t in s.inputs.items()},
                "targets": {str(r): t for r, t in s.targets.items()},
                "sample_seeds": list(s.sample_seeds),
            }
            for name, s in ds.splits.items()
        },
    }


def _from_payload(payload: dict[str, Any]) -> PairedDataset:
    splits = {
        name: PairedSplit(
            inputs={int(r): t for r, t in s["inputs"].items()},
            targets={int(r): t for r, t in s["targets"].items()},
            sample_seeds=list(s["sample_seeds"]),
        )
        for name, s in payload["splits"].items()
    }
    return PairedDataset(
        task=payload["task"],
        profile=payload["profile"],
        train_resolution=int(payload["train_resolution"]),
        splits=splits,
        mean=payload["mean"],
        std=payload["std"],
        metadata=json.loads(payload["metadata"]),
        climatology={int(r): t for r, t in payload.get("climatology", {}).items()},
    )


def save_dataset(ds: PairedDataset, path: Path) -> None:
    """Write ``ds`` atomically to ``path`` with its checksum file.

    The cache folder is the root (resolved once); a full disk removes the partial file and
    raises ``OSError(ENOSPC)``, leaving every finished dataset in place.
    """
    root = resolve_root(Path(path).parent)
    path = root / Path(path).name
    with atomic_path(path, root=root) as tmp:
        torch.save(_to_payload(ds), tmp)
        checksum = _sha256(tmp)
    write_atomic(path.with_suffix(".sha256"), checksum + "\n", root=root)


def try_load(path: Path) -> PairedDataset | None:
    """Load a cached dataset if it exists and passes its checksum; ``None`` otherwise."""
    sidecar = path.with_suffix(".sha256")
    if not path.exists() or not sidecar.exists():
        return None
    if _sha256(path) != sidecar.read_text().strip():
        log.warning("cached dataset %s fails its checksum; rebuilding it", path)
        return None
    try:
        return _from_payload(torch.load(path, weights_only=True))
    except Exception as exc:  # a file that passes its checksum but cannot be read
        log.warning("cached dataset %s cannot be read (%r); rebuilding it", path, exc)
        return None


#: Threads every dataset is generated with, whatever the process uses otherwise: MKL's
#: multithreaded inverse FFT differs in the last bit between thread counts (docs/benchmark.md,
#: "What to expect on another CPU"), and pairing a user's rows with the published ones needs the
#: same bits. One thread is what the published quick data were built with.
BUILD_THREADS = 1


def load_dataset(
    task: ResolvedTask,
    *,
    cache_dir: Path | None = None,
    progress: bool = True,
    rebuild: bool = False,
) -> PairedDataset:
    """Return the paired dataset of ``task`` (at its profile), building and caching it once.

    Args:
        task: The task at its profile.
        cache_dir: Cache directory (default :func:`default_cache_dir`).
        progress: Show a progress bar while building.
        rebuild: Ignore any cached copy.
    """
    path = dataset_path(task, cache_dir)
    if not rebuild:
        cached = try_load(path)
        if cached is not None:
            return cached
    builder = TASK_BUILDERS.get(task.builder)
    pieces = pieces_dir(path)
    if rebuild and pieces.is_dir():
        _remove_pieces(pieces)
    token, pieces_token = _BUILD_DIR.set(path.parent), _PIECES.set(pieces)
    threads = torch.get_num_threads()
    torch.set_num_threads(BUILD_THREADS)
    try:
        ds = builder(task, progress=progress)
    finally:
        torch.set_num_threads(threads)
        _BUILD_DIR.reset(token)
        _PIECES.reset(pieces_token)
    save_dataset(ds, path)
    if pieces.is_dir():
        _remove_pieces(pieces)
    return ds


def _remove_pieces(pieces: Path) -> None:
    """Remove a pieces folder (a plain folder inside the cache; a symlink there is refused)."""
    shutil.rmtree(check_inside(pieces, pieces.parent))
