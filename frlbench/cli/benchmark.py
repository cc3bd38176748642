"""``frlbench publish`` and ``frlbench data --verify``: the published runs of the benchmark
(:mod:`frlbench.published`) written by the maintainer, and a local data build checked against
them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from frlbench import BENCHMARK_VERSION
from frlbench.cli.shell import app, console, fail
from frlbench.published import PublishedError, published_profiles, published_records

if TYPE_CHECKING:
    from frlbench.data import PairedDataset


@app.command("publish")
def publish_cmd(
    source: Annotated[
        Path,
        typer.Option("--from", help="The run store to publish (the --out of `frlbench run`)."),
    ],
    profile: Annotated[str, typer.Option(help="The profile whose records to publish.")] = "quick",
    to: Annotated[
        Path | None,
        typer.Option(help="Folder of the published records (default: the installed package's)."),
    ] = None,
    replace: Annotated[
        bool,
        typer.Option(help="Overwrite published records of the same benchmark version."),
    ] = False,
) -> None:
    """Maintainers: ship a run store's records as the published runs of a profile.

    Writes <package>/published/<profile>/records.jsonl.gz (no weights). An existing file is
    replaced only under a new benchmark version, or with --replace.
    """
    from frlbench.published.publish import publish

    try:
        done = publish(source, profile, root=to, replace=replace)
    except (PublishedError, ValueError) as exc:
        raise fail(str(exc)) from None
    replaced = "" if done.replaced is None else f", replacing benchmark version {done.replaced}"
    console.print(
        f"published {done.records} records of profile {done.profile} (benchmark version "
        f"{BENCHMARK_VERSION}{replaced}): {done.path}, {done.size_bytes / 1024:.1f} KiB",
        highlight=False,
    )


def verify_data(data: PairedDataset, task: str, profile: str) -> None:
    """Compare ``data``'s fingerprint with the published runs' of ``task`` at ``profile``.

    Prints whether they match (paired comparisons possible) or why not.

    Raises:
        typer.Exit: 1 on a mismatch; 2 when nothing of ``task`` at ``profile`` is published.
    """
    from frlbench.data.fingerprint import dataset_fingerprint, describe_mismatch
    from frlbench.fingerprint import DatasetFingerprint

    records = [r for r in published_records([profile]) if r.task == task]
    published = {
        r.dataset_fingerprint["digest"]: DatasetFingerprint.from_dict(r.dataset_fingerprint)
        for r in records
        if r.dataset_fingerprint
    }
    if not published:
        shipped = ", ".join(published_profiles()) or "none"
        raise fail(
            f"nothing published for task {task!r} at profile {profile!r} to verify against "
            f"(published profiles: {shipped})"
        )
    local = dataset_fingerprint(data)
    versions = sorted({r.benchmark_version for r in records})
    for theirs in published.values():
        if local.matches(theirs):
            console.print(
                f"match: data fingerprint {local.short} is the published one ({len(records)} "
                f"published runs, benchmark version {', '.join(map(str, versions))}): your "
                "runs on this data are paired with them",
                highlight=False,
            )
            return
    for theirs in published.values():
        console.print(
            f"mismatch: data fingerprint {local.short} here, {theirs.short} published: "
            f"{describe_mismatch(local, theirs)}; your runs on this data are shown unpaired",
            highlight=False,
        )
    threads = sorted({str(r.env["cpu_threads"]) for r in records if "cpu_threads" in r.env})
    if threads:  # the thread count changes the solver's FFT bits (docs/benchmark.md)
        console.print(
            f"the published runs used {' or '.join(threads)} torch thread(s); a data build with "
            "another count (OMP_NUM_THREADS) gives other bits: see docs/benchmark.md",
            highlight=False,
        )
    raise typer.Exit(1)
