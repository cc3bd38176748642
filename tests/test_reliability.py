"""Reliability pieces on their own: run locks, weights checksums, disk-full reasons, the
backbone shape check, the error boundary's debug and internal-error paths, Markdown escaping and
the report manifest."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from frlbench.cli import app
from frlbench.errors import UserError, describe_failure
from frlbench.records import RunRecord, read_record, write_record
from frlbench.registry import BACKBONES, register_backbone
from frlbench.report.document import Table, markdown_escape, to_markdown
from frlbench.report.manifest import read_manifest, write_manifest
from frlbench.runner import plan
from frlbench.runner.execute import execute_run
from frlbench.runner.lock import RunLock
from frlbench.runner.store import RunStore
from frlbench.safeio import UnsafePathError
from frlbench.spec import BackboneSpec, FRLConfig, RunSpec, TrainSettings
from frlbench.validate import check_backbone_output

from .conftest import make_task


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_lock_is_exclusive_and_released(tmp_path: Path):
    first, second = RunLock(tmp_path / "run"), RunLock(tmp_path / "run")
    assert first.acquire()
    assert (tmp_path / "run" / ".lock").read_text().split()[0] == str(os.getpid())
    assert not second.acquire()  # held by a live process (this one)
    first.release()
    assert second.acquire()
    second.release()
    assert not (tmp_path / "run" / ".lock").exists()


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path):
    (tmp_path / ".lock").write_text(f"{_dead_pid()} {socket.gethostname()}\n")
    lock = RunLock(tmp_path)
    assert lock.acquire()
    assert (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())
    lock.release()


def test_lock_of_another_host_is_respected(tmp_path: Path):
    (tmp_path / ".lock").write_text(f"{_dead_pid()} some-other-host\n")
    lock = RunLock(tmp_path)
    assert not lock.acquire() and not lock.taken_over


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"", "does not hold"),  # a lock is linked in whole: never seen half-written
        (b"abc host\n", "does not hold"),
        (b"\xff\xfe host\n", "does not hold"),
        (b"12345\n", "does not hold"),
        (b"-1 host\n", "pid -1 is not a possible"),
        (b"0 host\n", "pid 0 is not a possible"),
        (b"99999999999999999999999 host\n", "not a possible"),  # os.kill: OverflowError
        (f"{2**40} {socket.gethostname()}\n".encode(), "not a possible"),
    ],
)
def test_an_impossible_lock_is_stale_and_taken_over_with_a_line(
    tmp_path: Path, content: bytes, why: str
):
    (tmp_path / ".lock").write_bytes(content)
    lock = RunLock(tmp_path)
    assert lock.acquire()
    assert why in lock.taken_over and str(tmp_path / ".lock") in lock.taken_over
    assert (tmp_path / ".lock").read_text().split()[0] == str(os.getpid())
    lock.release()


def test_a_lock_is_never_taken_through_a_symlinked_run_folder(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out" / "runs").mkdir(parents=True)
    (tmp_path / "out" / "runs" / "r1").symlink_to(elsewhere)
    with pytest.raises(UnsafePathError, match="symlink"):
        RunLock(tmp_path / "out" / "runs" / "r1", tmp_path / "out").acquire()
    assert list(elsewhere.iterdir()) == []


def _spec(backbone: str = "probe_conv") -> RunSpec:
    baseline = BackboneSpec(
        name="b", backbone=backbone, defaults=TrainSettings(size="tiny", epochs=1, batch_size=2)
    )
    return RunSpec(make_task(), baseline, FRLConfig(name="off"), seed=0, profile="smoke").resolve()


def _record(spec: RunSpec, **kwargs) -> RunRecord:
    return RunRecord(
        run_id=spec.run_id, kind="model", task=spec.task.name, baseline=spec.baseline.name,
        backbone=spec.baseline.backbone, size="tiny", frl="off", seed=0, profile="smoke",
        status="ok", **kwargs,
    )  # fmt: skip


def test_weights_checksum_is_recorded_and_verified(tmp_path: Path):
    store, spec = RunStore(tmp_path), _spec()
    store.save(_record(spec), {"w": torch.ones(3)})
    record = store.read(spec.run_id)
    assert len(record.weights_sha256) == 64
    assert store.state(spec.run_id) == "done"
    store.weights_path(spec.run_id).write_bytes(b"flipped bits")
    assert store.state(spec.run_id) == "corrupt"
    todo, skipped, corrupt = plan([spec], store)
    assert todo == [spec] and skipped == 0 and len(corrupt) == 1  # reported and redone
    assert not store.weights_path(spec.run_id).exists()
    assert list(store.run_dir(spec.run_id).glob("weights.pt.corrupt-*"))


def test_old_record_gets_a_checksum_once_its_weights_load(tmp_path: Path):
    store, spec = RunStore(tmp_path), _spec()
    store.save(_record(spec), {"w": torch.ones(3)})
    data = json.loads(store.record_path(spec.run_id).read_text())
    del data["weights_sha256"]  # written before checksums existed
    store.record_path(spec.run_id).write_text(json.dumps(data))
    assert store.state(spec.run_id) == "done"  # never retrained for lacking it
    assert len(store.read(spec.run_id).weights_sha256) == 64
    # An old record whose weights do not load is redone, and gets no checksum.
    store.record_path(spec.run_id).write_text(json.dumps(data))
    store.weights_path(spec.run_id).write_bytes(b"garbage")
    assert store.state(spec.run_id) == "corrupt"
    assert "weights_sha256" not in json.loads(store.record_path(spec.run_id).read_text())


def test_a_second_command_leaves_a_locked_run_alone(tmp_path: Path):
    store, spec = RunStore(tmp_path), _spec()
    locks: list[RunLock] = []
    assert plan([spec], store, locks)[0] == [spec]
    busy: list[str] = []
    todo, skipped, _ = plan([spec], store, [], busy)  # as a concurrent `frlbench run` would
    assert todo == [] and skipped == 0 and busy == [spec.run_id]
    for lock in locks:
        lock.release()
    assert plan([spec], store, [], [])[0] == [spec]


def test_disk_full_is_recorded_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/cache/x.pt")
    assert describe_failure(full).startswith("disk full (ENOSPC): /data/cache/x.pt")

    def fill(*args, **kwargs):
        raise full

    monkeypatch.setattr("frlbench.runner.execute.train_and_evaluate", fill)
    record = execute_run(_spec(), tmp_path)
    assert record["status"] == "failed" and record["reason"].startswith("disk full (ENOSPC)")

    # The disk fills while the weights are written: the record still says why.
    monkeypatch.setattr(
        "frlbench.runner.execute.train_and_evaluate",
        lambda spec, **k: (_record(spec), {"w": torch.ones(2)}),
    )
    monkeypatch.setattr("frlbench.runner.store.torch.save", fill)
    record = execute_run(_spec(), tmp_path / "b")
    assert record["reason"].startswith("disk full (ENOSPC)")
    assert read_record(RunStore(tmp_path / "b").record_path(_spec().run_id)).status == "failed"


class WrongChannels(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x], dim=1)


def build_wrong_shape(spec, task, in_channels, out_channels):
    return WrongChannels()


@pytest.fixture
def wrong_shape_backbone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registers ``probe_wrong_shape`` for one test only (the registry-wide tests never see it)."""
    monkeypatch.setattr(BACKBONES, "_entries", dict(BACKBONES._entries))
    register_backbone("probe_wrong_shape", family="test", sizes=("tiny",))(build_wrong_shape)


@pytest.mark.usefixtures("wrong_shape_backbone")
def test_backbone_output_shape_is_checked_before_training(tmp_path: Path):
    with pytest.raises(UserError) as info:
        check_backbone_output(
            WrongChannels(), torch.zeros(1, 1, 8, 8), 1, backbone="wb", baseline="b"
        )
    message = str(info.value)
    assert "'wb'" in message and "(1, 2, 8, 8)" in message and "expected (1, 1, 8, 8)" in message
    record = execute_run(_spec("probe_wrong_shape"), tmp_path / "out", cache_dir=tmp_path / "c")
    assert record["status"] == "failed" and record["steps"] == 0
    assert "backbone 'probe_wrong_shape'" in record["reason"] and "expected" in record["reason"]


def test_shape_check_leaves_the_random_state_alone():
    torch.manual_seed(0)
    check_backbone_output(nn.Dropout(0.5), torch.ones(1, 1, 4), 1, backbone="d", baseline="d")
    after = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(1))


@pytest.mark.parametrize("how", ["env", "option"])
def test_debug_shows_the_traceback(how: str):
    args = ["run", "--backbone", "x", "--device", "gpu"]
    env = {"FRLBENCH_DEBUG": "1"} if how == "env" else {}
    result = CliRunner().invoke(app, ["--debug", *args] if how == "option" else args, env=env)
    assert result.exit_code == 2
    assert "Traceback" in result.output and "--device 'gpu'" in result.output


def test_an_unexpected_error_is_called_a_bug(monkeypatch: pytest.MonkeyPatch):
    def bug(*args, **kwargs):
        raise ZeroDivisionError("oops")

    monkeypatch.setattr("frlbench.cli.shell.load_catalog", bug)
    result = CliRunner().invoke(app, ["list", "tasks"])
    assert result.exit_code == 70
    assert "Traceback" not in result.output
    assert "internal error: ZeroDivisionError: oops" in result.output and "--debug" in result.output


def test_markdown_escapes_user_text():
    assert markdown_escape("a|b*c*[x](y)`z`<script>") == r"a\|b\*c\*\[x\](y)\`z\`\<script>"
    assert markdown_escape("< 16 and 1.5 × faster") == "< 16 and 1.5 × faster"
    table = Table(title="", columns=["Backbone"], rows=[["<img src=x onerror=alert(1)>"]])
    assert "\\<img" in to_markdown([table])


def test_report_manifest_ignores_paths_outside_the_results(tmp_path: Path):
    write_manifest(tmp_path, [tmp_path / "leaderboard.md", tmp_path / "figures" / "a.png"])
    assert read_manifest(tmp_path) == [tmp_path / "figures" / "a.png", tmp_path / "leaderboard.md"]
    (tmp_path / ".frlbench-report-manifest.json").write_text(
        json.dumps({"outputs": ["../outside.txt", "/etc/passwd", 3, "ok.csv"]})
    )
    assert read_manifest(tmp_path) == [tmp_path / "ok.csv"]


@pytest.mark.parametrize("key", ["weights_sha256", "data_source"])
def test_record_without_a_newer_key_still_loads(tmp_path: Path, key: str):
    """Records written before the checksum or the data source existed."""
    spec = _spec()
    path = tmp_path / "record.json"
    write_record(path, _record(spec, **{key: "set"}))
    data = json.loads(path.read_text())
    del data[key]
    path.write_text(json.dumps(data))
    assert getattr(read_record(path), key) == ""
