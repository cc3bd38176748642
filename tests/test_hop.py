"""The resolution-transfer selection (``frlbench tune --hop``): its data, its scaled options,
its grid, its choice rules and its resumable score file."""

from __future__ import annotations

import dataclasses
import json
import math
import tomllib

import pytest
import torch

from frlbench import spectral
from frlbench.registry import BASELINES, FRL_VARIANTS, TASKS
from frlbench.spec import ConfigError, RunSpec, resolve_task
from frlbench.tools.hop import (
    HopConfig,
    HopJob,
    HopResult,
    hop_dataset,
    hop_options,
    hop_task,
    run_config,
    search_grid,
)
from frlbench.tools.hop_search import plan_jobs, read_scores, write_scores
from frlbench.tools.hop_select import choose, choose_arm, ranking_tau, task_unusable
from frlbench.train import validation_rmse


@pytest.fixture(scope="module")
def catalog():
    """The built-in catalog (tasks, baselines), loaded once."""
    from frlbench.catalog import Catalog

    Catalog.default().load()


def _result(arm, variant, lr, score, *, seed=0, current=False, task="t", baseline="b", status="ok"):
    return HopResult(
        key=f"{task}/{baseline}/{variant}@{lr:g}/s{seed}", task=task, baseline=baseline, arm=arm,
        variant=variant, lr=lr, seed=seed, current=current, score=score, persistence=1.0,
        best_step=1, steps=1, train_s=0.0, grids=(8, 16), options={}, status=status,
    )  # fmt: skip


def test_hop_dataset_trains_at_half_and_validates_at_rho0(fluid3d_smoke):
    spec, data, _cache = fluid3d_smoke
    task = resolve_task(spec, "smoke")
    hop = hop_dataset(data, task)
    rho0 = task.train_resolution
    assert hop.train_resolution == rho0 // 2 and hop.validation_resolution == rho0
    assert set(hop.splits) == {"train", "val"}
    x = data.splits["train"].inputs[rho0]
    expected = spectral.truncate(x, task.grid_shape(rho0 // 2))
    torch.testing.assert_close(hop.splits["train"].inputs[rho0 // 2], expected)
    assert torch.equal(hop.splits["val"].targets[rho0], data.splits["val"].targets[rho0])
    # validation is scored at ρ0: the identity model scores persistence there
    identity = torch.nn.Identity()
    val = data.splits["val"]
    persistence = torch.sqrt(torch.mean((val.inputs[rho0] - val.targets[rho0]) ** 2))
    assert validation_rmse(identity, hop, torch.device("cpu")) == pytest.approx(float(persistence))
    assert hop_task(task).train_resolution == rho0 // 2


def test_grid_sized_options_follow_the_hops_grid(catalog):
    fno = BASELINES.get("fno")
    assert hop_options(fno, {"n_modes": 64, "hidden_channels": 12}, 0.5) == {
        "n_modes": 32,
        "hidden_channels": 12,
    }
    assert hop_options(fno, {}, 0.5)["n_modes"] * 2 == hop_options(fno, {}, 1.0)["n_modes"]
    assert hop_options(BASELINES.get("gnn"), {"radius": 1 / 64}, 0.5) == {"radius": 1 / 32}
    assert hop_options(BASELINES.get("cnn"), {}, 0.5) == {}


def test_search_grid_has_nine_full_and_three_off_configurations(catalog):
    grid = search_grid(BASELINES.get("cnn"), "fluid3d", "quick")
    full = [c for c in grid if c.arm == "full"]
    off = [c for c in grid if c.arm == "off"]
    assert len(full) == 9 and len(off) == 3 and len(set(grid)) == 12
    assert sum(c.current for c in full) == 1 and sum(c.current for c in off) == 1
    assert {c.lr for c in off} == {1e-3, 3e-3, 1e-2}
    jobs = plan_jobs(["fluid3d"], ["cnn"], [0, 1], "quick")
    assert len(jobs) == 24 and len({j.key for j in jobs}) == 24


def test_choice_rules():
    rows = [
        _result("full", "full", 0.003, 0.500, current=True),
        _result("full", "full-m8", 0.003, 0.499),  # within 0.5%: today's setting keeps it
        _result("full", "full-cons0", 0.003, 1.2),
        _result("off", "off", 0.003, 0.60, current=True),
        _result("off", "off", 0.01, 0.50),  # clearly better: chosen
        _result("off", "off", 0.001, math.nan, status="diverged"),
    ]
    assert (choose_arm(rows, "full", 1.0).variant, choose_arm(rows, "full", 1.0).how) == (
        "full",
        "hop",
    )
    off = choose_arm(rows, "off", 1.0)
    assert (off.lr, off.how, off.score, off.current_score) == (0.01, "hop", 0.50, 0.60)
    # nothing below persistence: today's setting, labelled as the fallback
    fallback = choose_arm(rows, "off", 0.4)
    assert (fallback.lr, fallback.how) == (0.003, "rho0")


def test_kendall_check_falls_back_for_the_whole_task():
    scores = [0.1, 0.2, 0.3, 0.4]
    agree = [_result("full", f"v{i}", 0.01, s, current=i == 0) for i, s in enumerate(scores)]
    agree += [_result("full", f"v{i}", 0.01, s, seed=1) for i, s in enumerate(scores)]
    reversed_ = [_result("full", f"v{i}", 0.01, s, seed=1) for i, s in enumerate(scores[::-1])]
    assert ranking_tau(agree) == pytest.approx(1.0)
    assert ranking_tau(agree[:4] + reversed_) == pytest.approx(-1.0)
    off = [_result("off", "off", 0.01, 0.9, current=True, baseline=b) for b in ("a", "b")]
    good = [dataclass_copy(r, baseline="a") for r in agree] + off[:1]
    bad = [dataclass_copy(r, baseline="b") for r in agree[:4] + reversed_] + off[1:]
    choices = choose(good + bad)
    assert task_unusable("t", choices)  # 1 of 2 baselines disagrees: half
    assert all(a.how == "rho0" for c in choices for a in c.arms.values())


def dataclass_copy(result, **changes):
    """``result`` for another baseline, its key following."""
    baseline = changes.get("baseline", result.baseline)
    key = f"{result.task}/{baseline}/{result.variant}/s{result.seed}"
    return dataclasses.replace(result, key=key, **changes)


def test_scores_file_round_trips_and_refuses_foreign_content(tmp_path):
    rows = [_result("off", "off", 0.01, 0.5), _result("full", "full", 0.01, math.nan)]
    write_scores(tmp_path, rows)
    back = read_scores(tmp_path)
    assert [r.key for r in back] == sorted(r.key for r in rows)
    assert math.isnan(next(r for r in back if r.arm == "full").score)
    (tmp_path / "scores.jsonl").write_text(json.dumps({"not": "a result"}) + "\n")
    with pytest.raises(ConfigError, match=r"scores\.jsonl, line 1"):
        read_scores(tmp_path)


def test_run_config_trains_at_half_and_scores_at_rho0(catalog, tmp_path):
    job = HopJob("era5", "smoke", "cnn", HopConfig("off", "off", 1e-2, current=True), 0)
    result = run_config(job, cache_dir=tmp_path)
    assert result.status == "ok", result.reason
    assert result.grids == (8, 16) and result.steps > 0
    assert math.isfinite(result.score) and math.isfinite(result.persistence)


def test_chosen_settings_land_in_the_toml_for_both_arms_and_the_ablations(catalog):
    from frlbench.tools.hop_apply import chosen_changes, kept_changes, tables_for

    assert chosen_changes("full") == {} and chosen_changes("full-m8") == {"encoding_frequencies": 8}
    m8 = {"encoding_frequencies": 8}
    assert kept_changes("encoding-only", m8) == m8 and kept_changes("multires-only", m8) == {}
    physical = {"encoding_convention": "physical"}
    assert kept_changes("encoding-only-physical", physical) == {}  # its own defining setting
    assert kept_changes("loss-only", {"lambda_cons": 1.0}) == {"lambda_cons": 1.0}
    choice = {
        "task": "fluid3d",
        "arms": {
            "off": {"variant": "off", "lr": 0.01, "how": "hop"},
            "full": {"variant": "full-m8", "lr": 0.001, "how": "hop"},
        },
    }
    text = "\n\n".join(tables_for(choice, "quick", {"off": 0.003, "full": 0.003}))
    frl = tomllib.loads(text)["profiles"]["quick"]["tasks"]["fluid3d"]["frl"]
    assert frl["full"] == {"lr": 0.001, "selected_by": "hop", "frl_settings": m8}
    assert frl["off"] == {"lr": 0.01, "selected_by": "hop"}
    assert frl["encoding-only"]["frl_settings"] == m8 and "frl_settings" not in frl["loss-only"]
    assert frl["full-rho0"] == {"lr": 0.003} and frl["off-rho0"] == {"lr": 0.003}
    # a baseline with these tables trains full-m8's settings under the name full
    cnn = BASELINES.get("cnn")
    profiles = {
        **cnn.profiles,
        "quick": {**cnn.profiles["quick"], "tasks": {"fluid3d": {"frl": frl}}},
    }
    spec = dataclasses.replace(cnn, profiles=profiles)

    plan = RunSpec(TASKS.get("fluid3d"), spec, FRL_VARIANTS.get("full"), 0, "quick").resolve()
    assert plan.frl.name == "full" and plan.frl.encoding_frequencies == 8
    assert plan.settings.lr == 0.001 and plan.selection == "hop"
