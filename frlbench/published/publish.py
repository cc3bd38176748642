"""``frlbench publish``: a run store's records become the published records of a profile.

Nothing published is ever silently overwritten: an existing file is replaced only when the new
records carry a newer :data:`frlbench.BENCHMARK_VERSION` than it, or when the maintainer says
``replace=True`` explicitly. Only records that can be paired are published: each must carry the
dataset fingerprint and the current benchmark version (a record is never assembled from a CSV).
"""

from __future__ import annotations

import dataclasses
import gzip
import json
from dataclasses import dataclass
from pathlib import Path

from frlbench import BENCHMARK_VERSION
from frlbench.published import PublishedError, published_dir, published_path, read_published
from frlbench.records import RunRecord, load_records
from frlbench.safeio import resolve_root, write_atomic

#: ``env`` entries left out of published records (where the maintainer's machine lives).
PRIVATE_ENV = ("host",)


@dataclass(frozen=True)
class Published:
    """What :func:`publish` wrote.

    Attributes:
        path: The file written.
        profile: Its profile.
        records: How many records it holds.
        size_bytes: Its size on disk (gzipped).
        replaced: The benchmark version of the file it replaced (None: there was none).
    """

    path: Path
    profile: str
    records: int
    size_bytes: int
    replaced: int | None


def for_publication(record: RunRecord) -> RunRecord:
    """``record`` as it is published: without the host name and the earlier evaluations."""
    env = {k: v for k, v in record.env.items() if k not in PRIVATE_ENV}
    return dataclasses.replace(record, env=env, evaluation_history=[])


def encode(records: list[RunRecord]) -> bytes:
    """Gzipped JSON lines, sorted by run id, byte-identical for the same records."""
    lines = [
        json.dumps(for_publication(r).to_dict(), sort_keys=True, separators=(",", ":"))
        for r in sorted(records, key=lambda r: r.run_id)
    ]
    return gzip.compress(("\n".join(lines) + "\n").encode(), mtime=0)


def check_publishable(records: list[RunRecord], profile: str, source: Path) -> None:
    """Refuse records that cannot be paired, naming the first few.

    Raises:
        PublishedError: Without records of ``profile``, or with records lacking a fingerprint
            or scored under another benchmark version.
    """
    if not records:
        raise PublishedError(f"--from {source}: no records of profile {profile!r} to publish")
    unpaired = [r.run_id for r in records if r.status == "ok" and not r.dataset_fingerprint]
    stale = [r.run_id for r in records if r.benchmark_version != BENCHMARK_VERSION]
    for ids, why in (
        (unpaired, "carry no dataset fingerprint (scored before fingerprints: `frlbench eval`)"),
        (stale, f"were not scored under benchmark version {BENCHMARK_VERSION}"),
    ):
        if ids:
            shown = ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")
            raise PublishedError(f"--from {source}: {len(ids)} record(s) {why}: {shown}")


def existing_version(path: Path) -> int | None:
    """The benchmark version of the published file at ``path`` (None when there is none)."""
    if not path.exists():
        return None
    versions = {r.benchmark_version for r in read_published(path)}
    return max(versions, default=0)


def publish(
    source: Path, profile: str, *, root: Path | None = None, replace: bool = False
) -> Published:
    """Write the records of ``profile`` under ``source/runs`` as its published records.

    Args:
        source: A run store (the ``--out`` of ``frlbench run``).
        profile: The profile to publish.
        root: Folder of the published records (default: the installed package's).
        replace: Overwrite a published file of the same benchmark version.

    Raises:
        PublishedError: If a record is unreadable or unpublishable, or the file exists and
            neither a newer benchmark version nor ``replace`` allows overwriting it.
    """
    runs = resolve_root(source) / "runs"
    if not runs.is_dir():
        raise PublishedError(f"--from {source}: no runs directory {runs}")
    records, errors = load_records(runs)
    if errors:
        raise PublishedError(f"--from {source}: unreadable record: {errors[0]}")
    records = [r for r in records if r.profile == profile]
    check_publishable(records, profile, source)
    base = resolve_root(root or published_dir())
    path = published_path(profile, base)
    old = existing_version(path)
    if old is not None and old >= BENCHMARK_VERSION and not replace:
        raise PublishedError(
            f"{path} exists (benchmark version {old}); published records are replaced only "
            "under a new benchmark version (raise frlbench.BENCHMARK_VERSION and add a "
            "changelog entry to docs/benchmark.md) or with --replace"
        )
    write_atomic(path, encode(records), root=base, durable=True)
    return Published(path, profile, len(records), path.stat().st_size, old)
