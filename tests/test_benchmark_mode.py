"""Benchmark mode end to end on a tiny task: fresh records carry the fingerprint and version and
match the JSON Schema; ``frlbench publish`` never silently overwrites; a user's run is paired
with the published rows on the same data, unpaired (with the reason) on other data; ``data
--verify``; the default results folder."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

import frlbench.published
from frlbench import BENCHMARK_VERSION
from frlbench.cli import app
from frlbench.published import published_path, read_published
from frlbench.published.publish import encode
from frlbench.records import ResolutionMetrics, RunRecord, new_record, read_record
from frlbench.report import render_report
from tests.conftest import PROBE_BASELINE
from tests.test_runner import cli, make_project

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "docs" / "record.schema.json").read_text())


@pytest.fixture(scope="module")
def published_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose smoke grid (probe_conv, FRL off, seeds 0 and 1, references) ran."""
    project = make_project(tmp_path_factory.mktemp("bench") / "proj")
    (project / "baselines" / "my_model.toml").write_text(
        PROBE_BASELINE.format(epochs=2, backbone="probe_conv")
    )
    result = cli(project, "run", "--task", "adv", "--backbone", "probe_conv", "--profile",
                 "smoke", "--frl", "off", "--seeds", "0,1", "--out", str(project / "maintainer"),
                 "--no-progress", "--no-report")  # fmt: skip
    assert result.exit_code == 0, result.output
    return project


def publish(*args: str):
    """``frlbench publish`` (which loads no catalog)."""
    return CliRunner().invoke(app, ["publish", *args])


@pytest.fixture(scope="module")
def user_store(published_store: Path) -> Path:
    """The user's model (my_model), FRL off, seed 0, run without --out from the project."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(published_store)
        result = cli(published_store, "run", "--task", "adv", "--backbone", "my_model",
                     "--profile", "smoke", "--frl", "off", "--seeds", "0", "--no-progress",
                     "--no-report")  # fmt: skip
    assert result.exit_code == 0, result.output
    return published_store / "frlbench-results" / "smoke"


def board_of(out: Path, published: bool = True) -> str:
    """The leaderboard of ``out`` as Markdown (tables only: figures cost seconds)."""
    render_report(out, figures=False, published=published)
    return (out / "leaderboard.md").read_text()


def records_of(out: Path) -> list[RunRecord]:
    return [read_record(p) for p in sorted((out / "runs").glob("*/record.json"))]


def test_fresh_records_carry_fingerprint_version_numbers_and_match_the_schema(published_store):
    records = records_of(published_store / "maintainer")
    assert {r.kind for r in records} == {"model", "reference"}
    digests = {r.dataset_fingerprint["digest"] for r in records if r.status == "ok"}
    assert len(digests) == 1  # models and references scored on the same test data
    for path in (published_store / "maintainer" / "runs").glob("*/record.json"):
        data = json.loads(path.read_text())
        jsonschema.validate(data, SCHEMA)
        assert data["benchmark_version"] == BENCHMARK_VERSION
        assert isinstance(data["env"]["cpu_threads"], int)
        assert isinstance(data["env"]["evaluation_wall_s"], float)
        assert isinstance(data["train_time_s"], float)


def test_the_schema_lists_every_record_field():
    fields = set(RunRecord.__dataclass_fields__)
    assert set(SCHEMA["properties"]) == fields, "update docs/record.schema.json with the record"
    metrics = set(ResolutionMetrics.__dataclass_fields__)
    assert set(SCHEMA["$defs"]["resolution_metrics"]["properties"]) == metrics


def test_an_old_record_with_string_numbers_loads_with_numbers(published_store, tmp_path):
    (path,) = list((published_store / "maintainer" / "runs").glob("*/record.json"))[:1]
    data = json.loads(path.read_text())
    data["env"].update(cpu_threads="2", evaluation_wall_s="0.125")
    for key in ("dataset_fingerprint", "benchmark_version"):
        data.pop(key)
    old = tmp_path / "record.json"
    old.write_text(json.dumps(data))
    record = read_record(old)
    assert record.env["cpu_threads"] == 2 and record.env["evaluation_wall_s"] == 0.125
    assert record.benchmark_version == 0 and record.dataset_fingerprint is None
    data["env"]["cpu_threads"] = "two"
    old.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"record\.json"):
        read_record(old)


def test_publish_writes_once_and_never_silently_overwrites(published_store, tmp_path):
    to = tmp_path / "published"
    args = ["--from", str(published_store / "maintainer"), "--profile", "smoke", "--to", str(to)]
    first = publish(*args)
    assert first.exit_code == 0, first.output
    path = published_path("smoke", to)
    assert "KiB" in first.output and str(path) in first.output.replace("\n", "")
    again = publish(*args)
    assert again.exit_code == 2 and "exists" in again.output
    assert publish(*args, "--replace").exit_code == 0
    shipped = read_published(path)
    assert {r.run_id for r in shipped} == {
        r.run_id for r in records_of(published_store / "maintainer")
    }
    assert all("host" not in r.env and not r.evaluation_history for r in shipped)
    assert gzip.decompress(path.read_bytes()).count(b"\n") == len(shipped)


def _publish(project: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    result = publish("--from", str(project / "maintainer"), "--profile", "smoke", "--to", str(root))
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(frlbench.published, "published_dir", lambda: root)
    return published_path("smoke", root)


def test_a_user_model_is_paired_with_the_published_rows(
    published_store, user_store, tmp_path, monkeypatch
):
    _publish(published_store, tmp_path / "published", monkeypatch)
    board = board_of(user_store)
    assert "probe_conv (published)" in board and "my_model" in board
    assert "paired with your (local) rows" in board
    assert "Your models against the published ones" in board
    row = next(line for line in board.splitlines() if line.startswith("| my_model (off)"))
    assert "probe_conv (off)" in row
    assert "(published)" not in board_of(user_store, published=False)


def test_other_data_is_shown_unpaired_with_the_reason(
    published_store, user_store, tmp_path, monkeypatch
):
    path = _publish(published_store, tmp_path / "published", monkeypatch)
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    changed = []
    for line in lines:  # another machine's build: other bits, targets 1% larger at grid 16
        data = json.loads(line)
        if data["dataset_fingerprint"]:
            data["dataset_fingerprint"]["digest"] = "0" * 64
            for grid in data["dataset_fingerprint"]["grids"]:
                grid["rms"] *= 1.01 if grid["resolution"] == 16 else 1.0
        changed.append(json.dumps(data))
    path.write_bytes(gzip.compress(("\n".join(changed) + "\n").encode()))
    board = board_of(user_store)
    assert "unpaired (test data differ: at grid 16" in board
    assert "adv — smoke (published, unpaired)" in board
    assert "Your models against the published ones" not in board


def test_data_verify_compares_with_the_published_fingerprint(
    published_store, tmp_path, monkeypatch
):
    path = _publish(published_store, tmp_path / "published", monkeypatch)
    result = cli(published_store, "data", "adv", "--profile", "smoke", "--verify")
    assert result.exit_code == 0, result.output
    assert "match: data fingerprint" in result.output
    lines = [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
    for data in lines:
        if data["dataset_fingerprint"]:
            data["dataset_fingerprint"]["digest"] = "f" * 64
    path.write_bytes(gzip.compress("\n".join(json.dumps(d) for d in lines).encode()))
    result = cli(published_store, "data", "adv", "--profile", "smoke", "--verify")
    assert result.exit_code == 1 and "mismatch" in result.output, result.output
    monkeypatch.setattr(frlbench.published, "published_dir", lambda: tmp_path / "none")
    result = cli(published_store, "data", "adv", "--profile", "smoke", "--verify")
    assert result.exit_code == 2 and "nothing published" in result.output


def test_the_default_results_folder_is_per_profile_and_git_ignored(published_store, user_store):
    assert user_store == published_store / "frlbench-results" / "smoke"
    assert list((user_store / "runs").glob("*/record.json"))
    assert not (published_store / "results").exists()
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "frlbench-results/" in ignored


def test_published_records_are_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["frlbench"]
    assert "published/*/records.jsonl.gz" in patterns


@pytest.mark.slow
@pytest.mark.ci
def test_published_records_ship_in_the_wheel_and_load_from_any_directory(tmp_path):
    """A wheel built from the source tree holds the published records, and an installed copy
    (the unpacked wheel first on the path) reads them from an empty directory."""
    source = tmp_path / "src"
    shutil.copytree(
        ROOT / "frlbench", source / "frlbench", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    record = new_record(run_id="x-ref", kind="reference", task="adv", baseline="persistence",
                        profile="smoke", dataset_fingerprint=None)  # fmt: skip
    encoded = encode([record])
    (source / "frlbench" / "published" / "smoke").mkdir()
    (source / "frlbench" / "published" / "smoke" / "records.jsonl.gz").write_bytes(encoded)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("frlbench-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert "frlbench/published/smoke/records.jsonl.gz" in archive.namelist()
        archive.extractall(tmp_path / "installed")
    empty = tmp_path / "empty"
    empty.mkdir()
    code = (
        "import frlbench.published as p; print(p.published_dir()); "
        "print([r.run_id for r in p.published_records(['smoke'])])"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "installed")}
    out = subprocess.run([sys.executable, "-c", code], cwd=empty, env=env, check=True,
                         capture_output=True, text=True).stdout.split("\n")  # fmt: skip
    assert out[0] == str(tmp_path / "installed" / "frlbench" / "published")
    assert out[1] == "['x-ref']"


def test_a_reference_row_without_fingerprint_gains_one_on_the_next_run(published_store, tmp_path):
    out = tmp_path / "store"
    shutil.copytree(published_store / "maintainer", out)
    (path,) = [p for p in (out / "runs").glob("*-persistence-ref-*/record.json")]
    data = json.loads(path.read_text())
    digest = data.pop("dataset_fingerprint")["digest"]
    path.write_text(json.dumps(data))
    result = cli(published_store, "run", "--task", "adv", "--backbone", "probe_conv", "--profile",
                 "smoke", "--frl", "off", "--seeds", "0,1", "--out", str(out), "--no-progress",
                 "--no-report")  # fmt: skip
    assert result.exit_code == 0, result.output
    record = read_record(path)
    assert record.dataset_fingerprint["digest"] == digest
    assert record.evaluation_history[-1]["dataset_fingerprint"] is None
