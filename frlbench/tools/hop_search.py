"""``frlbench tune --hop``: run the resolution-transfer search and choose both arms' settings.

Usage::

    frlbench tune --hop --task fluid3d --task era5 --jobs 2 --out results/selection/quick
    frlbench tune --hop --task fluid3d --baseline cnn --baseline fno --seeds 0
    frlbench tune --hop --summary --out results/selection/quick   # choose from what ran

Each finished configuration is written at once to ``<out>/scores.jsonl`` (a killed search
resumes without redoing it); at the end, and with ``--summary``, the choice of each arm per
baseline and task is written to ``<out>/selection.md`` and ``<out>/selection.json``. The
procedure is ``docs/frl_selection.md``'s.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from frlbench.catalog import Catalog
from frlbench.registry import BASELINES, TASKS
from frlbench.safeio import write_atomic
from frlbench.spec import ConfigError
from frlbench.tools.hop import HopJob, HopResult, run_config, search_grid
from frlbench.tools.hop_select import choose, format_choices, format_scores
from frlbench.validate import nonempty_path

SCORES = "scores.jsonl"


def plan_jobs(
    tasks: Sequence[str], baselines: Sequence[str], seeds: Sequence[int], profile: str
) -> list[HopJob]:
    """Every job of the search, task by task, seed by seed (seed 0 first: the choice needs
    only seed 0, the ranking check seed 1)."""
    jobs = []
    for task in tasks:
        TASKS.get(task)  # an unknown task fails here, with the known names
        for seed in seeds:
            for name in baselines:
                baseline = BASELINES.get(name)
                for config in search_grid(baseline, task, profile):
                    jobs.append(HopJob(task, profile, name, config, seed))
    return jobs


def read_scores(out: Path) -> list[HopResult]:
    """The results already in ``<out>/scores.jsonl`` (none if it does not exist).

    Raises:
        ConfigError: If the file holds a line that is not a search result.
    """
    path = out / SCORES
    if not path.exists():
        return []
    results = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            results.append(HopResult.from_json(json.loads(line)))
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(
                f"{path}, line {number}: not a result of `frlbench tune --hop` ({exc}); "
                "give --out a folder of its own"
            ) from None
    return results


def write_scores(out: Path, results: Sequence[HopResult]) -> None:
    """Rewrite ``<out>/scores.jsonl`` atomically, sorted by job key."""
    lines = [json.dumps(r.to_json(), sort_keys=True) for r in sorted(results, key=lambda r: r.key)]
    write_atomic(out / SCORES, "\n".join(lines) + "\n", root=out, durable=True)


def write_summary(out: Path, results: Sequence[HopResult]) -> str:
    """Choose from ``results``; write ``selection.md`` and ``selection.json``; return the
    choice table."""
    choices = choose(results)
    table = format_choices(choices)
    text = (
        "# Resolution-transfer selection\n\nProcedure: docs/frl_selection.md. Scores are the "
        "best validation RMSE at ρ0 (normalized units) of a run trained at ρ0/2; lower is "
        "better; in brackets today's setting's score.\n\n"
        f"{table}\n\n## Every configuration\n\n{format_scores(results)}\n"
    )
    write_atomic(out / "selection.md", text, root=out)
    payload = [
        {
            "task": c.task,
            "baseline": c.baseline,
            "tau": c.tau,
            "persistence": c.persistence,
            "arms": {arm: vars(a) for arm, a in c.arms.items()},
        }
        for c in choices
    ]
    write_atomic(out / "selection.json", json.dumps(payload, indent=1, default=str), root=out)
    return table


def _init_worker(threads: int) -> None:
    torch.set_num_threads(threads)
    Catalog.default().load()


def _run(job: HopJob, cache_dir: Path | None) -> HopResult:
    return run_config(job, cache_dir=cache_dir)


def search(
    jobs: Sequence[HopJob], out: Path, *, workers: int = 1, cache_dir: Path | None = None
) -> list[HopResult]:
    """Run the ``jobs`` not yet in ``<out>/scores.jsonl``, ``workers`` at a time, writing each
    result as it ends; return every result of the file."""
    results = {r.key: r for r in read_scores(out)}
    todo = [j for j in jobs if j.key not in results]
    print(f"{len(jobs)} configurations, {len(jobs) - len(todo)} already scored, {len(todo)} to run")
    if not todo:
        return list(results.values())
    if workers > 1:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    threads = max(1, (os.cpu_count() or 1) // workers)
    start, done = time.perf_counter(), 0
    ctx = mp.get_context("spawn")
    with cf.ProcessPoolExecutor(workers, ctx, _init_worker, (threads,)) as pool:
        futures = {pool.submit(_run, job, cache_dir): job for job in todo}
        try:
            for future in cf.as_completed(futures):
                result = future.result()
                results[result.key] = result
                write_scores(out, list(results.values()))
                done += 1
                _report(result, done, len(todo), time.perf_counter() - start)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return list(results.values())


def _report(result: HopResult, done: int, total: int, elapsed: float) -> None:
    left = elapsed / done * (total - done)
    score = f"{result.score:.4f}" if result.status == "ok" else f"{result.status} ({result.reason})"
    print(
        f"[{done}/{total}] {result.key}: {score} (persistence {result.persistence:.4f}, best step "
        f"{result.best_step}/{result.steps}, {result.train_s:.0f} s); about {left / 60:.0f} min "
        "left",
        flush=True,
    )


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="frlbench tune --hop",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", action="append", required=True)
    parser.add_argument("--baseline", action="append", help="default: every baseline")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--jobs", type=int, default=1, help="configurations trained at once")
    parser.add_argument(
        "--out", type=lambda value: nonempty_path(value, "--out"), default=None,
        help="folder for scores.jsonl and selection.md (default: "
        "./frlbench-results/selection/<profile>)",
    )  # fmt: skip
    parser.add_argument(
        "--cache-dir", type=lambda value: nonempty_path(value, "--cache-dir"), default=None
    )
    parser.add_argument("--summary", action="store_true", help="only choose from what ran")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs: expected a whole number >= 1, got {args.jobs}")
    out = args.out or Path("frlbench-results") / "selection" / args.profile
    Catalog.default().load()
    baselines = args.baseline or BASELINES.list()
    jobs = plan_jobs(args.task, baselines, args.seeds, args.profile)
    if args.summary:
        results = read_scores(out)
    else:
        results = search(jobs, out, workers=args.jobs, cache_dir=args.cache_dir)
    print(write_summary(out, results))
    print(f"written: {out / 'selection.md'}, {out / 'selection.json'}")
