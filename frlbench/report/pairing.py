"""The published runs beside a user's own: marked, and paired only on the same data.

For every ``(task, profile)`` section of the user's (local) records, the published records of
the same task and profile (:mod:`frlbench.published`) join the leaderboard. Whether they are
*paired* with the local rows is decided here, once per section:

- **paired** when every local and published record of the section that carries a dataset
  fingerprint carries the same one (bit-identical test data), the same benchmark version, and
  the same evaluation settings. Published model rows then stand in the local section, their
  baseline marked ``"<baseline> (published)"``; a published reference row is used only where
  the local store has none (on identical data its numbers are the same). For each local model
  configuration, :func:`paired_differences` gives its finest-grid RMSE difference and ratio
  against each published model of the same FRL variant, with a bootstrap interval over the
  shared test trajectories.
- **unpaired** otherwise: the published records get a section of their own (profile
  ``"<profile> (published, unpaired)"``), never mixed with the local numbers, and the local
  section says why in one line (:func:`frlbench.fingerprint.describe_mismatch`).

A published record whose run id is also a local run is left out: the local run is that run.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from frlbench import BENCHMARK_VERSION
from frlbench.fingerprint import DatasetFingerprint, describe_mismatch
from frlbench.published import published_records
from frlbench.records import RunRecord
from frlbench.report.document import Block, Paragraph, Table
from frlbench.report.formatting import MISSING, fmt_num
from frlbench.stats import BOOTSTRAP_DRAWS, BOOTSTRAP_SEED, Interval

#: Appended to the baseline of a published model row that stands beside local rows.
PUBLISHED = " (published)"
#: Appended to the profile of published records that cannot be paired.
UNPAIRED = " (published, unpaired)"


@dataclass(frozen=True)
class SectionPairing:
    """How one local section meets the published records of its task and profile.

    Attributes:
        task: Task name.
        profile: Profile name.
        paired: Whether the published rows are paired with the local ones.
        reason: Why they are not ("" when paired, or when nothing is published).
        n_published: Published records shown for this section.
        fingerprint: The local data's fingerprint (None when no local record carries one).
        versions: The benchmark versions of the local records.
    """

    task: str
    profile: str
    paired: bool
    reason: str
    n_published: int
    fingerprint: DatasetFingerprint | None
    versions: tuple[int, ...]


@dataclass
class Pairing:
    """The records to render and how each local section was paired.

    Attributes:
        records: The local records and the published ones that join them (relabelled).
        sections: One entry per local ``(task, profile)``.
        differences: Per paired section, :func:`paired_differences` rows.
    """

    records: list[RunRecord]
    sections: dict[tuple[str, str], SectionPairing] = field(default_factory=dict)
    differences: dict[tuple[str, str], list[dict]] = field(default_factory=dict)


def _fingerprints(records: Sequence[RunRecord]) -> dict[str, DatasetFingerprint]:
    return {
        r.dataset_fingerprint["digest"]: DatasetFingerprint.from_dict(r.dataset_fingerprint)
        for r in records
        if r.dataset_fingerprint
    }


def _settings(records: Sequence[RunRecord]) -> list[str]:
    """The distinct evaluation settings of the finished ``records`` (metric names left out),
    as sorted JSON."""
    return sorted(
        {
            json.dumps({k: v for k, v in r.evaluation.items() if k != "metrics"}, sort_keys=True)
            for r in records
            if r.status == "ok"
        }
    )


def unpaired_reason(local: Sequence[RunRecord], published: Sequence[RunRecord]) -> str:
    """Why the published records of a section cannot be paired with the local ones ('' when
    they can)."""
    mine, theirs = _fingerprints(local), _fingerprints(published)
    if not mine:
        return "the local runs carry no dataset fingerprint (scored before frlbench recorded it)"
    if len(mine) > 1:
        return f"the local runs were scored on {len(mine)} different builds of the data"
    if len(theirs) != 1:
        return f"the published runs carry {len(theirs)} dataset fingerprints, not one"
    local_versions = {r.benchmark_version for r in local}
    published_versions = {r.benchmark_version for r in published}
    if local_versions != published_versions or len(local_versions) != 1:
        return (
            f"benchmark version {', '.join(map(str, sorted(local_versions)))} here, "
            f"{', '.join(map(str, sorted(published_versions)))} published"
        )
    (here,), (there,) = mine.values(), theirs.values()
    mismatch = describe_mismatch(here, there)
    if mismatch:
        return mismatch
    settings_here, settings_there = _settings(local), _settings(published)
    if settings_here != settings_there:
        return (
            f"evaluation settings differ: {'; '.join(settings_here)} here, "
            f"{'; '.join(settings_there)} published"
        )
    return ""


def combine(local: Sequence[RunRecord], published: Sequence[RunRecord]) -> Pairing:
    """The local records with the published records of the same sections joined to them."""
    by_section: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for rec in local:
        by_section[(rec.task, rec.profile)].append(rec)
    local_ids = {r.run_id for r in local}
    pairing = Pairing(records=list(local))
    for key, mine in sorted(by_section.items()):
        theirs = [r for r in published if (r.task, r.profile) == key and r.run_id not in local_ids]
        fingerprints = list(_fingerprints(mine).values())
        reason = unpaired_reason(mine, theirs) if theirs else ""
        joined = _paired_rows(mine, theirs) if theirs and not reason else _unpaired_rows(theirs)
        pairing.records += joined
        pairing.sections[key] = SectionPairing(
            task=key[0],
            profile=key[1],
            paired=bool(theirs) and not reason,
            reason=reason,
            n_published=len(joined),
            fingerprint=fingerprints[0] if len(fingerprints) == 1 else None,
            versions=tuple(sorted({r.benchmark_version for r in mine})),
        )
        if pairing.sections[key].paired:
            pairing.differences[key] = paired_differences(mine, theirs)
    return pairing


def _paired_rows(local: Sequence[RunRecord], published: Sequence[RunRecord]) -> list[RunRecord]:
    """Published records as rows of the local section: models marked, references only where
    the local store has none, the local data source named (the data are bit-identical)."""
    source = next((r.data_source for r in local if r.data_source), "")
    references = {r.baseline for r in local if r.kind == "reference"}
    out = []
    for rec in published:
        if rec.kind == "reference" and rec.baseline in references:
            continue
        baseline = rec.baseline + PUBLISHED if rec.kind == "model" else rec.baseline
        out.append(dataclasses.replace(rec, baseline=baseline, data_source=source))
    return out


def _unpaired_rows(published: Sequence[RunRecord]) -> list[RunRecord]:
    return [dataclasses.replace(r, profile=r.profile + UNPAIRED) for r in published]


def _finest_errors(records: Sequence[RunRecord], resolution: int) -> np.ndarray | None:
    """``(seeds, trajectories)`` per-trajectory RMSE at ``resolution`` (None if any run lacks
    them or their counts differ)."""
    rows = []
    for rec in sorted(records, key=lambda r: r.seed):
        metric = rec.metric(resolution)
        if metric is None or not metric.rmse_per_trajectory:
            return None
        rows.append(metric.rmse_per_trajectory)
    if not rows or len({len(r) for r in rows}) != 1:
        return None
    return np.asarray(rows, dtype=float)


def paired_bootstrap(
    mine: np.ndarray,
    theirs: np.ndarray,
    *,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[Interval, Interval]:
    """Difference and ratio of mean RMSE (mine − theirs, mine / theirs), each with a 95%
    percentile interval.

    Each draw resamples the shared test trajectories once for both sides (they are paired),
    then each side's seeds independently; a seed's RMSE is the root of its mean squared
    per-trajectory RMSE, and a side's RMSE the mean over its seeds.

    Args:
        mine: ``(seeds, trajectories)`` per-trajectory RMSE of one configuration.
        theirs: The same for the configuration compared with (same trajectories).
        draws: Bootstrap draws.
        seed: Seed of the resampling generator (fixed: the same records, the same interval).

    Raises:
        ValueError: If the two do not hold the same number of trajectories.
    """
    if mine.ndim != 2 or theirs.ndim != 2 or mine.shape[1] != theirs.shape[1]:
        raise ValueError(f"trajectories differ: shapes {mine.shape} and {theirs.shape}")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, mine.shape[1], size=(draws, mine.shape[1]))

    def side(errors: np.ndarray) -> tuple[float, np.ndarray]:
        squared = errors**2
        point = float(np.sqrt(squared.mean(axis=1)).mean())
        per_seed = np.sqrt(squared[:, picks].mean(axis=2)).T  # (draws, seeds)
        chosen = rng.integers(0, errors.shape[0], size=(draws, errors.shape[0]))
        return point, np.take_along_axis(per_seed, chosen, axis=1).mean(axis=1)

    (a, a_draws), (b, b_draws) = side(mine), side(theirs)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio_draws = a_draws / b_draws
    out = []
    for point, values in ((a - b, a_draws - b_draws), (a / b if b > 0 else math.nan, ratio_draws)):
        values = values[np.isfinite(values)]
        low, high = np.percentile(values, [2.5, 97.5]) if values.size else (math.nan, math.nan)
        out.append(Interval(point, float(low), float(high), mine.shape[0], "paired bootstrap"))
    return out[0], out[1]


def paired_differences(local: Sequence[RunRecord], published: Sequence[RunRecord]) -> list[dict]:
    """For each local model configuration, its finest-grid RMSE against each published model
    of the same FRL variant (every published one when none shares it): one dict per pair with
    ``mine``, ``theirs`` (configuration labels), ``resolution``, ``rmse_mine``,
    ``rmse_theirs``, ``difference`` and ``ratio`` (:class:`~frlbench.stats.Interval`)."""

    def configs(records: Sequence[RunRecord]) -> dict[tuple[str, str], list[RunRecord]]:
        out: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
        for rec in records:
            if rec.kind == "model" and rec.status == "ok" and rec.metrics:
                out[(rec.baseline, rec.frl)].append(rec)
        return out

    mine_configs, their_configs = configs(local), configs(published)
    rows = []
    for (baseline, frl), runs in sorted(mine_configs.items()):
        finest = max(m.resolution for m in runs[0].metrics)
        same = [k for k in their_configs if k[1] == frl] or sorted(their_configs)
        for other in sorted(same):
            a = _finest_errors(runs, finest)
            b = _finest_errors(their_configs[other], finest)
            if a is None or b is None or a.shape[1] != b.shape[1]:
                continue
            difference, ratio = paired_bootstrap(a, b)
            rows.append(
                {
                    "mine": f"{baseline} ({frl})",
                    "theirs": f"{other[0]} ({other[1]})",
                    "resolution": finest,
                    "seeds": (a.shape[0], b.shape[0]),
                    "trajectories": a.shape[1],
                    "rmse_mine": float(np.sqrt((a**2).mean(axis=1)).mean()),
                    "rmse_theirs": float(np.sqrt((b**2).mean(axis=1)).mean()),
                    "difference": difference,
                    "ratio": ratio,
                }
            )
    return rows


def _fmt(interval: Interval, signed: bool = False) -> str:
    """``mean [low, high]``, three significant digits (signed: with a sign)."""

    def num(value: float) -> str:
        return ("+" if signed and value >= 0 else "") + fmt_num(value)

    if not math.isfinite(interval.mean):
        return MISSING
    text = num(interval.mean)
    if math.isfinite(interval.low) and math.isfinite(interval.high):
        text += f" [{num(interval.low)}, {num(interval.high)}]"
    return text


def section_blocks(pairing: Pairing, task: str, profile: str) -> tuple[list[Block], list[Block]]:
    """Blocks shown before the main table (benchmark version, data fingerprint, how the
    published rows stand) and after it (the paired differences) of one section."""
    info = pairing.sections.get((task, profile))
    if info is None:  # a section of unpaired published records
        if profile.endswith(UNPAIRED):
            text = (
                "these rows ship with frlbench and could not be paired with your runs "
                "(see the section of your runs for why); compare them with care."
            )
            return [Paragraph(text, lead="Published:")], []
        return [], []
    versions = ", ".join(map(str, info.versions)) or "not recorded"
    digest = info.fingerprint.short if info.fingerprint else "not recorded"
    stamp = (
        f"benchmark version {versions} (this frlbench: {BENCHMARK_VERSION}); "
        f"data fingerprint {digest}."
    )
    before: list[Block] = [Paragraph(stamp, lead="Benchmark:")]
    if info.n_published and info.paired:
        before.append(
            Paragraph(
                f"{info.n_published} published rows (marked '{PUBLISHED.strip()}') ship with "
                "frlbench and were scored on bit-identical test data under the same benchmark "
                "version and evaluation settings: paired with your (local) rows.",
                lead="Published:",
            )
        )
    elif info.n_published:
        before.append(
            Paragraph(
                f"unpaired ({info.reason}); they are shown in the section "
                f"'{task} — {profile}{UNPAIRED}', never mixed with these rows.",
                lead="Published:",
            )
        )
    rows = pairing.differences.get((task, profile), [])
    if not rows:
        return before, []
    table = Table(
        title=f"Your models against the published ones — {task}, {profile} profile "
        f"(RMSE @{rows[0]['resolution']})",
        columns=["Yours", "Published", "RMSE yours", "RMSE published", "Difference", "Ratio"],
        rows=[
            [
                r["mine"],
                r["theirs"],
                fmt_num(r["rmse_mine"]),
                fmt_num(r["rmse_theirs"]),
                _fmt(r["difference"], signed=True),
                _fmt(r["ratio"]),
            ]
            for r in rows
        ],
        note="Difference is yours − published (< 0: yours is more accurate), ratio yours / "
        "published; [low, high] is a 95% bootstrap interval resampling the shared test "
        "trajectories once for both and each side's seeds on its own.",
        text=(0, 1),
    )
    return before, [table]


def with_published(local: Sequence[RunRecord], enabled: bool = True) -> Pairing:
    """:func:`combine` ``local`` with the published records of its profiles (none when not
    ``enabled``: the local records alone, each section stamped all the same)."""
    published = published_records({r.profile for r in local}) if enabled else []
    return combine(local, published)
