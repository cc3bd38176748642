"""The leaderboard: reads run records, writes tables and figures. Never trains, never imports torch.

Usage::

    from frlbench.report import render_report

    summary = render_report(Path("results"))

reads ``results/runs/*/record.json`` and writes ``results/leaderboard.{md,csv,tex,html}``,
``results/leaderboard_summary.csv``, ``results/leaderboard_rollout.csv`` (when some run did
an autoregressive rollout) and ``results/figures/*.{png,pdf}``.

Modules: :mod:`~frlbench.report.aggregate` (records → DataFrames), :mod:`~.tables` (what the
tables show), :mod:`~.document` (Markdown / LaTeX / HTML writers), :mod:`~.figures` (plots).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from frlbench.records import RecordError, RunRecord, load_records
from frlbench.report.aggregate import CONFIG_KEYS, Leaderboard, build_leaderboard
from frlbench.report.document import Image, to_latex, to_markdown
from frlbench.report.html import to_html
from frlbench.report.manifest import read_manifest, write_manifest
from frlbench.report.pairing import section_blocks, with_published
from frlbench.report.rows import records_to_rows
from frlbench.report.tables import build_document, verdict
from frlbench.safeio import atomic_path, check_inside, resolve_root, write_atomic

__all__ = ["Leaderboard", "ReportSummary", "build_leaderboard", "render_report"]

CSV_FLOAT_FORMAT = "%.10g"


@dataclass
class ReportSummary:
    """What :func:`render_report` wrote and what it left out.

    Attributes:
        paths: Every file written, in writing order.
        n_records: Finished records (status ok) that entered the numbers.
        unreadable: Messages of record files that could not be read (not used).
        not_finished: Diverged or failed runs (not used; listed in the leaderboard).
        not_applicable: Reference runs that do not apply to their task (shown as n/a).
        verdicts: One computed sentence per section, ``"<task> (<profile>): ..."``.
        removed: Outputs of an earlier render that this one no longer produces (a figure of
            a section whose runs are gone, a rollout CSV when no run has a rollout), deleted
            so that nothing stale sits beside the new leaderboard.
    """

    paths: list[Path] = field(default_factory=list)
    n_records: int = 0
    unreadable: list[str] = field(default_factory=list)
    not_finished: list[RunRecord] = field(default_factory=list)
    not_applicable: list[RunRecord] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)


def _write(path: Path, text: str, written: list[Path], root: Path) -> None:
    write_atomic(path, text, root=root)
    written.append(path)


def _write_csv(frame: pd.DataFrame, path: Path, written: list[Path], root: Path) -> None:
    with atomic_path(path, root=root) as tmp:
        frame.to_csv(tmp, index=False, float_format=CSV_FLOAT_FORMAT)
    written.append(path)


def long_frame(records: list[RunRecord]) -> pd.DataFrame:
    """Long-form rows of every readable record, one per (run, resolution), sorted."""
    frame = pd.DataFrame(records_to_rows(records))
    if frame.empty:
        return frame
    return frame.sort_values(
        [*CONFIG_KEYS, "seed", "run_id", "resolution"], na_position="first", kind="stable"
    ).reset_index(drop=True)


def _write_csvs(
    results_dir: Path, records: list[RunRecord], board: Leaderboard, written: list[Path]
) -> None:
    """The long-form and summary CSVs, and the rollout CSV when some run rolled out."""
    _write_csv(long_frame(records), results_dir / "leaderboard.csv", written, results_dir)
    _write_csv(board.summary, results_dir / "leaderboard_summary.csv", written, results_dir)
    if not board.rollout.empty:
        _write_csv(board.rollout, results_dir / "leaderboard_rollout.csv", written, results_dir)


def _read_records(
    results_dir: Path,
) -> tuple[list[RunRecord], list[RecordError], list[RecordError]]:
    """The readable records of ``results_dir/runs``, the errors of the others, and those
    errors naming files relative to ``results_dir`` (so the documents do not depend on where
    the results directory lives)."""
    runs_dir = results_dir / "runs"
    if not runs_dir.is_dir():
        raise FileNotFoundError(
            f"{runs_dir}: no runs directory; run `frlbench run --out {results_dir}` first"
        )
    records, errors = load_records(runs_dir)
    prefix = f"{results_dir}{os.sep}"
    return records, errors, [RecordError(str(e).replace(prefix, "", 1)) for e in errors]


def render_report(
    results_dir: Path, *, figures: bool = True, published: bool = True
) -> ReportSummary:
    """Render the leaderboard of ``results_dir`` from its run records.

    Reads ``results_dir/runs/*/record.json``; only records with status ``ok`` enter the
    numbers. Writes ``leaderboard.md``, ``.tex``, ``.html``, ``leaderboard.csv`` (long form:
    every readable record, one row per resolution, with its ``status``),
    ``leaderboard_summary.csv`` (one row per task, profile, baseline and FRL variant),
    ``leaderboard_rollout.csv`` (only when some finished run has a rollout: one row per
    configuration, resolution and rollout step, see
    :func:`~frlbench.report.aggregate.rollout_frame`) and, with ``figures``,
    ``figures/<figure>_<task>_<profile>.{png,pdf}``. Without rollouts there is no rollout
    table, CSV or figure.

    Args:
        results_dir: The results directory (holding ``runs/``).
        figures: Also render the figures (needs matplotlib; the tables do not).
        published: Show the published records of the same tasks and profiles beside the
            local ones (:mod:`frlbench.report.pairing`).

    Returns:
        What was written, how many records were used and which were not.

    Raises:
        FileNotFoundError: If ``results_dir/runs`` does not exist.
    """
    results_dir = resolve_root(results_dir)
    records, errors, relative = _read_records(results_dir)
    pairing = with_published(records, published)
    records = pairing.records
    board = build_leaderboard(records, relative)
    written: list[Path] = []

    images: dict[str, list[Image]] = {}
    owned = read_manifest(results_dir)  # only what an earlier render recorded as its own
    if figures:
        # matplotlib only when drawing
        from frlbench.report.figures import section_figures

        for section in board.sections:
            images[section.slug], paths = section_figures(
                board, section, results_dir / "figures", root=results_dir
            )
            written += paths

    extras = {s.slug: section_blocks(pairing, s.task, s.profile) for s in board.sections}
    blocks = build_document(board, images, extras)
    _write(results_dir / "leaderboard.md", to_markdown(blocks), written, results_dir)
    _write(results_dir / "leaderboard.tex", to_latex(blocks), written, results_dir)
    own_figures = {p for p in written if p.suffix == ".png"}  # embedded: this render's only

    def read_figure(stem: str) -> bytes | None:
        path = results_dir / f"{stem}.png"
        return path.read_bytes() if path in own_figures else None

    html_page = to_html(blocks, read_figure)
    _write(results_dir / "leaderboard.html", html_page, written, results_dir)
    _write_csvs(results_dir, records, board, written)
    if not figures:  # figures of an earlier render stay, and stay owned
        kept = [p for p in owned if p.parent == results_dir / "figures" and p.is_file()]
        owned = [p for p in owned if p not in kept]
    else:
        kept = []
    removed = [p for p in owned if p.is_file() and p not in written]
    for path in removed:
        check_inside(path, results_dir).unlink()
    write_manifest(results_dir, written + kept)
    return ReportSummary(
        paths=written,
        removed=removed,
        n_records=len(board.records.ok),
        unreadable=sorted(str(e) for e in errors),
        not_finished=list(board.records.not_finished),
        not_applicable=list(board.records.not_applicable),
        verdicts=[f"{s.task} ({s.profile}): {verdict(board, s)}" for s in board.sections],
    )
