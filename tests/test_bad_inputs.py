"""A catalog of bad inputs and faults, each run in-process through the CLI.

Every case asserts the exit code, that no traceback reaches the user, the key words of the
message, and that no file that existed before the command changed (or vanished). Faults a root
user cannot provoke with ``chmod`` (a read-only folder, a full disk) are injected at the write
call. One tiny trained run, shared by the module, is the only training.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from frlbench.cli import app
from tests.conftest import ADVECTION_TASK as TASK
from tests.conftest import PROBE_BASELINE, PROBES


def invoke(project: Path, args: list[str], env: dict[str, str] | None = None):
    base = {"FRLBENCH_CACHE": str(project / "cache"), "FRLBENCH_HOME": str(project)}
    return CliRunner().invoke(app, args, env={**base, **(env or {})})


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project (task, baseline, probe plugin) with one finished tiny run and its data."""
    root = tmp_path_factory.mktemp("bad") / "proj"
    (root / "tasks").mkdir(parents=True)
    (root / "baselines").mkdir()
    (root / "tasks" / "adv.toml").write_text(textwrap.dedent(TASK))
    shutil.copy(PROBES, root / "baselines" / "probe_backbones.py")
    (root / "baselines" / "probe_conv.toml").write_text(
        PROBE_BASELINE.format(epochs=1, backbone="probe_conv")
    )
    args = ["run", "--task", "adv", "--backbone", "probe_conv", "--profile", "smoke",
            "--frl", "off", "--seeds", "0", "--out", str(root / "results"), "--no-progress",
            "--no-report",
            "--no-references"]  # fmt: skip
    result = invoke(root, args)
    assert result.exit_code == 0, result.output
    (run_dir,) = [p.parent for p in (root / "results" / "runs").glob("*/record.json")]
    assert (run_dir / "weights.pt").is_file()
    return root


@dataclass
class Ctx:
    """What a case's setup works on: the project copy and its one finished run."""

    proj: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def out(self) -> Path:
        return self.proj / "results"

    @property
    def run(self) -> Path:
        return next(p.parent for p in (self.out / "runs").glob("*/record.json"))

    def record(self) -> dict:
        return json.loads((self.run / "record.json").read_text())

    def write_record(self, data: object) -> None:
        (self.run / "record.json").write_text(json.dumps(data))


@dataclass
class Case:
    """One bad input: its CLI arguments, setup, expected exit code and message words."""

    id: str
    args: list[str]
    words: list[str]
    code: int = 2
    setup: Callable[[Ctx], None] | None = None
    absent: list[str] = field(default_factory=list)
    may_change: str | None = None  # a path (relative to the project) that may be rewritten
    check: Callable[[Ctx], None] | None = None  # what must hold afterwards


def fault(ctx: Ctx, code: int, under: str) -> None:
    """Make every write under ``ctx.proj / under`` fail with OSError(``code``)."""
    target = str(ctx.proj / under)

    def bad(path: object) -> bool:
        return str(path).startswith(target)

    def raise_(path: object) -> None:
        raise OSError(code, os.strerror(code), str(path))

    mkdir, write_text, mkstemp, os_open = Path.mkdir, Path.write_text, tempfile.mkstemp, os.open

    def mkdir_(self, *a, **k):
        if bad(self) and not self.exists():
            raise_(self)
        return mkdir(self, *a, **k)

    def write_text_(self, *a, **k):
        if bad(self):
            raise_(self)
        return write_text(self, *a, **k)

    def mkstemp_(*a, dir=None, **k):
        if dir is not None and bad(dir):
            raise_(dir)
        return mkstemp(*a, dir=dir, **k)

    def open_(path, flags, *a, **k):
        if bad(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise_(path)
        return os_open(path, flags, *a, **k)

    ctx.monkeypatch.setattr(Path, "mkdir", mkdir_)
    ctx.monkeypatch.setattr(Path, "write_text", write_text_)
    ctx.monkeypatch.setattr(tempfile, "mkstemp", mkstemp_)
    ctx.monkeypatch.setattr(os, "open", open_)
    import matplotlib.figure

    savefig = matplotlib.figure.Figure.savefig

    def savefig_(self, fname, *a, **k):
        if bad(fname):
            raise_(fname)
        return savefig(self, fname, *a, **k)

    ctx.monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig_)


def write(rel: str, text: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        path = ctx.proj / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))

    return setup


def run_file(name: str, content: bytes | str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        path = ctx.run / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    return setup


def write_bytes(rel: str, data: bytes) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        (ctx.proj / rel).write_bytes(data)

    return setup


def link(rel: str, target: str, folder: bool = False) -> Callable[[Ctx], None]:
    """Make ``rel`` a symlink to ``target`` (a file or folder of the user's, in the project)."""

    def setup(ctx: Ctx) -> None:
        destination = ctx.proj / target
        if folder:
            destination.mkdir()
            (destination / "keep.png").write_text("mine")
        else:
            destination.write_text("my own notes")
        path = ctx.proj / rel
        if path.is_dir():
            shutil.rmtree(path)
        path.unlink(missing_ok=True)
        path.symlink_to(destination)

    return setup


def link_run(ctx: Ctx) -> None:
    """``runs/linked`` points at a copy of the run outside the results folder."""
    shutil.copytree(ctx.run, ctx.proj / "elsewhere")
    (ctx.out / "runs" / "linked").symlink_to(ctx.proj / "elsewhere")


def record_edit(edit: Callable[[dict], object]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        data = ctx.record()
        ctx.write_record(edit(data) or data)

    return setup


def _set(key: str, value: object) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        data[key] = value

    return edit


def _metric(data: dict) -> None:
    data["metrics"][0]["rmse"] = "abc"


def _no_sha(data: dict) -> None:
    data.pop("weights_sha256", None)


def no_cuda(ctx: Ctx) -> None:
    ctx.monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def one_cuda(ctx: Ctx) -> None:
    ctx.monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    ctx.monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)


def no_mps(ctx: Ctx) -> None:
    ctx.monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def no_sbatch(ctx: Ctx) -> None:
    ctx.monkeypatch.setattr(shutil, "which", lambda name: None)


def no_package(name: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        import importlib.util

        find_spec = importlib.util.find_spec
        ctx.monkeypatch.setattr(
            importlib.util, "find_spec", lambda n, *a: None if n == name else find_spec(n, *a)
        )

    return setup


def interrupt(ctx: Ctx) -> None:
    import frlbench.runner

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    ctx.monkeypatch.setattr(frlbench.runner, "run_grid", stop)


def locked_by_live_process(ctx: Ctx) -> None:
    """Hold the lock of the run ``--seeds 7`` would train, as a live other command would."""
    import socket

    from frlbench.catalog import Catalog
    from frlbench.runner import expand_grid

    Catalog(ctx.proj / "tasks", ctx.proj / "baselines").load()
    (spec,) = expand_grid(
        profile="smoke", tasks=["adv"], baselines=["probe_conv"], frl=["off"], seeds=[7]
    )
    run_dir = ctx.out / "runs" / spec.run_id
    run_dir.mkdir(parents=True)
    (run_dir / ".lock").write_text(f"1 {socket.gethostname()}\n")  # pid 1 is always alive


def copy_run(ctx: Ctx) -> None:
    shutil.copytree(ctx.run, ctx.out / "runs" / "my-copy")


def combine(*setups: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        for s in setups:
            s(ctx)

    return setup


def delete(rel_to_run: str) -> Callable[[Ctx], None]:
    def setup(ctx: Ctx) -> None:
        (ctx.run / rel_to_run).unlink()

    return setup


def spec_back(ctx: Ctx) -> None:
    assert json.loads((ctx.run / "spec.json").read_text())["seed"] == 0


def change_task(ctx: Ctx) -> None:
    """Change what trained the weights (the training split), so the run id changes."""
    path = ctx.proj / "tasks" / "adv.toml"
    path.write_text(path.read_text().replace("n_train = 4", "n_train = 5"))


RUN = ["run", "--task", "adv", "--backbone", "probe_conv", "--profile", "smoke", "--frl", "off",
       "--no-progress", "--no-report", "--no-references"]  # fmt: skip
EVAL = ["eval", "--no-report"]
OUT = "{out}"

# fmt: off
CASES = [
    # list: bad arguments, directories and declarative files
    Case("list-unknown-what", ["list", "stuff"], ["Invalid value", "tasks"]),
    Case("list-tasks-dir-missing", ["list", "tasks", "--tasks-dir", "{proj}/nope"],
         ["--tasks-dir", "no such directory"]),
    Case("list-tasks-dir-is-file", ["list", "tasks", "--tasks-dir", "{proj}/tasks/adv.toml"],
         ["--tasks-dir", "is a file"]),
    Case("list-baselines-dir-missing", ["list", "baselines", "--baselines-dir", "{proj}/no"],
         ["--baselines-dir", "no such directory"]),
    Case("task-invalid-toml", ["list", "tasks"], ["bad.toml", "invalid TOML"],
         setup=write("tasks/bad.toml", "name = [unclosed")),
    Case("task-name-escapes", ["list", "tasks"], ["evil.toml", "'name'", "../../x", "letters"],
         setup=write("tasks/evil.toml", 'name = "../../x"\n' + TASK)),
    Case("task-name-absolute", ["list", "tasks"], ["abs.toml", "'name'", "/tmp/x"],
         setup=write("tasks/abs.toml", 'name = "/tmp/x"\n' + TASK)),
    Case("task-name-duplicate", ["list", "tasks"], ["adv2.toml", "'adv'", "defined twice"],
         setup=write("tasks/adv2.toml", 'name = "adv"\n' + TASK)),
    Case("task-wrong-type", ["list", "tasks"], ["t.toml", "'ndim'", "expected an integer"],
         setup=write("tasks/t.toml", TASK.replace("ndim = 2", 'ndim = "two"'))),
    Case("task-unknown-key", ["list", "tasks"], ["t.toml", "'colour'", "unknown key"],
         setup=write("tasks/t.toml", 'colour = "red"\n' + TASK)),
    Case("task-unknown-builder", ["list", "tasks"], ["t.toml", "'builder'", "advection"],
         setup=write("tasks/t.toml", TASK.replace('"advection"', '"advektion"'))),
    Case("task-bad-test-resolutions", ["list", "tasks"], ["t.toml", "test_resolutions"],
         setup=write("tasks/t.toml", TASK.replace("[16, 32]", "[32, 16]"))),
    Case("baseline-name-escapes", ["list", "baselines"], ["e.toml", "'name'", "../evil"],
         setup=write("baselines/e.toml", 'name = "../evil"\nbackbone = "probe_conv"\n')),
    Case("baseline-name-duplicate", ["list", "baselines"], ["b.toml", "defined twice"],
         setup=write("baselines/b.toml", 'name = "probe_conv"\nbackbone = "probe_conv"\n'
                     '[defaults]\nsize = "tiny"\n')),
    Case("baseline-unknown-backbone", ["list", "baselines"], ["b.toml", "'backbone'", "probe_conv"],
         setup=write("baselines/b.toml", 'backbone = "probe_cnv"\n')),
    Case("baseline-bad-lr", ["list", "baselines"], ["b.toml", "lr", "> 0"],
         setup=write("baselines/b.toml", 'backbone = "probe_conv"\n[defaults]\nlr = -1.0\n')),
    Case("baseline-bad-profile", ["list", "baselines"], ["b.toml", "profiles", "smoke"],
         setup=write("baselines/b.toml", 'backbone = "probe_conv"\n[profiles.huge]\nlr = 1.0\n')),
    Case("plugin-syntax-error", ["list", "backbones"], ["broken.py"],
         setup=write("baselines/broken.py", "def f(:\n")),
    Case("plugin-raises", ["list", "backbones"], ["boom.py", "plugin boom"],
         setup=write("baselines/boom.py", "raise RuntimeError('plugin boom')\n")),
    # data
    Case("data-unknown-task", ["data", "avd", "--profile", "smoke"], ["unknown task", "adv"]),
    Case("data-unknown-profile", ["data", "adv", "--profile", "smok"], ["smoke"]),
    Case("data-profile-not-defined", ["data", "adv", "--profile", "quick"],
         ["adv.toml", "profiles.quick", "defined: smoke"]),
    Case("data-cache-dir-is-file", ["data", "adv", "--profile", "smoke", "--cache-dir",
         "{proj}/tasks/adv.toml"], ["--cache-dir", "is a file"]),
    # run: options checked before any work
    Case("run-nothing-selected", ["run", "--out", OUT], ["say what to run"]),
    Case("run-seeds-empty", [*RUN, "--out", OUT, "--seeds", ","], ["--seeds", "','"]),
    Case("run-seeds-not-int", [*RUN, "--out", OUT, "--seeds", "0,x"], ["--seeds", "'x'"]),
    Case("run-seeds-negative", [*RUN, "--out", OUT, "--seeds", "-1"], ["--seeds", ">= 0"]),
    Case("run-device-gpu", [*RUN, "--out", OUT, "--device", "gpu"],
         ["--device", "'gpu'", "cpu", "cuda", "mps"]),
    Case("run-device-cuda-absent", [*RUN, "--out", OUT, "--device", "cuda"],
         ["--device cuda", "no CUDA"], setup=no_cuda),
    Case("run-device-cuda-index", [*RUN, "--out", OUT, "--device", "cuda:7"],
         ["--device cuda:7", "cuda:0"], setup=one_cuda),
    Case("run-device-mps-absent", [*RUN, "--out", OUT, "--device", "mps"],
         ["--device mps", "not available"], setup=no_mps),
    Case("run-backend-unknown", [*RUN, "--out", OUT, "--backend", "slrum"], ["slurm"]),
    Case("run-backend-slurm-absent", [*RUN, "--out", OUT, "--backend", "slurm"],
         ["--backend slurm", "no Slurm", "sbatch"], setup=no_sbatch),
    Case("run-backend-ray-missing", [*RUN, "--out", OUT, "--backend", "ray"],
         ["--backend ray", "not installed"], setup=no_package("ray")),
    Case("run-jobs-zero", [*RUN, "--out", OUT, "--jobs", "0"], ["--jobs", "Invalid value"]),
    Case("run-unknown-backbone", ["run", "--backbone", "probe_cnv", "--profile", "smoke",
         "--out", OUT], ["Did you mean 'probe_conv'"]),
    Case("run-unknown-task", ["run", "--task", "avd", "--profile", "smoke", "--out", OUT],
         ["unknown task", "adv"]),
    Case("run-unknown-frl", [*RUN, "--out", OUT, "--frl", "fulll"], ["Did you mean 'full'"]),
    Case("run-unknown-profile", ["run", "--all", "--profile", "quik", "--out", OUT],
         ["Did you mean 'quick'"]),
    Case("run-profile-not-in-task", ["run", "--all", "--profile", "paper", "--out", OUT],
         ["profiles.paper", "defined: smoke"]),
    Case("run-all-with-task", ["run", "--all", "--task", "adv", "--out", OUT],
         ["--all runs every task and baseline", "--task narrows"]),
    Case("run-tasks-dir-missing", [*RUN, "--out", OUT, "--tasks-dir", "{proj}/none"],
         ["--tasks-dir", "no such directory"]),
    Case("run-out-is-file", [*RUN, "--out", "{proj}/tasks/adv.toml"], ["--out", "is a file"]),
    Case("run-out-parent-is-file", [*RUN, "--out", "{proj}/tasks/adv.toml/res"],
         ["--out", "is a file"]),
    Case("run-cache-dir-is-file", [*RUN, "--out", OUT, "--cache-dir", "{proj}/tasks/adv.toml"],
         ["--cache-dir", "is a file"]),
    Case("run-out-read-only", [*RUN, "--out", OUT, "--seeds", "3"],
         ["read-only file system", "results"], setup=lambda c: fault(c, errno.EROFS, "results")),
    Case("run-out-disk-full", [*RUN, "--out", OUT, "--seeds", "3"],
         ["disk full", "results"], setup=lambda c: fault(c, errno.ENOSPC, "results")),
    Case("run-ctrl-c", [*RUN, "--out", OUT], ["interrupted", "resume"], code=130,
         setup=interrupt),
    Case("run-locked-by-other-command", [*RUN, "--out", OUT, "--seeds", "7"],
         ["other frlbench command"], code=0, setup=locked_by_live_process),
    # eval: options, run ids, and every artifact of a run damaged in turn
    Case("eval-run-id-escapes", [*EVAL, "--out", OUT, "--run-id", "../../elsewhere"],
         ["--run-id", "not a run id"]),
    Case("eval-run-id-absolute", [*EVAL, "--out", OUT, "--run-id", "/etc"],
         ["--run-id", "not a run id"]),
    Case("eval-run-id-unknown", [*EVAL, "--out", OUT, "--run-id", "nosuchrun"],
         ["--run-id nosuchrun", "no record"]),
    Case("eval-no-runs", [*EVAL, "--out", "{proj}/empty"], ["--out", "no runs directory"]),
    Case("eval-device-gpu", [*EVAL, "--out", OUT, "--device", "gpu"], ["--device", "'gpu'"]),
    Case("eval-device-cuda-absent", [*EVAL, "--out", OUT, "--device", "cuda"],
         ["--device cuda", "no CUDA"], setup=no_cuda),
    Case("eval-resolutions-empty", [*EVAL, "--out", OUT, "--resolutions", ","],
         ["--resolutions", "grid sizes"]),
    Case("eval-resolutions-not-int", [*EVAL, "--out", OUT, "--resolutions", "16,big"],
         ["--resolutions", "'big'"]),
    Case("eval-resolutions-zero", [*EVAL, "--out", OUT, "--resolutions", "0"],
         ["--resolutions", ">= 2"]),
    Case("eval-resolutions-below-train", [*EVAL, "--out", OUT, "--resolutions", "8,16"],
         ["--resolutions", "8", "training resolution 16"]),
    Case("eval-resolutions-absurd", [*EVAL, "--out", OUT, "--resolutions", "1000000"],
         ["--resolutions", "1000000", "needs about", "memory"]),
    Case("eval-rollout-negative", [*EVAL, "--out", OUT, "--rollout-steps", "-1"],
         ["--rollout-steps", "Invalid value"]),
    Case("eval-rollout-too-long", [*EVAL, "--out", OUT, "--rollout-steps", "99"],
         ["--rollout-steps 99", "valid: 0 to"], absent=["adv.toml"]),
    Case("eval-cache-dir-is-file", [*EVAL, "--out", OUT, "--cache-dir", "{proj}/tasks/adv.toml"],
         ["--cache-dir", "is a file"]),
    Case("eval-record-truncated", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["record.json", "unreadable record"], setup=lambda c: (c.run / "record.json").write_text(
             (c.run / "record.json").read_text()[:60])),
    Case("eval-record-is-list", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["record.json", "JSON object"], setup=lambda c: c.write_record([1, 2])),
    Case("eval-record-metric-string", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["record.json", "metrics[0].rmse", "'abc'"], setup=record_edit(_metric)),
    Case("eval-record-seed-float", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["record.json", "'seed'"], setup=record_edit(_set("seed", 1.5))),
    Case("eval-record-not-utf8", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["record.json", "UTF-8"], setup=run_file("record.json", b"\xff\xfe\x00garbage")),
    Case("eval-record-unknown-schema", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["record.json", "schema"], setup=record_edit(_set("schema", 99))),
    Case("eval-record-failed-run", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["status failed"], setup=record_edit(_set("status", "failed"))),
    Case("eval-spec-truncated", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["spec.json", "unreadable spec"], setup=run_file("spec.json", '{"task": {"na')),
    Case("eval-spec-is-list", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["spec.json", "JSON object"], setup=run_file("spec.json", "[]")),
    Case("eval-spec-missing-config-changed", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["spec.json", "changed since"], setup=combine(delete("spec.json"), change_task)),
    Case("eval-weights-garbage", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["weights.pt", "corrupted weights"], setup=run_file("weights.pt", b"not a zip file")),
    Case("eval-weights-garbage-old-record", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["weights.pt", "not a readable weights file"], absent=["weights_only"],
         setup=combine(run_file("weights.pt", b"\x80\x04garbage"), record_edit(_no_sha))),
    Case("eval-weights-missing", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["no stored weights"], setup=delete("weights.pt")),
    Case("eval-ctrl-c", [*EVAL, "--out", OUT, "--run-id", "{rid}"], ["interrupted"], code=130,
         setup=lambda c: c.monkeypatch.setattr(
             "frlbench.runner.reeval.load_dataset",
             lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))),
    Case("eval-disk-full", [*EVAL, "--out", OUT, "--run-id", "{rid}"], ["disk full"],
         setup=lambda c: fault(c, errno.ENOSPC, "results")),
    Case("eval-locked-by-other-command", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["another frlbench command", ".lock"], setup=lambda c: (c.run / ".lock").write_text(
             f"1 {__import__('socket').gethostname()}\n")),
    # Data loss: a copied run folder is re-evaluated into the copy, never into the original.
    Case("eval-copied-run-folder", [*EVAL, "--out", OUT, "--run-id", "my-copy"], ["RMSE_Ratio"],
         code=0, setup=copy_run, may_change="results/runs/my-copy/record.json"),
    # a deleted spec.json is rewritten: by eval from the record, by run from the grid
    Case("eval-spec-missing-rebuilt", [*EVAL, "--out", OUT, "--run-id", "{rid}"],
         ["RMSE_Ratio"], code=0, setup=delete("spec.json"), check=spec_back,
         may_change="results/runs/{rid}/record.json"),
    Case("run-spec-missing-restored", [*RUN, "--out", OUT, "--seeds", "0"],
         ["1 already finished"], code=0, setup=delete("spec.json"), check=spec_back),
    # report
    Case("report-keeps-user-files-and-skips-bad-records", ["report", "--out", OUT],
         ["unreadable record skipped", "broken", "leaderboard written"], code=0,
         setup=combine(write("results/figures/rmse_ratio_my_paper_draft.png", "my figure"),
                       write("results/runs/broken/record.json", "[1, 2]"))),
    Case("report-no-runs", ["report", "--out", "{proj}/empty"], ["--out", "no runs"]),
    Case("report-out-is-file", ["report", "--out", "{proj}/tasks/adv.toml"], ["--out"]),
    Case("report-read-only", ["report", "--out", OUT], ["read-only file system"],
         setup=lambda c: fault(c, errno.EROFS, "results/")),
    Case("report-disk-full", ["report", "--out", OUT], ["disk full"],
         setup=lambda c: fault(c, errno.ENOSPC, "results/")),
    # audit
    Case("audit-protocol-unknown", ["audit", "--out", OUT, "--protocols", "truncation,subsampel"],
         ["--protocols", "subsampel", "valid:", "paper-grid"]),
    Case("audit-no-runs", ["audit", "--out", "{proj}/empty"], ["--out", "no runs directory"]),
    Case("audit-device-gpu", ["audit", "--out", OUT, "--device", "gpu"], ["--device", "'gpu'"]),
    Case("audit-rollout-too-long", ["audit", "--out", OUT, "--max-rollout", "99",
                                    "--no-progress"], ["--max-rollout 99", "valid: 0 to"]),
    Case("audit-no-match", ["audit", "--out", OUT, "--task", "nosuch*"],
         ["no stored run", "--task"]),
    Case("audit-task-unknown", ["audit", "--out", OUT, "--task", "nosuchtask"],
         ["--task", "unknown task 'nosuchtask'", "adv"]),
    Case("audit-frl-unknown", ["audit", "--out", OUT, "--frl", "off,ful"],
         ["--frl", "'ful'", "full-sched"]),
    Case("audit-trajectories-negative", ["audit", "--out", OUT, "--trajectories", "-1"],
         ["--trajectories", "Invalid value"]),
    # second sweep: an empty value never means "all"
    Case("run-backbone-empty", ["run", "--task", "adv", "--backbone", "", "--profile", "smoke",
         "--out", OUT], ["--backbone", "names nothing"]),
    Case("run-task-empty", ["run", "--task", " ", "--backbone", "probe_conv", "--profile",
         "smoke", "--out", OUT], ["--task", "names nothing"]),
    Case("run-frl-empty", ["run", "--task", "adv", "--backbone", "probe_conv", "--frl", ",",
         "--profile", "smoke", "--out", OUT], ["--frl", "names nothing"]),
    Case("run-seeds-blank", [*RUN, "--out", OUT, "--seeds", "  "], ["--seeds", "expected"]),
    Case("run-out-empty", [*RUN, "--out", ""], ["--out", "expected a directory path"]),
    Case("run-cache-dir-empty", [*RUN, "--out", OUT, "--cache-dir", " "], ["--cache-dir"]),
    Case("data-cache-dir-empty", ["data", "adv", "--profile", "smoke", "--cache-dir", ""],
         ["--cache-dir", "expected a directory path"]),
    Case("eval-run-id-empty", [*EVAL, "--out", OUT, "--run-id", ""], ["--run-id", "nothing"]),
    Case("report-out-empty", ["report", "--out", ""], ["--out", "expected a directory path"]),
    Case("tune-cache-dir-empty", ["tune", "--task", "adv", "--baseline", "probe_conv",
         "--cache-dir", ""], ["--cache-dir", "expected a directory path"]),
    Case("audit-protocols-empty", ["audit", "--out", OUT, "--protocols", ""],
         ["--protocols", "names nothing"]),
    Case("audit-backbone-unknown", ["audit", "--out", OUT, "--backbone", "nosuch"],
         ["--backbone", "nosuch", "probe_conv"]),
    Case("audit-trajectories-too-many", ["audit", "--out", OUT, "--trajectories", "1000",
         "--no-progress"], ["--trajectories 1000", "valid: 0 (all) to 2"]),
    # second sweep: symlinks below the results folder are never written through or read
    # (a symlinked leaderboard.md is refused only after the figures are drawn, ~8 s: its
    # check lives in tests/test_containment.py, on the write helper itself)
    Case("report-figures-symlink", ["report", "--out", OUT], ["figures", "symlink"],
         setup=link("results/figures", "my_figures", folder=True)),
    Case("eval-run-folder-symlink", [*EVAL, "--out", OUT, "--run-id", "linked"],
         ["linked", "symlink"], setup=link_run),
    # second sweep: files that cannot be decoded, sizes no machine holds, hostile text
    Case("task-latin1", ["list", "tasks"], ["latin.toml", "not UTF-8", "UnicodeDecodeError"],
         setup=write_bytes("tasks/latin.toml", ('description = "d\xe9bit"\n' + TASK)
                           .replace("[16, 32]", "[16]").encode("latin-1"))),
    Case("task-reference-2-40", ["run", "--task", "huge", "--backbone", "probe_conv",
         "--profile", "smoke", "--out", OUT],
         ["huge.toml", "reference_resolution", "1099511627776", "memory"],
         setup=write("tasks/huge.toml", 'name = "huge"\n' + TASK.replace(
             "reference_resolution = 32", "reference_resolution = 1099511627776"))),
    Case("task-description-ansi", ["list", "tasks"], ["ok text"], code=0, absent=["\x1b"],
         setup=write("tasks/ansi.toml", 'name = "ansi"\ndescription = "ok\\u001b[2J text"\n'
                     + TASK.replace('description = "tiny advection task for runner and '
                                    'bad-input tests"\n', ""))),
    # second sweep: a lock no live process can hold is taken over, saying so
    Case("run-lock-empty", [*RUN, "--out", OUT, "--seeds", "0"], ["stale lock", "taken over"],
         code=0, setup=lambda c: (c.run / ".lock").write_text(""),
         may_change="results/runs/{rid}/.lock"),
    # zoo
    Case("zoo-baselines-dir-missing", ["zoo", "--baselines-dir", "{proj}/none"],
         ["--baselines-dir", "no such directory"]),
    # no command at all, and an unknown command
    Case("unknown-command", ["trian"], ["No such command"]),
    Case("unknown-option", ["run", "--colour"], ["No such option"]),
]
# fmt: on


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_catalog_is_large_and_distinct():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    proj = tmp_path / "proj"
    shutil.copytree(base, proj)
    ctx = Ctx(proj, monkeypatch)
    if case.setup is not None:
        case.setup(ctx)
    rid = ctx.run.name
    args = [a.format(out=ctx.out, proj=proj, rid=rid) for a in case.args]
    before = snapshot(proj)
    result = invoke(proj, args)
    monkeypatch.undo()
    output = " ".join(result.output.split())
    if os.environ.get("FRLBENCH_SHOW_MESSAGES"):  # to review what each case prints
        print(f"\n[{case.id}] exit {result.exit_code}: {output}")
    assert result.exit_code == case.code, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    assert "Traceback" not in result.output
    for word in case.words:
        assert word in output, f"{word!r} not in: {output}"
    for word in case.absent:
        assert word not in output, f"{word!r} in: {output}"
    after = snapshot(proj)
    allowed = case.may_change.format(rid=rid) if case.may_change else None
    changed = [k for k, v in before.items() if after.get(k) != v and k != allowed]
    assert not changed, f"pre-existing files changed or deleted: {changed}"
    if case.check is not None:
        case.check(ctx)
