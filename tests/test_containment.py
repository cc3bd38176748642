"""Writes stay inside the named root and never go through a symlink; real storage faults (a
full ``/dev/full``, a full file system seen by ``statvfs``, a size-limited tmpfs) are named as
such; a forecast holding NaN is ``diverged``; control characters never reach the terminal."""

from __future__ import annotations

import errno
import gc
import io
import multiprocessing as mp
import os
import signal
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from frlbench.errors import describe_failure
from frlbench.records import (
    RecordError,
    ResolutionMetrics,
    RunRecord,
    iter_records,
    model_record,
    write_record,
)
from frlbench.registry import BACKBONES, register_backbone
from frlbench.report.aggregate import build_leaderboard
from frlbench.runner.execute import execute_run
from frlbench.runner.local import _start_ignoring_sigint
from frlbench.runner.store import RunStore
from frlbench.safeio import UnsafePathError, as_storage_error, atomic_path, write_atomic
from frlbench.spec import BackboneSpec, FRLConfig, RunSpec, TrainSettings
from frlbench.terminal import SafeConsole, SafeTable, printable
from frlbench.validate import parse_ints

from .conftest import make_task

TORCH_FULL = "[enforce fail at inline_container.cc:626] . unexpected pos 4416 vs 4310"


def _spec() -> RunSpec:
    baseline = BackboneSpec(
        name="b", backbone="probe_conv", defaults=TrainSettings(size="tiny", epochs=1, batch_size=2)
    )
    return RunSpec(make_task(), baseline, FRLConfig(name="off"), seed=0, profile="smoke").resolve()


def _record(spec: RunSpec) -> RunRecord:
    return model_record(spec)


# --- containment ---------------------------------------------------------------------------


def test_write_is_atomic_and_replaces(tmp_path: Path):
    target = tmp_path / "root" / "a" / "b.txt"
    write_atomic(target, "one", root=tmp_path / "root")
    write_atomic(target, b"two", root=tmp_path / "root")
    assert target.read_text() == "two"
    assert [p.name for p in target.parent.iterdir()] == ["b.txt"]  # no temporary left


def test_a_symlinked_file_is_refused_and_its_target_kept(tmp_path: Path):
    mine = tmp_path / "my_notes.md"
    mine.write_text("precious")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "leaderboard.md").symlink_to(mine)
    with pytest.raises(UnsafePathError, match=r"leaderboard\.md") as info:
        write_atomic(tmp_path / "out" / "leaderboard.md", "x", root=tmp_path / "out")
    assert "symlink" in str(info.value)
    assert mine.read_text() == "precious"


def test_a_symlinked_folder_below_the_root_is_refused(tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "figures").symlink_to(elsewhere)
    target = tmp_path / "out" / "figures" / "f.png"
    with (
        pytest.raises(UnsafePathError, match="figures"),
        atomic_path(target, root=tmp_path / "out") as tmp,
    ):
        tmp.write_bytes(b"png")
    assert list(elsewhere.iterdir()) == []


def test_a_symlinked_root_is_legitimate(tmp_path: Path):
    disk = tmp_path / "big_disk"
    disk.mkdir()
    (tmp_path / "results").symlink_to(disk)
    store = RunStore(tmp_path / "results")  # resolved once, following the link
    spec = _spec()
    store.save(_record(spec), {"w": torch.ones(2)})
    assert (disk / "runs" / spec.run_id / "record.json").is_file()


def test_a_symlinked_run_folder_is_neither_read_nor_written(tmp_path: Path):
    store, spec = RunStore(tmp_path / "out"), _spec()
    outside = tmp_path / "outside"
    write_record(outside / "record.json", _record(spec))
    before = (outside / "record.json").read_bytes()
    store.runs_dir.mkdir(parents=True)
    store.run_dir(spec.run_id).symlink_to(outside)
    with pytest.raises(RecordError, match="symlink"):
        store.read(spec.run_id)
    with pytest.raises(UnsafePathError):
        store.save(_record(spec), None)
    ((_, item),) = list(iter_records(store.runs_dir))
    assert isinstance(item, RecordError) and "symlink" in str(item)
    assert (outside / "record.json").read_bytes() == before


# --- storage faults ------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
def test_dev_full_is_a_full_disk_and_the_old_file_stays(tmp_path: Path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"finished")

    def to_dev_full(tmp: Path) -> None:
        with open("/dev/full", "wb") as fh:
            fh.write(b"x" * 4096)
            fh.flush()

    with pytest.raises(OSError) as info:
        write_atomic(target, to_dev_full, root=tmp_path)
    assert info.value.errno == errno.ENOSPC
    assert describe_failure(info.value).startswith("disk full (ENOSPC)")
    assert target.read_bytes() == b"finished"
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]


def _statvfs(free_blocks: int):
    return lambda path: SimpleNamespace(f_bavail=free_blocks, f_frsize=4096)


def test_torch_full_disk_error_is_rechecked_with_statvfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    def save(*args, **kwargs):
        raise RuntimeError(TORCH_FULL)

    monkeypatch.setattr("frlbench.runner.store.torch.save", save)
    store, spec = RunStore(tmp_path), _spec()
    monkeypatch.setattr(os, "statvfs", _statvfs(0))
    with pytest.raises(OSError) as info:
        store.save(_record(spec), {"w": torch.ones(2)})
    assert info.value.errno == errno.ENOSPC and "weights.pt" in str(info.value.filename)
    assert not list(store.run_dir(spec.run_id).glob(".*tmp"))  # the partial file is gone
    # The same message with free space left is not taken for a full disk: the text is not trusted.
    monkeypatch.setattr(os, "statvfs", _statvfs(10**6))
    with pytest.raises(RuntimeError, match="enforce fail"):
        store.save(_record(spec), {"w": torch.ones(2)})
    assert as_storage_error(RuntimeError(TORCH_FULL), tmp_path) is None


def test_a_run_whose_weights_hit_a_full_disk_is_recorded_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(
        "frlbench.runner.execute.train_and_evaluate",
        lambda spec, **k: (_record(spec), {"w": torch.ones(2)}),
    )
    monkeypatch.setattr("frlbench.runner.store.torch.save", lambda *a, **k: 1 / 0)
    monkeypatch.setattr(os, "statvfs", _statvfs(3))
    record = execute_run(_spec(), tmp_path)
    assert record["status"] == "failed" and record["reason"].startswith("disk full (ENOSPC)")
    assert "weights.pt" in record["reason"] and "\n" not in record["reason"]


@pytest.mark.parametrize("code", [errno.EIO, errno.EROFS])
def test_io_errors_are_named_in_one_line(code: int):
    reason = describe_failure(OSError(code, os.strerror(code), "/r/runs/x/weights.pt"))
    assert reason.startswith(f"storage error ({errno.errorcode[code]})") and "\n" not in reason


@pytest.mark.slow
def test_a_real_full_tmpfs(tmp_path: Path):
    """A 1 MiB tmpfs: writing 4 MiB of weights fails as ENOSPC, nothing partial is left, and
    the files finished before stay (skipped, saying why, where mounting is not allowed)."""
    mount = tmp_path / "small"
    mount.mkdir()
    result = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({result.stderr.strip() or 'not permitted'})")
    try:
        store, spec = RunStore(mount), _spec()
        store.save(_record(spec), {"w": torch.ones(8)})
        kept = store.weights_path(spec.run_id).read_bytes()
        with pytest.raises(OSError) as info:
            store.save(_record(spec), {"w": torch.ones(2**20)})  # 4 MiB
        assert info.value.errno == errno.ENOSPC
        assert store.weights_path(spec.run_id).read_bytes() == kept
        assert store.state(spec.run_id) == "done"
        assert not list(store.run_dir(spec.run_id).glob(".*tmp"))
    finally:
        gc.collect()  # torch's failed writer may still hold its (deleted) file open
        if subprocess.run(["umount", str(mount)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mount)], check=False)


def test_pool_workers_start_with_ctrl_c_ignored():
    """Ctrl-C to the process group reaches only the parent: a worker, even one still
    importing, ignores SIGINT (the ignored disposition survives the spawn's exec)."""
    proc = mp.get_context("spawn").Process(target=time.sleep, args=(30,))
    before = signal.getsignal(signal.SIGINT)  # pytest's handler, or SIG_IGN in a background job
    _start_ignoring_sigint(proc)
    try:
        assert signal.getsignal(signal.SIGINT) is before  # restored here
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGINT)
        proc.join(timeout=0.5)
        assert proc.is_alive()
    finally:
        proc.terminate()
        proc.join()


# --- numbers and inputs ----------------------------------------------------------------------


class NaNOnFineGrids(nn.Module):
    def __init__(self, ndim: int, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x * self.scale
        return out * float("nan") if x.shape[-1] > 8 else out


def build_nan_fine(spec, task, in_channels, out_channels):
    return NaNOnFineGrids(task.ndim, out_channels)


def test_non_finite_metrics_mark_a_record_diverged():
    rec = _record(_spec())
    rec.metrics = [ResolutionMetrics(8, 0.1, 0.1), ResolutionMetrics(16, float("inf"), 0.1)]
    rec.metrics.append(ResolutionMetrics(32, 0.2, 0.1, rollout_rmse=[0.2, float("nan")]))
    assert rec.mark_non_finite()
    assert rec.status == "diverged"
    assert rec.reason == "non-finite forecast (NaN or inf) at test grid 16, 32"
    assert not rec.mark_non_finite()  # once


@pytest.mark.slow
def test_a_forecast_with_nan_at_a_test_grid_is_diverged(tmp_path: Path):
    """End to end: trains one tiny run (seconds on a quiet machine). The backbone is registered
    here, not at import, so the registry-wide model tests never collect it."""
    if not BACKBONES.list("probe_nan_fine"):
        register_backbone("probe_nan_fine", family="test", sizes=("tiny",))(build_nan_fine)
    baseline = BackboneSpec(
        name="nanfine",
        backbone="probe_nan_fine",
        defaults=TrainSettings(size="tiny", epochs=1, batch_size=2),
    )
    spec = RunSpec(make_task(), baseline, FRLConfig(name="off"), seed=0, profile="smoke").resolve()
    record = execute_run(spec, tmp_path, device="cpu")
    assert record["status"] == "diverged"
    assert record["reason"] == "non-finite forecast (NaN or inf) at test grid 16"


def test_a_configuration_with_a_diverged_seed_gets_no_numbers(tmp_path: Path):
    spec = _spec()
    records = []
    for frl in ("off", "full"):
        for seed in range(3):
            rec = _record(spec)
            rec.seed, rec.run_id, rec.train_resolution, rec.frl = seed, f"{frl}{seed}", 8, frl
            rec.metrics = [ResolutionMetrics(8, 0.1, 0.1), ResolutionMetrics(16, 0.1, 0.1)]
            records.append(rec)
    records[2].status, records[2].reason = "diverged", "non-finite forecast (NaN) at test grid 16"
    board = build_leaderboard(records)
    rows = {row["frl"]: row for row in board.summary.to_dict("records")}
    assert rows["off"]["label"] == "1 of 3 seeds diverged (grid 16)"
    assert rows["off"]["n_seeds"] == 2
    assert all(pd_isnan(rows["off"][c]) for c in ("rmse_finest", "rmse_ratio_mean", "slope_mean"))
    assert set(board.per_resolution["frl"]) == {"full"}  # no mean at any grid
    assert rows["full"]["rmse_ratio_mean"] == pytest.approx(1.0)


def pd_isnan(value: object) -> bool:
    return isinstance(value, float) and value != value


def test_list_seeds_split_on_commas_and_whitespace():
    assert parse_ints("0 1", "--seeds") == [0, 1]
    assert parse_ints(" 2,\t3 ,4", "--seeds") == [2, 3, 4]


def test_terminal_output_strips_control_characters():
    hostile = "ok\x1b[2J\x1b]0;pwned\x07 text\x08\x9b31m\x00!"
    assert printable(hostile) == "ok text!"
    buffer = io.StringIO()
    console = SafeConsole(file=buffer, force_terminal=False, width=80)
    table = SafeTable()
    table.add_column("x")
    table.add_row(hostile)
    console.print(hostile, table)
    assert "\x1b" not in buffer.getvalue() and "ok text!" in buffer.getvalue()
