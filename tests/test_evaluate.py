"""The one evaluation path: numbers against values written before it existed, and its metrics.

``tests/data/reference_smoke_pre_change.json`` holds the persistence and solver metrics of the
fluid3d smoke data computed by the code at b4e4896 (``reference.evaluate_reference``, before
:mod:`frlbench.evaluation.evaluate` existed); ``results/leaderboard.csv`` holds the quick
profile's, also written before the change. Both are compared with the new
:func:`~frlbench.evaluation.evaluate.evaluate`.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from frlbench import metrics
from frlbench.catalog import builtin_task_file, validate_task
from frlbench.data import load_dataset
from frlbench.evaluation.evaluate import EvalProtocol, evaluate, trajectories
from frlbench.metrics import Metric
from frlbench.records import ResolutionMetrics, RunRecord
from frlbench.registry import METRICS
from frlbench.report.rows import records_to_rows
from frlbench.runner.reference import reference_forecaster
from frlbench.spec import load_task, resolve_task
from tests.conftest import make_task

ROOT = Path(__file__).resolve().parent.parent
PRE_CHANGE = Path(__file__).parent / "data" / "reference_smoke_pre_change.json"


def _fluid3d():
    task = load_task(builtin_task_file("fluid3d"))
    validate_task(task)
    return task


def _scored(name: str, task, profile: str, data):
    protocol = EvalProtocol.from_task(resolve_task(task, profile))
    return evaluate(reference_forecaster(name, resolve_task(task, profile)), data, protocol)


@pytest.fixture(scope="module")
def smoke_fluid3d(fluid3d_smoke):
    task, data, _cache = fluid3d_smoke
    validate_task(task)
    return task, data


@pytest.mark.parametrize("name", ["persistence", "solver"])
def test_reference_numbers_match_the_pre_change_code(smoke_fluid3d, name):
    task, data = smoke_fluid3d
    expected = json.loads(PRE_CHANGE.read_text())["tasks"]["fluid3d"][name]
    evaluation = _scored(name, task, "smoke", data)
    reference = task.profiles["smoke"].reference_resolution
    got = {m.resolution: m for m in evaluation.metrics}
    # Same resolutions, except that the solver is no longer scored against itself.
    wanted = [int(r) for r in expected if name != "solver" or int(r) < reference]
    assert sorted(got) == wanted
    for res in wanted:
        old, new = expected[str(res)], got[res]
        assert new.rmse == pytest.approx(old["rmse"], rel=1e-9)
        assert new.rel_l2 == pytest.approx(old["rel_l2"], rel=1e-9)
        assert new.mse_seen == pytest.approx(old["mse_seen"], rel=1e-9, abs=1e-20)
        assert new.mse_unseen == pytest.approx(old["mse_unseen"], rel=1e-9, abs=1e-20)
        assert new.rollout_rmse == pytest.approx(old["rollout_rmse"], rel=1e-9)


def test_per_trajectory_and_per_variable_metrics_are_consistent(smoke_fluid3d):
    task, data = smoke_fluid3d
    evaluation = _scored("persistence", task, "smoke", data)
    groups = trajectories(data.splits["test"])
    sizes = [len(g) for g in groups]
    for m in evaluation.metrics:
        assert len(m.rmse_per_trajectory) == len(groups) == task.profiles["smoke"].n_test
        # Equal-length trajectories: the mean of per-trajectory MSEs is the overall MSE.
        assert len(set(sizes)) == 1
        mse = sum(r**2 for r in m.rmse_per_trajectory) / len(groups)
        assert math.sqrt(mse) == pytest.approx(m.rmse, rel=1e-12)
        assert set(m.per_variable) == set(task.channels)
        channel_mse = sum(v["rmse"] ** 2 for v in m.per_variable.values()) / len(task.channels)
        assert math.sqrt(channel_mse) == pytest.approx(m.rmse, rel=1e-12)


def test_a_registered_metric_lands_in_extra_and_the_csv_rows(monkeypatch, tmp_path):
    """Adding a metric is one class: it shows up in the record and the long-form rows."""
    monkeypatch.setattr(METRICS, "_entries", dict(METRICS._entries))

    @METRICS.register("max_abs_error")
    class MaxAbsError(Metric):
        name = "max_abs_error"

        def compute(self, pred, truth, ctx):
            return float((pred - truth).abs().max())

    task = make_task()
    data = load_dataset(resolve_task(task, "smoke"), cache_dir=tmp_path, progress=False)
    evaluation = _scored("persistence", task, "smoke", data)
    test = data.splits["test"]
    for m in evaluation.metrics:
        diff = data.denormalize(test.inputs[m.resolution].double()) - data.denormalize(
            test.targets[m.resolution].double()
        )
        assert m.extra["max_abs_error"] == pytest.approx(float(diff.abs().max()), rel=1e-12)
    record = RunRecord(
        run_id="r", kind="reference", task="t", baseline="persistence", backbone="persistence",
        size="", frl="off", seed=0, profile="smoke", status="ok", metrics=evaluation.metrics,
    )  # fmt: skip
    rows = records_to_rows([RunRecord.from_dict(json.loads(json.dumps(record.to_dict())))])
    assert all("max_abs_error" in row and "rmse[c0]" in row for row in rows)
    # ... and in the rendered leaderboard, with no report code knowing its name.
    from frlbench.records import write_record
    from frlbench.report import render_report

    record.train_resolution = 8
    write_record(tmp_path / "out" / "runs" / "r" / "record.json", record)
    render_report(tmp_path / "out", figures=False)
    assert "max_abs_error" in (tmp_path / "out" / "leaderboard.md").read_text()
    assert "max_abs_error" in (tmp_path / "out" / "leaderboard.csv").read_text().splitlines()[0]


def test_evaluate_fields_is_the_sum_of_its_metric_classes():
    task = make_task(ndim=2, channels=2)
    torch.manual_seed(0)
    truth = torch.randn(3, 2, 16, 16, dtype=torch.float64)
    pred = truth + 0.1 * torch.randn_like(truth)
    m = metrics.evaluate_fields(pred, truth, task, 16, 8, trajectories=[[0, 1], [2]])
    assert isinstance(m, ResolutionMetrics)
    assert m.rmse == pytest.approx(metrics.rmse(pred, truth))
    assert m.mse_seen + m.mse_unseen == pytest.approx(m.rmse**2, rel=1e-9)
    assert m.rmse_per_trajectory == pytest.approx(
        [metrics.rmse(pred[:2], truth[:2]), metrics.rmse(pred[2:], truth[2:])]
    )
    assert m.acc is None and m.extra == {}


def test_schema_1_records_load_and_na_becomes_not_applicable():
    v1 = RunRecord(
        run_id="x", kind="reference", task="t", baseline="solver", backbone="solver", size="",
        frl="off", seed=0, profile="smoke", status="failed", reason="n/a: no solver here",
    ).to_dict()  # fmt: skip
    for key in ("reference_resolution", "evaluation", "evaluation_history"):
        v1.pop(key)
    v1["schema"] = 1
    v1["metrics"] = [{"resolution": 8, "rmse": 0.1, "rel_l2": 0.2}]
    record = RunRecord.from_dict(v1)
    assert record.status == "not_applicable" and record.reason == "no solver here"
    assert record.metrics[0].rmse_per_trajectory == [] and record.metrics[0].extra == {}
    v1["status"], v1["reason"] = "failed", "RuntimeError: boom"
    assert RunRecord.from_dict(v1).status == "failed"


@pytest.fixture(scope="module")
def quick_fluid3d(tmp_path_factory):
    """The quick profile's data, built once for both references (about 95 s on 2 cores)."""
    task = _fluid3d()
    cache = tmp_path_factory.mktemp("quick-cache")
    return task, load_dataset(resolve_task(task, "quick"), cache_dir=cache, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["persistence", "solver"])
def test_quick_profile_matches_the_committed_leaderboard(quick_fluid3d, name):
    """The quick profile's reference rows in results/leaderboard.csv (written before the
    evaluation layer existed) are reproduced."""
    task, data = quick_fluid3d
    with (ROOT / "results" / "leaderboard.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["baseline"] == name and r["profile"] == "quick"]
    assert rows
    got = {m.resolution: m for m in _scored(name, task, "quick", data).metrics}
    reference = task.profiles["quick"].reference_resolution
    for row in rows:
        res = int(row["resolution"])
        if name == "solver" and res >= reference:
            assert res not in got  # the solver is no longer scored against itself
            continue
        assert got[res].rmse == pytest.approx(float(row["rmse"]), rel=1e-6)
        assert got[res].mse_seen == pytest.approx(float(row["mse_seen"]), rel=1e-6, abs=1e-15)
