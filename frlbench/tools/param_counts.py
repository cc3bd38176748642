"""Parameter counts of the registered backbones, kept between calls of ``frlbench list``.

Counting a backbone's parameters means building it (on the ``meta`` device, so nothing is
allocated), and the first build of some families costs seconds of lazy imports. The counts
are cached in ``<cache>/parameter_counts.json`` under a key of everything that determines
them: the backbone's name and code version, a hash of the source file of its builder (so an
edited plugin or model is recounted even without a version bump), its sizes, the task shape
the listing uses, and the torch and frlbench versions.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from frlbench.registry import BACKBONES

log = logging.getLogger(__name__)


def _source_hash(obj: Any) -> str:
    try:
        source = inspect.getsourcefile(obj)
        return hashlib.sha256(Path(source).read_bytes()).hexdigest()[:16] if source else ""
    except (OSError, TypeError):
        return ""


def count_key(name: str, ndim: int, channels: int) -> str:
    """The cache key of ``name``'s parameter counts for a task of ``ndim`` and ``channels``."""
    entry = BACKBONES.entry(name)
    try:
        frlbench_version = version("frlbench")
    except PackageNotFoundError:
        frlbench_version = ""
    parts = [name, entry.info.version, _source_hash(entry.obj), ",".join(entry.info.sizes),
             str(ndim), str(channels), torch.__version__, frlbench_version]  # fmt: skip
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:20]


class CountCache:
    """The counts file of a cache folder; unreadable or missing means empty.

    Args:
        path: The JSON file (written atomically on :meth:`save`).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.changed = False
        try:
            self.counts: dict[str, dict[str, int]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.counts = {}

    def get(self, key: str) -> dict[str, int] | None:
        """Counts per size, if cached."""
        found = self.counts.get(key)
        return dict(found) if isinstance(found, dict) else None

    def put(self, key: str, counts: dict[str, int]) -> None:
        """Remember complete counts (a size that failed to build is never cached)."""
        self.counts[key] = counts
        self.changed = True

    def save(self) -> None:
        """Write the file if anything was added; a cache that cannot be written is skipped."""
        if not self.changed:
            return
        from frlbench.safeio import make_dirs, write_atomic

        try:
            make_dirs(self.path.parent)
            write_atomic(self.path, json.dumps(self.counts, sort_keys=True), root=self.path.parent)
        except OSError as exc:
            log.info("parameter counts not cached (%s)", exc)


def default_count_cache() -> CountCache:
    """The counts file in the dataset cache folder (``$FRLBENCH_CACHE``)."""
    from frlbench.data.cache import default_cache_dir

    return CountCache(default_cache_dir() / "parameter_counts.json")
