"""Leaderboard tests on synthetic records (test data made here, not measured anywhere)."""

from __future__ import annotations

import dataclasses
import math
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from frlbench.records import ResolutionMetrics, RunRecord, write_record
from frlbench.report import render_report
from frlbench.report.aggregate import build_leaderboard
from frlbench.report.document import markdown_escape
from frlbench.report.equivalence import equivalent_resolution
from frlbench.report.formatting import fmt_interval, fmt_num, fmt_slope
from frlbench.report.schedule import schedule_rows, schedule_table
from frlbench.stats import (
    ANCHORED,
    DEGRADES,
    IMPROVES,
    NO_SKILL,
    SEEDS_ONLY,
    UNDETERMINED,
    anchoring_label,
    anchoring_slope,
    mean_interval,
    seed_bootstrap_slope,
)

TRAIN = 16
RESOLUTIONS = (16, 32, 64)
PROFILE = "quick"


def fake_record(
    task: str,
    baseline: str,
    frl: str,
    seed: int,
    *,
    slope: float = 0.0,
    rmse0: float = 0.1,
    kind: str = "model",
    status: str = "ok",
    reason: str = "",
    unseen_share: float = 0.5,
    time_per_step_s: float = 0.01,
    peak_memory_mb: float = 100.0,
    params: int = 1000,
    inference_s: float = 1e-3,
    rollout: Mapping[int, Sequence[float]] | None = None,
    data_source: str = "",
) -> RunRecord:
    """A synthetic record whose RMSE follows rmse0 · (ρ/ρ0)^slope exactly.

    ``rollout`` maps a resolution to its RMSE after each rollout step (default: no rollout).
    """
    rollout = rollout or {}
    metrics = []
    for res in RESOLUTIONS if status == "ok" else ():
        rmse = rmse0 * (res / TRAIN) ** slope
        share = unseen_share if res > TRAIN else 0.0
        k = np.linspace(0.125, res / TRAIN, 4 * res // TRAIN)
        response = np.where(k <= 1, 1.0, (1.0 if frl == "off" else 0.8) * np.exp(-(k - 1)))
        metrics.append(
            ResolutionMetrics(
                resolution=res,
                rmse=rmse,
                rel_l2=2 * rmse,
                rmse_ratio=rmse / rmse0,
                mse_seen=rmse**2 * (1 - share),
                mse_unseen=rmse**2 * share,
                freq_k=[float(v) for v in k],
                freq_response=[float(v) for v in response],
                inference_s_per_sample=inference_s * (res / TRAIN) ** 2,
                rollout_rmse=list(rollout.get(res, [])),
            )
        )
    return RunRecord(
        run_id=f"{task}-{baseline}-{frl}-s{seed}-testdata",
        kind=kind,  # type: ignore[arg-type]
        task=task,
        baseline=baseline,
        backbone=baseline,
        size="tiny" if kind == "model" else "",
        frl=frl,
        seed=seed,
        profile=PROFILE,
        status=status,  # type: ignore[arg-type]
        reason=reason,
        train_resolution=TRAIN,
        metrics=metrics,
        anchoring_slope=anchoring_slope([m.resolution for m in metrics], [m.rmse for m in metrics]),
        time_per_step_s=time_per_step_s if kind == "model" else math.nan,
        peak_memory_mb=peak_memory_mb if kind == "model" else math.nan,
        params=params if kind == "model" else 0,
        data_source=data_source,
    )


# (baseline, frl) -> per-seed (slope, rmse0); labels follow from the seeds-only bootstrap
# interval of three seeds against δ = 0.05 (persistence has RMSE 0.2 at ρ0).
MODEL_RUNS = {
    ("cnn", "off"): [(0.10, 0.10), (0.11, 0.12), (0.12, 0.11)],  # degrades: above δ
    ("cnn", "full"): [(-0.30, 0.10), (-0.10, 0.11), (0.02, 0.10)],  # undetermined: spans ±δ
    ("fno", "off"): [(0.01, 0.08), (-0.01, 0.09), (0.0, 0.085)],  # anchored: inside ±δ
    ("fno", "full"): [(-0.80, 0.08), (-0.90, 0.07), (-0.85, 0.075)],  # improves: below -δ
    ("fno", "encoding-only"): [(-0.50, 0.08), (-0.55, 0.08), (-0.52, 0.08)],  # improves
    ("gnn", "off"): [(-0.80, 0.15), (-0.90, 0.16), (-0.85, 0.15)],  # improves
    ("gnn", "full"): [(-0.80, 0.25), (-0.90, 0.30), (-0.85, 0.20)],  # no skill: 0.25 ≥ 0.2
}
EXPECTED_LABELS = {
    ("cnn", "off"): DEGRADES,
    ("cnn", "full"): UNDETERMINED,
    ("fno", "off"): ANCHORED,
    ("fno", "full"): IMPROVES,
    ("fno", "encoding-only"): IMPROVES,
    ("gnn", "off"): IMPROVES,
    ("gnn", "full"): NO_SKILL,
}
ADVECT_SOURCE = "frlbench's test advection data (not real)"
SOLVER_RMSE0 = 0.05  # solver slope -2: 0.05, 0.0125, 0.003125 at 16, 32, 64


def synthetic_records() -> list[RunRecord]:
    """Two tasks, three backbones, off/full/one ablation, three seeds, references, failures."""
    records = []
    for task in ("advect", "swe"):
        for (baseline, frl), seeds in MODEL_RUNS.items():
            for seed, (slope, rmse0) in enumerate(seeds):
                records.append(
                    fake_record(
                        task, baseline, frl, seed, slope=slope, rmse0=rmse0,
                        time_per_step_s=0.013 if frl == "full" else 0.01,
                        peak_memory_mb=120.0 if frl == "full" else 100.0,
                        params=1100 if frl == "full" else 1000,
                        data_source=ADVECT_SOURCE if task == "advect" else "",
                    )
                )  # fmt: skip
        records.append(
            fake_record(
                task, "persistence", "off", 0, kind="reference", rmse0=0.2,
                data_source=ADVECT_SOURCE if task == "advect" else "",
            )
        )  # fmt: skip
    records.append(
        fake_record(
            "advect", "solver", "off", 0, kind="reference", slope=-2.0, rmse0=SOLVER_RMSE0,
            unseen_share=0.1, inference_s=0.02, data_source=ADVECT_SOURCE,
        )
    )  # fmt: skip
    records.append(
        fake_record(
            "swe", "solver", "off", 0, kind="reference", status="not_applicable",
            reason="no numerical solver for the shallow-water stand-in",
        )
    )  # fmt: skip
    records.append(
        fake_record(
            "advect", "cnn", "loss-only", 0, status="diverged", reason="loss is NaN at step 7"
        )
    )
    records.append(
        fake_record(
            "swe", "fno", "multires-only", 0, status="failed", reason="RuntimeError: out of memory"
        )
    )
    return records


def write_results(root: Path) -> Path:
    for rec in synthetic_records():
        write_record(root / "runs" / rec.run_id / "record.json", rec)
    corrupt = root / "runs" / "advect-broken-off-s0-testdata" / "record.json"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text('{"run_id": "advect-broken", "schema": 1, ')
    return root


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    root = write_results(tmp_path_factory.mktemp("results"))
    return root, render_report(root, figures=True)


def seed_values(baseline: str, frl: str, res: int) -> list[float]:
    return [r0 * (res / TRAIN) ** s for s, r0 in MODEL_RUNS[(baseline, frl)]]


def test_files_written(rendered):
    root, summary = rendered
    names = {p.relative_to(root).as_posix() for p in summary.paths}
    for name in ("md", "tex", "html", "csv"):
        assert f"leaderboard.{name}" in names
    assert "leaderboard_summary.csv" in names
    for task in ("advect", "swe"):
        for fig in ("rmse_ratio", "rmse_vs_resolution", "frequency_response", "band_errors"):
            for ext in ("png", "pdf"):
                assert f"figures/{fig}_{task}_{PROFILE}.{ext}" in names
    assert all(p.is_file() and p.stat().st_size > 0 for p in summary.paths)
    html = (root / "leaderboard.html").read_text()
    # One self-contained file: this render's figures are embedded, none is linked.
    assert 'alt="' in html and 'src="data:image/png;base64,' in html
    assert 'src="figures/' not in html
    assert html.startswith("<!DOCTYPE html>")
    tex = (root / "leaderboard.tex").read_text()
    assert r"\begin{tabular}" in tex and r"\end{document}" in tex
    assert "fno" in tex and r"$\to$" in tex


def test_failed_diverged_and_corrupt_are_listed_and_excluded(rendered):
    root, summary = rendered
    assert summary.n_records == 2 * (3 * len(MODEL_RUNS) + 1) + 1
    assert sorted(r.run_id for r in summary.not_finished) == [
        "advect-cnn-loss-only-s0-testdata",
        "swe-fno-multires-only-s0-testdata",
    ]
    assert [r.baseline for r in summary.not_applicable] == ["solver"]
    assert len(summary.unreadable) == 1 and "advect-broken-off-s0" in summary.unreadable[0]
    md = (root / "leaderboard.md").read_text()
    section = md.split("## Runs that did not finish")[1]
    assert "loss is NaN at step 7" in section and "RuntimeError: out of memory" in section
    assert "advect-broken-off-s0-testdata" in md.split("## Unreadable records")[1]
    assert "n/a: no numerical solver" in md
    table = pd.read_csv(root / "leaderboard_summary.csv")
    assert set(table["n_seeds"]) <= {0, 1, 3}
    cnn = table[(table["task"] == "advect") & (table["baseline"] == "cnn")].set_index("frl")
    assert int(cnn.loc["full", "n_seeds"]) == 3
    # A configuration with a seed not ok enters no number; its row counts the seeds.
    assert cnn.loc["loss-only", "label"] == "1 of 1 seeds diverged (non-finite loss)"
    assert math.isnan(cnn.loc["loss-only", "rmse_ratio_mean"])
    fno = table[(table["task"] == "swe") & (table["baseline"] == "fno")].set_index("frl")
    assert fno.loc["multires-only", "label"] == "1 of 1 seeds failed"
    long = pd.read_csv(root / "leaderboard.csv")
    assert set(long["status"]) == {"ok", "diverged", "failed", "not_applicable"}


def test_numbers_match_hand_computation(rendered):
    root, _ = rendered
    table = pd.read_csv(root / "leaderboard_summary.csv")
    md = (root / "leaderboard.md").read_text()
    for (baseline, frl), seeds in MODEL_RUNS.items():
        row = table[
            (table["task"] == "advect") & (table["baseline"] == baseline) & (table["frl"] == frl)
        ].iloc[0]
        finest = seed_values(baseline, frl, 64)
        ratios = [v / r0 for v, (_, r0) in zip(finest, seeds, strict=True)]
        assert row["rmse_finest"] == pytest.approx(np.mean(finest))
        assert row["rmse_ratio_mean"] == pytest.approx(np.mean(ratios))
        expected = mean_interval(ratios)
        assert row["rmse_ratio_high"] - row["rmse_ratio_low"] == pytest.approx(
            expected.high - expected.low
        )
        slopes = seed_bootstrap_slope([s for s, _ in seeds])
        assert row["slope_mean"] == pytest.approx(slopes.mean)
        assert (row["slope_low"], row["slope_high"]) == pytest.approx((slopes.low, slopes.high))
        assert row["slope_interval"] == SEEDS_ONLY
        assert row["skill"] == pytest.approx(1 - np.mean([r0 for _, r0 in seeds]) / 0.2)
        label = EXPECTED_LABELS[(baseline, frl)]
        assert row["label"] == label
        if label != NO_SKILL:
            assert label == anchoring_label(slopes)
        assert markdown_escape(fmt_slope(slopes.mean, slopes.low, slopes.high)) in md
        assert row["seen_rmse"] == pytest.approx(np.mean([v * math.sqrt(0.5) for v in finest]))
        # The same numbers, formatted, are in the Markdown.
        assert fmt_num(float(np.mean(finest))) in md
        assert fmt_interval(expected.mean, expected.low, expected.high) in md
    fno_off = fmt_num(float(np.mean(seed_values("fno", "off", 32))))
    fno_full = fmt_num(float(np.mean(seed_values("fno", "full", 32))))
    assert f"{fno_off} → {fno_full}" in md
    assert "1.30×" in md and "1.20×" in md  # time and memory overhead FRL / baseline
    solver = table[(table["task"] == "advect") & (table["baseline"] == "solver")].iloc[0]
    assert solver["slope_mean"] == pytest.approx(-2.0)
    assert solver["label"] == UNDETERMINED  # one seed, seeds only: no interval
    assert "-2.00 (target)" in md


def test_each_section_says_its_data_source(rendered):
    root, _ = rendered
    md = (root / "leaderboard.md").read_text()
    advect, swe = md.split("## advect — quick profile", 1)[1].split("## swe — quick profile")
    assert f"**Data:** {ADVECT_SOURCE}." in advect
    assert "**Data:** source not recorded" in swe  # its records predate the field
    tex = (root / "leaderboard.tex").read_text()
    assert rf"\textbf{{Data:}} {ADVECT_SOURCE}." in tex
    frame = pd.read_csv(root / "leaderboard.csv")
    finished = frame[(frame["task"] == "advect") & (frame["status"] == "ok")]
    assert set(finished["data_source"]) == {ADVECT_SOURCE}


def test_runs_of_two_data_sources_are_never_pooled():
    from frlbench.report.tables import build_document, data_source_text

    era5, standin = "ERA5 (zarr store at /data/era5.zarr)", "frlbench shallow-water stand-in"
    records = [
        fake_record("w", "cnn", "off", 0, data_source=era5),
        fake_record("w", "cnn", "off", 1, data_source=standin),
        fake_record("w", "cnn", "off", 2, data_source=era5),
    ]
    board = build_leaderboard(records)
    assert [(s.profile, s.data_sources) for s in board.sections] == [
        ("quick [source 1]", (era5,)),
        ("quick [source 2]", (standin,)),
    ]
    assert sorted(board.seeds.groupby("profile")["seed"].unique().map(list).sum()) == [0, 1, 2]
    assert [r.profile for r in records] == ["quick"] * 3  # the records given are not changed
    texts = [data_source_text(s) for s in board.sections]
    assert texts == [f"{era5}.", f"{standin}."]
    blocks = [getattr(b, "text", "") for b in build_document(board)]
    assert all(text in blocks for text in texts)
    # The flag remains for a section whose records somehow name two sources.
    section = dataclasses.replace(board.sections[0], data_sources=(era5, standin))
    assert "not comparable" in data_source_text(section)


def test_weather_sections_show_acc_and_per_variable_errors():
    from frlbench.report.extras import weather_table
    from frlbench.report.tables import build_document

    records = [fake_record("w", "cnn", "off", seed) for seed in (0, 1)]
    records.append(fake_record("w", "persistence", "off", 0, kind="reference"))
    for rec in records:
        for m in rec.metrics:
            m.acc = 0.5 + m.resolution / 1000 + rec.seed / 10
            m.per_variable = {
                "z500": {"rmse": 10.0 + rec.seed, "acc": 0.9},
                "u500": {"rmse": 1.0, "acc": 0.1 * (1 + rec.seed)},
            }
    finest = RESOLUTIONS[-1]
    table = weather_table(records, "w", PROFILE, TRAIN, finest)
    assert table is not None
    assert table.columns == [
        "Baseline", "FRL", f"ACC @{TRAIN}", f"ACC @{finest}", f"RMSE z500 @{finest}",
        f"ACC z500 @{finest}", f"RMSE u500 @{finest}", f"ACC u500 @{finest}",
    ]  # fmt: skip
    cnn, persistence = table.rows
    # Means over the two seeds, by hand.
    assert cnn == [
        "cnn", "off", f"{0.55 + TRAIN / 1000:.4g}", f"{0.55 + finest / 1000:.4g}", "10.5", "0.9",
        "1", "0.15",
    ]  # fmt: skip
    assert persistence[:2] == ["persistence (reference)", "—"]
    assert table in build_document(build_leaderboard(records))
    # Tasks without an ACC (not weather) get no such table.
    plain = [fake_record("w", "cnn", "off", 0)]
    assert weather_table(plain, "w", PROFILE, TRAIN, finest) is None


def test_verdict_is_computed(rendered):
    root, summary = rendered
    advect = next(v for v in summary.verdicts if v.startswith("advect"))
    # gnn + FRL has no skill: left out of the counts, and counted as skill lost by FRL.
    assert "Under FRL 1 of 2 backbones with skill improve with resolution" in advect
    assert "without FRL 1 of 3" in advect
    assert "6 of 8 model rows have skill at ρ0 = 16" in advect  # cnn loss-only diverged
    assert "FRL lost the skill of its baseline for 1 of 3 backbones" in advect
    assert "where both have skill, FRL lowers RMSE_Ratio @64 for 2 of 2" in advect
    assert "solver slope -2.00" in advect
    swe = next(v for v in summary.verdicts if v.startswith("swe"))
    assert "solver n/a (no numerical solver for the shallow-water stand-in)" in swe
    assert advect.split(": ", 1)[1] in (root / "leaderboard.md").read_text()


def test_ablation_and_cost_tables(rendered):
    root, _ = rendered
    md = (root / "leaderboard.md").read_text()
    advect = md.split("## advect")[1].split("## swe")[0]
    ablation = advect.split("**Ablations")[1].split("**Cost")[0]
    assert "| fno | encoding-only | 3 | +0.60 |" in ablation
    cost = advect.split("**Cost")[1]
    # Solver at 64 takes 0.02·16 s, a model 1e-3·16 s: 20× faster.
    assert "16.0 ms (20.0×)" in cost
    fno_full = float(np.mean(seed_values("fno", "full", 64)))
    expected = equivalent_resolution(
        RESOLUTIONS, [SOLVER_RMSE0 * (r / TRAIN) ** -2 for r in RESOLUTIONS], fno_full
    )
    lines = {" | ".join(line.split(" | ")[:2]): line for line in cost.splitlines()}
    assert 16 < expected < 32
    assert lines["| fno | full"].endswith(f"| {expected:.0f} |")
    assert lines["| cnn | off"].endswith("| coarser than 16 |")  # solver at 16 already beats it
    table = pd.read_csv(root / "leaderboard_summary.csv")
    table = table[table["task"] == "advect"]
    keys = table["baseline"] + "/" + table["frl"]
    equivalent = dict(zip(keys, table["equivalent_solver_resolution"], strict=True))
    assert equivalent["cnn/off"] == "coarser than 16"
    assert float(equivalent["fno/full"]) == pytest.approx(expected)


def test_equivalent_resolution_interpolation():
    res, err = [16, 32, 64], [0.05, 0.0125, 0.003125]  # error ∝ ρ^-2
    # 0.02 lies between 16 and 32: 16 · (0.05 / 0.02)^(1/2) by log-log interpolation.
    assert equivalent_resolution(res, err, 0.02) == pytest.approx(16 * math.sqrt(2.5))
    assert equivalent_resolution(res, err, 0.0125) == pytest.approx(32)
    assert equivalent_resolution(res, err, 0.05) == pytest.approx(16)
    assert equivalent_resolution(res, err, 0.1) == -math.inf  # solver better everywhere
    assert equivalent_resolution(res, err, 0.001) == math.inf  # solver never as good
    assert math.isnan(equivalent_resolution(res, [math.nan] * 3, 0.02))
    assert equivalent_resolution([64, 16, 32], [0.003125, 0.05, 0.0125], 0.02) == pytest.approx(
        16 * math.sqrt(2.5)
    )


@pytest.mark.parametrize(
    ("mean", "low", "high", "text"),
    [
        (-0.1, -0.18, -0.02, "-0.10 ± 0.08"),
        (0.0031, 0.0019, 0.0043, "+0.0031 ± 0.0012"),  # would read +0.00 ± 0.00
        (0.5, 0.499, 0.501, "+0.50 ± 0.001"),
        (0.0, -1.0, 1.0, "+0.00 ± 1.00"),
        (-0.25, math.nan, math.nan, "-0.25"),
    ],
)
def test_slope_interval_keeps_small_values_readable(mean, low, high, text):
    assert fmt_interval(mean, low, high, slope=True) == text


@pytest.mark.parametrize(
    ("mean", "low", "high", "text"),
    [
        (-0.1, -0.18, -0.03, "-0.10 [-0.18, -0.03]"),
        (0.0031, 0.0019, 0.0043, "+0.0031 [+0.0019, +0.0043]"),
        (-0.25, math.nan, math.nan, "-0.25"),
        (math.nan, math.nan, math.nan, "—"),
        (-5.5e-17, -0.01, 0.01, "+0.00 [-0.01, +0.01]"),  # least-squares noise of 0
    ],
)
def test_bootstrap_slope_shows_both_ends(mean, low, high, text):
    assert fmt_slope(mean, low, high) == text


@pytest.mark.parametrize(
    ("slopes", "label"),
    [
        ([-0.8, -0.9, -0.85], IMPROVES),
        ([0.01, -0.01, 0.0], ANCHORED),
        ([0.10, 0.11, 0.12], DEGRADES),
        ([-0.2, 0.0, 0.2], UNDETERMINED),
        ([-0.8, -0.9], UNDETERMINED),  # two seeds, seeds only: no interval
        ([-0.5], UNDETERMINED),
    ],
)
def test_labels_in_leaderboard(slopes, label):
    records = [
        fake_record("t", "m", "full", seed, slope=s, rmse0=0.1) for seed, s in enumerate(slopes)
    ]
    board = build_leaderboard(records)
    assert board.summary["label"].tolist() == [label]


def test_report_is_deterministic(tmp_path, rendered):
    root, _ = rendered
    copies = []
    for name in ("a", "b"):
        copy = tmp_path / name
        shutil.copytree(root / "runs", copy / "runs")
        render_report(copy, figures=False)
        copies.append(copy)
    for name in ("leaderboard.md", "leaderboard.csv", "leaderboard_summary.csv", "leaderboard.tex"):
        assert (copies[0] / name).read_bytes() == (copies[1] / name).read_bytes()
    # Figures do not change the tables, only add links to them.
    assert (copies[0] / "leaderboard.csv").read_bytes() == (root / "leaderboard.csv").read_bytes()


def test_missing_runs_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no runs directory"):
        render_report(tmp_path)


def test_empty_runs_dir(tmp_path):
    (tmp_path / "runs").mkdir()
    summary = render_report(tmp_path)
    assert summary.n_records == 0
    assert "No finished runs" in (tmp_path / "leaderboard.md").read_text()


@pytest.mark.parametrize("results", ["rendered", "rendered_rollout"])
def test_report_does_not_import_torch(tmp_path, request, results):
    root = tmp_path / "results"
    shutil.copytree(request.getfixturevalue(results)[0] / "runs", root / "runs")
    code = (
        "import sys; from pathlib import Path; import frlbench.report, frlbench.report.figures; "
        "assert 'torch' not in sys.modules; "
        f"frlbench.report.render_report(Path({str(root)!r}), figures=False); "
        "banned = [m for m in sys.modules if m == 'torch' or m.startswith(("
        "'frlbench.train', 'frlbench.models', 'frlbench.runner'))]; "
        "assert not banned, banned"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# Rollout RMSE per step at the training resolution (16) and the finest (64), per seed; the
# "roll" task has rollouts, the tasks of synthetic_records() none.
ROLLOUTS = {
    ("model", "cnn", "off"): [
        {16: [0.10, 0.20, 0.40], 64: [0.10, 0.25, 0.60]},
        {16: [0.12, 0.22, 0.40], 64: [0.14, 0.30, 0.80]},
    ],
    ("model", "cnn", "full"): [
        {16: [0.10, 0.15, 0.20], 64: [0.05, 0.08, 0.10]},
        {16: [0.10, 0.16, 0.25], 64: [0.06, 0.09, 0.15]},
    ],
    ("reference", "persistence", "off"): [{16: [0.3, 0.5, 0.7], 64: [0.3, 0.5, 0.7]}],
    ("reference", "solver", "off"): [{16: [0.05, 0.07, 0.09], 64: [0.01, 0.015, 0.02]}],
}


def rollout_records() -> list[RunRecord]:
    return [
        fake_record("roll", baseline, frl, seed, kind=kind, rollout=rollout)
        for (kind, baseline, frl), seeds in ROLLOUTS.items()
        for seed, rollout in enumerate(seeds)
    ]


@pytest.fixture(scope="module")
def rendered_rollout(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("rollout")
    for rec in [*synthetic_records(), *rollout_records()]:
        write_record(root / "runs" / rec.run_id / "record.json", rec)
    return root, render_report(root, figures=True)


def test_rollout_frame_matches_hand_computation():
    duplicate = fake_record(
        "roll", "cnn", "full", 1, rollout={16: [0.10, 0.16, 0.25], 64: [0.06, 0.09, 0.17]}
    )
    duplicate.run_id = "roll-cnn-full-s1-rerun"
    board = build_leaderboard([*rollout_records(), duplicate])
    frame = board.rollout.set_index(["baseline", "frl", "resolution", "step"])
    assert set(frame["task"]) == {"roll"} and len(frame) == 4 * 2 * 3
    row = frame.loc[("cnn", "full", 64, 3)]
    # Seed 1's two records are averaged first: step 3 at 64 reads (0.15 + 0.17) / 2 = 0.16.
    assert row["n_seeds"] == 2
    assert row["rmse_mean"] == pytest.approx((0.10 + 0.16) / 2)
    expected = mean_interval([0.10 / 0.20, 0.16 / 0.25])
    assert row["rmse_ratio_mean"] == pytest.approx(expected.mean)
    assert row["rmse_ratio_low"] == pytest.approx(expected.low)
    assert row["rmse_ratio_high"] == pytest.approx(expected.high)
    assert frame.loc[("cnn", "off", 16, 2), "rmse_ratio_mean"] == pytest.approx(1.0)
    solver = frame.loc[("solver", "off", 64, 1)]
    assert solver["rmse_ratio_mean"] == pytest.approx(0.2) and math.isnan(solver["rmse_ratio_low"])
    # Leaderboard order: models before references, then resolution and step ascending.
    assert board.rollout["baseline"].tolist() == ["cnn"] * 12 + ["persistence"] * 6 + ["solver"] * 6
    assert board.rollout["step"].tolist()[:6] == [1, 2, 3, 1, 2, 3]


def test_rollout_table_shows_hand_computed_numbers(rendered_rollout):
    root, _ = rendered_rollout
    md = (root / "leaderboard.md").read_text()
    section = md.split("## roll — quick profile")[1].split("## ")[0]
    table = section.split("**Rollout — roll, quick profile**")[1]
    lines = [line for line in table.splitlines() if line.startswith("|")]
    assert lines[0] == (
        "| Backbone | RMSE @64 step 1 | RMSE @64 step 2 | RMSE @64 step 3 | RMSE_Ratio @64 step 3 |"
    )
    off_ratio = mean_interval([0.60 / 0.40, 0.80 / 0.40])  # 1.75
    full_ratio = mean_interval([0.10 / 0.20, 0.15 / 0.25])  # 0.55
    assert off_ratio.mean == pytest.approx(1.75) and full_ratio.mean == pytest.approx(0.55)
    ratio = [fmt_interval(r.mean, r.low, r.high) for r in (off_ratio, full_ratio)]
    assert ratio[0].startswith("1.75 ± ") and ratio[1].startswith("0.550 ± ")
    assert lines[2:] == [
        f"| cnn | 0.120 → 0.0550 | 0.275 → 0.0850 | 0.700 → 0.125 | {ratio[0]} → {ratio[1]} |",
        "| persistence (reference) | 0.300 | 0.500 | 0.700 | 1.00 |",
        "| solver (reference) | 0.0100 | 0.0150 | 0.0200 | 0.222 |",
    ]
    assert "fed back as its next input 3 times" in table
    assert "training resolution ρ0 = 16 at step 3" in table
    # Sections without rollouts get no rollout table.
    assert md.count("**Rollout —") == 1


def test_rollout_csv_and_figure_written(rendered_rollout):
    root, summary = rendered_rollout
    names = {p.relative_to(root).as_posix() for p in summary.paths}
    assert "leaderboard_rollout.csv" in names
    for ext in ("png", "pdf"):
        assert f"figures/rollout_roll_{PROFILE}.{ext}" in names
        assert f"figures/rollout_advect_{PROFILE}.{ext}" not in names
    assert (root / f"figures/rollout_roll_{PROFILE}.png").stat().st_size > 0
    assert "figures/rollout_roll_quick.png" in (root / "leaderboard.md").read_text()
    csv = pd.read_csv(root / "leaderboard_rollout.csv")
    assert set(csv["task"]) == {"roll"}
    off = csv[(csv["baseline"] == "cnn") & (csv["frl"] == "off") & (csv["resolution"] == 64)]
    assert off["step"].tolist() == [1, 2, 3]
    assert off["rmse_mean"].tolist() == pytest.approx([0.12, 0.275, 0.70])


def test_no_rollout_leaves_the_report_unchanged(rendered):
    root, summary = rendered
    names = {p.relative_to(root).as_posix() for p in summary.paths}
    assert "leaderboard_rollout.csv" not in names
    assert not (root / "leaderboard_rollout.csv").exists()
    assert not any(name.startswith("figures/rollout_") for name in names)
    for ext in ("md", "tex", "html"):
        assert "Rollout" not in (root / f"leaderboard.{ext}").read_text()
    assert build_leaderboard(synthetic_records()).rollout.empty


@pytest.mark.parametrize(("solver_rmse", "decade_ticks"), [(0.05, False), (1e-8, True)])
def test_rmse_axes_are_labelled_whatever_range_they_span(solver_rmse, decade_ticks):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from frlbench.report.figures import plot_rmse_vs_resolution

    records = [
        fake_record("t", "cnn", frl, seed, slope=0.02, rmse0=0.1)
        for frl in ("off", "full")
        for seed in (0, 1)
    ]
    records.append(fake_record("t", "solver", "off", 0, kind="reference", rmse0=solver_rmse))
    board = build_leaderboard(records)
    section = board.sections[0]
    fig = plot_rmse_vs_resolution(
        section.select(board.per_resolution), section.select(board.seeds), section
    )
    FigureCanvasAgg(fig).draw()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert len(labels) >= 2, "the RMSE axis has no readable ticks"
    assert any("10^" in label for label in labels) == decade_ticks


def test_rerender_removes_outputs_it_no_longer_produces(tmp_path):
    root = tmp_path / "results"
    for rec in [*synthetic_records(), *rollout_records()]:
        write_record(root / "runs" / rec.run_id / "record.json", rec)
    render_report(root, figures=True)
    rollout_png = next((root / "figures").glob("rollout_*.png"))
    assert (root / "leaderboard_rollout.csv").is_file()
    mine = root / "figures" / "my_notes.png"
    mine.write_bytes(b"not the report's")
    # The rollout runs are gone: their CSV and figures must not linger beside the new tables.
    for rec in rollout_records():
        shutil.rmtree(root / "runs" / rec.run_id)
    summary = render_report(root, figures=True)
    assert not (root / "leaderboard_rollout.csv").exists()
    assert not rollout_png.exists()
    assert not list((root / "figures").glob("*_roll_*"))
    assert root / "leaderboard_rollout.csv" in summary.removed
    assert mine.is_file()  # files the report does not own are left alone
    assert all(p.is_file() for p in summary.paths)


def test_schedule_table_applies_the_default_rule():
    """full-sched may replace full only where its mean lies in full's seed interval everywhere."""
    records = [fake_record("advect", "persistence", "off", 0, kind="reference", rmse0=0.2)]
    full_rmse0 = [0.10, 0.11, 0.12]
    # (baseline, frl) -> slope; full-sched starts at 0.11 (inside full's interval at ρ0).
    slopes = {("cnn", "full"): 0.0, ("cnn", "full-sched"): 0.0}
    slopes |= {("fno", "full"): 0.0, ("fno", "full-sched"): 0.5}
    for (baseline, frl), slope in slopes.items():
        for seed, r0 in enumerate(full_rmse0):
            records.append(
                fake_record(
                    "advect", baseline, frl, seed, slope=slope,
                    rmse0=r0 if frl == "full" else 0.11,
                    time_per_step_s=0.011 if frl == "full-sched" else 0.013,
                )
            )  # fmt: skip
    board = build_leaderboard(records)
    (section,) = board.sections
    rows = {r["baseline"]: r for r in schedule_rows(board, section)}
    assert rows["cnn"]["eligible"] is True and rows["cnn"]["outside"] == []
    # fno's scheduled runs grow as (ρ/16)^0.5: outside full's interval at 32 and 64 only.
    assert rows["fno"]["eligible"] is False and rows["fno"]["outside"] == [32, 64]
    assert rows["cnn"]["time_ratio"] == pytest.approx(0.011 / 0.013)
    table = schedule_table(board, section)
    assert table is not None
    cnn = next(row for row in table.rows if row[0] == "cnn")
    assert cnn[1] == "full → full-sched" and cnn[-1] == "yes: within at every grid"
    assert cnn[3] == f"{fmt_interval(0.11, *interval(full_rmse0))} → {fmt_num(0.11)}"
    fno = next(row for row in table.rows if row[0] == "fno")
    assert fno[-1] == "no: outside at 32, 64"
    one_seed = build_leaderboard([r for r in records if r.seed == 0])
    (row,) = [r for r in schedule_rows(one_seed, one_seed.sections[0]) if r["baseline"] == "cnn"]
    assert row["eligible"] is None


def interval(values: Sequence[float]) -> tuple[float, float]:
    interval = mean_interval(values)
    return interval.low, interval.high
