"""The results store: one directory per run, written so a kill never leaves half a result.

``<out>/runs/<run-id>/`` holds ``spec.json`` (the RunSpec), ``weights.pt`` (state dict) and
``record.json``. The record is written last, atomically: its presence marks a finished run.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Literal

import torch

from frlbench.config import RunSpec, parse_dataclass
from frlbench.records import RecordError, RunRecord, read_record, write_json_atomic, write_record

RunState = Literal["done", "missing", "corrupt", "failed"]


class RunStore:
    """Where runs are stored and how their state is read.

    Args:
        out: Results directory (``results/`` by default in the CLI).
    """

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
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
        ``missing``, ``corrupt``."""
        path = self.record_path(run_id)
        if not path.exists():
            return "missing"
        try:
            record = read_record(path)
        except RecordError:
            return "corrupt"
        return "failed" if record.status == "failed" else "done"

    def read(self, run_id: str) -> RunRecord:
        """The record of one run (raises RecordError if unreadable)."""
        return read_record(self.record_path(run_id))

    def quarantine(self, run_id: str) -> Path:
        """Move an unreadable record aside (kept for inspection) so the run is redone."""
        path = self.record_path(run_id)
        target = path.with_name(f"record.json.corrupt-{int(time.time())}")
        os.replace(path, target)
        return target

    def save_spec(self, spec: RunSpec) -> None:
        """Write the run's spec (what ``frlbench eval`` needs to rebuild the model)."""
        write_json_atomic(self.spec_path(spec.run_id), dataclasses.asdict(spec))

    def load_spec(self, run_id: str) -> RunSpec:
        """Rebuild the RunSpec stored with a run."""
        path = self.spec_path(run_id)
        return parse_dataclass(RunSpec, json.loads(path.read_text()), str(path))

    def save(self, record: RunRecord, state: dict[str, torch.Tensor] | None) -> None:
        """Store weights (if any), then the record, each atomically."""
        run_dir = self.run_dir(record.run_id)
        run_dir.mkdir(parents=True, exist_ok=True)
        if state is not None:
            fd, tmp = tempfile.mkstemp(dir=run_dir, prefix=".weights.", suffix=".tmp")
            os.close(fd)
            try:
                torch.save(state, tmp)
                os.replace(tmp, self.weights_path(record.run_id))
            finally:
                Path(tmp).unlink(missing_ok=True)
        write_record(self.record_path(record.run_id), record)

    def load_weights(self, run_id: str) -> dict[str, torch.Tensor]:
        """The trained state dict, loaded safely (tensors only)."""
        return torch.load(self.weights_path(run_id), weights_only=True, map_location="cpu")
