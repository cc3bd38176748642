"""The results store: one directory per run, written so a kill never leaves half a result.

``<out>/runs/<run-id>/`` holds ``spec.json`` (the RunSpec), ``weights.pt`` (state dict) and
``record.json``. The record is written last, atomically: its presence marks a finished run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Literal

import torch

from frlbench.records import RecordError, RunRecord, read_record, write_json_atomic, write_record
from frlbench.safeio import (
    UnsafePathError,
    atomic_path,
    check_inside,
    make_dirs,
    resolve_root,
)
from frlbench.spec import ConfigError, RunPlan, RunSpec, parse_dataclass

RunState = Literal["done", "missing", "corrupt", "failed"]


class RunStore:
    """Where runs are stored and how their state is read.

    Args:
        out: Results directory (``results/`` by default in the CLI).
    """

    def __init__(self, out: Path) -> None:
        self.out = resolve_root(out)  # the root the user named; nothing below it is followed
        self.runs_dir = self.out / "runs"

    def run_dir(self, run_id: str) -> Path:
        """Directory of one run."""
        return self.runs_dir / run_id

    def record_path(self, run_id: str) -> Path:
        """``record.json`` of one run."""
        return self.run_dir(run_id) / "record.json"

    def weights_path(self, run_id: str) -> Path:
        """``weights.pt`` of one run."""
        return self.run_dir(run_id) / "weights.pt"

    def spec_path(self, run_id: str) -> Path:
        """``spec.json`` of one run."""
        return self.run_dir(run_id) / "spec.json"

    def state(self, run_id: str) -> RunState:
        """One of ``done`` (ok, diverged or not_applicable: never redone), ``failed``,
        ``missing``, ``corrupt``.

        A finished model run whose ``weights.pt`` is missing or fails its checksum is
        ``corrupt`` (redone). A record written before checksums existed gets one here, once
        its weights load cleanly; it is never retrained for lacking it.
        """
        path = self.record_path(run_id)
        if not path.exists():
            return "missing"
        try:
            record = self.read(run_id)
        except RecordError:
            return "corrupt"
        if record.status == "failed":
            return "failed"
        if record.kind == "model" and record.status == "ok":
            try:
                self.verify_weights(run_id, record)
            except RecordError:
                return "corrupt"
        return "done"

    def verify_weights(self, run_id: str, record: RunRecord | None = None) -> RunRecord:
        """Check ``weights.pt`` against the record's checksum (adding one to an old record).

        Raises:
            RecordError: If the weights are missing, fail the checksum or do not load.
        """
        record = record if record is not None else self.read(run_id)
        path = self.inside(self.weights_path(run_id))
        if not path.is_file():
            raise RecordError(f"{path}: the run's weights are missing")
        digest = file_sha256(path)
        if record.weights_sha256:
            if digest != record.weights_sha256:
                raise RecordError(
                    f"{path}: corrupted weights (sha256 {digest[:12]}..., the record expects "
                    f"{record.weights_sha256[:12]}...)"
                )
            return record
        self.load_weights(run_id)  # raises RecordError if it does not load
        record.weights_sha256 = digest
        with contextlib.suppress(OSError):  # a read-only results folder: checksum it next time
            write_record(self.record_path(run_id), record, root=self.out)
        return record

    def read(self, run_id: str) -> RunRecord:
        """The record of one run (raises RecordError if unreadable or reached by a symlink)."""
        return read_record(self.inside(self.record_path(run_id)))

    def inside(self, path: Path) -> Path:
        """``path`` (a file of a local run), checked to resolve inside ``<out>/runs``.

        Raises:
            RecordError: Naming the folder or file that is a symlink.
        """
        try:
            return check_inside(path, self.runs_dir)
        except UnsafePathError as exc:
            raise RecordError(
                f"{exc.filename}: is a symlink; runs are read only inside {self.runs_dir}"
            ) from None

    def move(self, old: str, new: str) -> None:
        """Move run ``old``'s files into run ``new``'s folder (renames keep their mtimes).

        ``new``'s folder may already exist, holding only this command's lock.
        """
        source, target = self.inside(self.run_dir(old)), self.run_dir(new)
        make_dirs(target, self.out)
        for entry in source.iterdir():
            if entry.name != ".lock":
                os.replace(entry, target / entry.name)
        with contextlib.suppress(OSError):  # a lock of another command stays with its folder
            source.rmdir()

    def quarantine(self, run_id: str) -> Path:
        """Move an unreadable record (and bad weights) aside, kept for inspection, so the run
        is redone."""
        path = self.inside(self.record_path(run_id))
        stamp = int(time.time())
        target = path.with_name(f"record.json.corrupt-{stamp}")
        os.replace(path, target)
        weights = self.weights_path(run_id)
        if weights.exists():
            os.replace(weights, weights.with_name(f"weights.pt.corrupt-{stamp}"))
        return target

    def save_spec(self, plan: RunPlan) -> None:
        """Write the run's :class:`~frlbench.spec.RunSpec` (what ``frlbench eval`` needs to
        rebuild the model)."""
        spec = dataclasses.asdict(plan.request())
        write_json_atomic(self.spec_path(plan.run_id), spec, root=self.out)

    def load_spec(self, run_id: str) -> RunPlan:
        """The run's plan, resolved again from the RunSpec stored with it.

        Raises:
            RecordError: If ``spec.json`` is missing, unreadable or invalid.
        """
        path = self.inside(self.spec_path(run_id))
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise RecordError(f"expected a JSON object, got a {type(data).__name__}")
            return parse_dataclass(RunSpec, data, str(path)).resolve()
        except FileNotFoundError:
            raise RecordError(f"{path}: no such spec file") from None
        except (json.JSONDecodeError, UnicodeDecodeError, RecordError, ConfigError) as exc:
            raise RecordError(f"{path}: unreadable spec ({exc})") from None

    def save(self, record: RunRecord, state: dict[str, torch.Tensor] | None) -> None:
        """Store weights (if any), then the record, each atomically."""
        if state is not None:
            with atomic_path(self.weights_path(record.run_id), root=self.out) as tmp:
                torch.save(state, tmp)
                record.weights_sha256 = file_sha256(tmp)
        write_record(self.record_path(record.run_id), record, root=self.out)

    def load_weights(self, run_id: str) -> dict[str, torch.Tensor]:
        """The trained state dict, loaded safely (tensors only).

        Raises:
            RecordError: If the file is missing or is not a tensors-only state dict.
        """
        path = self.inside(self.weights_path(run_id))
        try:
            state = torch.load(path, weights_only=True, map_location="cpu")
        except FileNotFoundError:
            raise RecordError(f"{path}: the run's weights are missing") from None
        except Exception as exc:  # torch raises many types; its hints suggest unsafe loading
            raise RecordError(
                f"{path}: not a readable weights file ({type(exc).__name__}); it is truncated, "
                "corrupted or was not written by frlbench"
            ) from None
        if not isinstance(state, dict):
            raise RecordError(f"{path}: not a state dict (got a {type(state).__name__})")
        return state


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
