"""Write the stored timings that ``frlbench run`` estimates from (``catalog_data/timings.json``).

Per (profile, task, baseline, FRL variant): seconds of training per budget step (the record's
``train_time_s`` over the plan's steps, validation included) and seconds of evaluation, the
median over seeds, from a store of finished records (``--store``) or from a leaderboard CSV
(``--csv``, which holds ``train_time_s`` but not the evaluation time: give ``--eval-s``). The
grid terms (data build, references, report, worker start, fixed cost per run) are given as
measured. With the profile's timings goes the one-thread probe (:func:`probe_seconds`), measured
now: its wall time when the timings were taken on this machine as it is now
(``--probe wall``), or its CPU time, a quiet machine's wall time, for timings taken on a quiet
machine (``--probe cpu``)::

    python -m frlbench.runner.timings --profile smoke --store /tmp/smoke/out \\
        --data-s fluid3d=12 --data-s era5=9 --report-s 20 --probe wall \\
        --machine "2-core x86_64 container" --note "how it was measured"
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from frlbench.runner.estimate import load_timings, probe_seconds, timings_path


def _pairs(items: list[str], option: str) -> dict[str, float]:
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{option} {item!r}: expected TASK=SECONDS, e.g. fluid3d=12")
        out[name] = float(value)
    return out


def _rows_from_store(store: Path) -> list[dict[str, Any]]:
    from frlbench.records import load_records

    records, _ = load_records(store / "runs")
    rows = []
    for r in records:
        if r.status == "ok":
            row = {"task": r.task, "kind": r.kind, "baseline": r.baseline, "frl": r.frl}
            row.update(train_time_s=r.train_time_s, steps=r.steps,
                       eval_s=float(r.env.get("evaluation_wall_s", "nan")))  # fmt: skip
            rows.append(row)
    return rows


def _rows_from_csv(path: Path, profile: str, eval_s: dict[str, float]) -> list[dict[str, Any]]:
    from frlbench.catalog import Catalog
    from frlbench.runner.grid import expand_grid

    Catalog(Path("/nonexistent/tasks"), Path("/nonexistent/baselines")).load()
    steps = {
        (p.task.name, p.baseline.name, p.frl.name): p.settings.total_steps(p.task.n_train)
        for p in expand_grid(profile=profile, frl=["off", "full"])
    }
    seen, rows = set(), []
    for row in csv.DictReader(path.open()):
        key = (row["task"], row["baseline"], row["frl"])
        if row["kind"] != "model" or row["run_id"] in seen or key not in steps:
            continue
        seen.add(row["run_id"])
        rows.append(
            {
                "task": row["task"],
                "kind": "model",
                "baseline": row["baseline"],
                "frl": row["frl"],
                "train_time_s": float(row["train_time_s"]),
                "steps": steps[key],
                "eval_s": eval_s[row["task"]],
            }
        )
    return rows


def task_timings(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per task: ``runs`` (``baseline/frl`` → seconds per step and evaluation seconds) and
    ``references_s`` (the reference rows' evaluation), medians over seeds."""
    runs: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    refs: dict[str, float] = defaultdict(float)
    for row in rows:
        if row["kind"] == "model":
            runs[(row["task"], f"{row['baseline']}/{row['frl']}")].append(row)
        else:
            refs[row["task"]] += row["eval_s"]
    tasks: dict[str, dict[str, Any]] = defaultdict(lambda: {"runs": {}})
    for (task, key), group in sorted(runs.items()):
        per_step = statistics.median(r["train_time_s"] / r["steps"] for r in group)
        evaluation = statistics.median(r["eval_s"] for r in group)
        tasks[task]["runs"][key] = {
            "train_s_per_step": round(per_step, 5),
            "eval_s": round(evaluation, 3),
        }
    for task, seconds in refs.items():
        tasks[task]["references_s"] = round(seconds, 2)
    return dict(tasks)


def main(argv: list[str] | None = None) -> None:
    """Merge one profile's timings into ``timings.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", required=True)
    parser.add_argument("--store", type=Path, help="A results folder of finished runs.")
    parser.add_argument("--csv", type=Path, help="A leaderboard.csv (with --eval-s).")
    parser.add_argument("--eval-s", action="append", default=[], help="TASK=SECONDS per run.")
    parser.add_argument("--data-s", action="append", default=[], help="TASK=SECONDS.")
    parser.add_argument("--references-s", action="append", default=[], help="TASK=SECONDS.")
    parser.add_argument("--run-fixed-s", type=float, default=0.0)
    parser.add_argument("--report-s", type=float, default=0.0)
    parser.add_argument("--worker-start-s", type=float)
    parser.add_argument("--threads", type=int, default=1, help="Torch threads of each run.")
    parser.add_argument("--probe", choices=("wall", "cpu"), default="wall")
    parser.add_argument("--machine")
    parser.add_argument("--note", default="")
    parser.add_argument("--output", type=Path, default=timings_path())
    args = parser.parse_args(argv)
    if args.store:
        rows = _rows_from_store(args.store)
    elif args.csv:
        rows = _rows_from_csv(args.csv, args.profile, _pairs(args.eval_s, "--eval-s"))
    else:
        raise SystemExit("give --store DIR or --csv FILE")
    timings = load_timings(args.output)
    tasks = task_timings(rows)
    for option, key in ((args.data_s, "data_s"), (args.references_s, "references_s")):
        for task, seconds in _pairs(option, f"--{key.replace('_', '-')}").items():
            tasks.setdefault(task, {"runs": {}})[key] = seconds
    for entry in tasks.values():
        entry["run_fixed_s"] = args.run_fixed_s
    timings["profiles"][args.profile] = {
        "report_s": args.report_s,
        "note": args.note,
        "tasks": tasks,
        "probe": {
            "seconds": round(probe_seconds(cpu=args.probe == "cpu", threads=args.threads), 5),
            "threads": args.threads,
            "kind": args.probe,
        },
    }
    if args.worker_start_s is not None:
        timings["profiles"][args.profile]["worker_start_s"] = args.worker_start_s
    if args.machine:
        timings["machine"] = args.machine
    args.output.write_text(json.dumps(timings, indent=1, sort_keys=True) + "\n")
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
