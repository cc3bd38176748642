"""``frlbench tune --budget-check``: the longer-budget check of the budget rule.

A run whose kept (best-validation) state is its last step may have stopped short. For every
finished seed-0 model run of a run store whose best step is its last, this retrains the run's
exact plan (same FRL settings, rate, data, seed) for 1.5× the steps and compares the best
validation RMSE at the training grid with the record's. The rule (the built-in baselines'
budgets): a budget is raised when the longer one gives a lower validation RMSE. The test
split is not touched.

Usage::

    frlbench tune --budget-check --from results --out results/budget-check
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path

from frlbench.catalog import Catalog
from frlbench.data import load_dataset
from frlbench.frl import FRLObjective
from frlbench.records import RunRecord
from frlbench.runner.store import RunStore
from frlbench.safeio import write_atomic
from frlbench.spec import RunPlan
from frlbench.train import build_model, fit, resolve_device, seed_everything
from frlbench.validate import nonempty_path

FACTOR = 1.5


@dataclasses.dataclass(frozen=True)
class BudgetCheck:
    """One run's check: its budget and best validation RMSE, and the longer budget's."""

    run_id: str
    task: str
    baseline: str
    frl: str
    steps: int
    val_rmse: float
    longer_steps: int
    longer_val_rmse: float
    longer_best_step: int
    train_s: float

    @property
    def raise_budget(self) -> bool:
        """The rule: the longer budget gives a lower validation RMSE."""
        return self.longer_val_rmse < self.val_rmse


def candidates(store: RunStore) -> list[tuple[RunRecord, RunPlan]]:
    """Finished seed-0 model runs whose best step is their last, with their plans."""
    found = []
    for path in sorted(store.runs_dir.glob("*/record.json")):
        run_id = path.parent.name
        try:
            record = store.read(run_id)
        except Exception:  # an unreadable record is the report's business, not this check's
            continue
        last = record.steps > 0 and record.best_step >= record.steps
        if record.kind == "model" and record.status == "ok" and record.seed == 0 and last:
            found.append((record, store.load_spec(run_id)))
    return found


def check(record: RunRecord, plan: RunPlan, *, cache_dir: Path | None = None) -> BudgetCheck:
    """Retrain ``plan`` for :data:`FACTOR` × its steps and keep its best validation RMSE."""
    start = time.perf_counter()
    longer = dataclasses.replace(plan.settings, steps=math.ceil(FACTOR * record.steps))
    task = plan.task.with_sizes(rollout_steps=0)
    data = load_dataset(task, cache_dir=cache_dir, progress=False)
    dev = resolve_device("cpu")
    seed_everything(plan.seed)
    model = build_model(plan, dev)
    objective = FRLObjective(plan.frl, plan.task, data.train_resolution)
    fitted = fit(model, data, objective, longer, dev, plan.seed, task=plan.task)
    return BudgetCheck(
        run_id=record.run_id, task=record.task, baseline=record.baseline, frl=record.frl,
        steps=record.steps, val_rmse=record.val_rmse, longer_steps=longer.steps,
        longer_val_rmse=fitted.best_val_rmse if not fitted.diverged else math.nan,
        longer_best_step=fitted.best_step, train_s=time.perf_counter() - start,
    )  # fmt: skip


def format_checks(checks: Sequence[BudgetCheck]) -> str:
    """A Markdown table of the checks."""
    lines = [
        "| run | steps | val RMSE | 1.5× steps | val RMSE | best step | raise? |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for c in checks:
        lines.append(
            f"| {c.run_id} | {c.steps} | {c.val_rmse:.4f} | {c.longer_steps} | "
            f"{c.longer_val_rmse:.4f} | {c.longer_best_step} | "
            f"{'yes' if c.raise_budget else 'no'} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="frlbench tune --budget-check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--from", dest="source", required=True,
                        type=lambda value: nonempty_path(value, "--from"),
                        help="the results folder whose runs/ are checked")  # fmt: skip
    parser.add_argument("--out", type=lambda value: nonempty_path(value, "--out"), default=None,
                        help="folder for budget_check.md/.jsonl (default: print only)")  # fmt: skip
    parser.add_argument(
        "--cache-dir", type=lambda value: nonempty_path(value, "--cache-dir"), default=None
    )
    args = parser.parse_args(argv)
    Catalog.default().load()
    store = RunStore(args.source)
    todo = candidates(store)
    print(f"{len(todo)} seed-0 runs keep their last step; checking each at {FACTOR}× steps")
    checks = []
    for record, plan in todo:
        checks.append(check(record, plan, cache_dir=args.cache_dir))
        print(format_checks(checks[-1:]).splitlines()[-1], flush=True)
    table = format_checks(checks)
    print(table)
    if args.out is not None:
        lines = "".join(json.dumps(dataclasses.asdict(c)) + "\n" for c in checks)
        write_atomic(args.out / "budget_check.jsonl", lines, root=args.out)
        write_atomic(args.out / "budget_check.md", table + "\n", root=args.out)
