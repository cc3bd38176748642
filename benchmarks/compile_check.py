"""Whole runs eager against compiled: the measurement behind each family's compile default.

A family trains compiled by default (``frlbench.compiled.COMPILED_BY_DEFAULT``) only if its
whole run -- training *and* evaluation at every test grid, compilation included -- is at least
5% faster compiled, on 2 quiet cores, and its RMSEs stay within seed noise. This script runs
the same planned runs (the built-in catalog's task, baseline, FRL variant and seeds) once eager
and once compiled, in one process, alternating, and prints per run the wall times and the RMSE
at every test grid, then per (baseline, variant) the mean speed-up and the largest RMSE change
next to the eager runs' seed spread::

    python -m benchmarks.compile_check --baselines fno unet --frl off full --seeds 0 1 2
    python -m benchmarks.compile_check --profile smoke --baselines cnn --seeds 0   # a probe

Only meaningful on a quiet machine (state ``uptime`` with the numbers); the runs use the
dataset cache (``FRLBENCH_CACHE``) like ``frlbench run``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from frlbench.catalog import Catalog
from frlbench.runner.grid import expand_grid
from frlbench.spec import RunPlan
from frlbench.train import configure_threads, train_and_evaluate

#: The speed-up a family's whole run must reach for compiled to become its default.
REQUIRED_SPEEDUP = 1.05


def run_pair(spec: RunPlan, cache_dir: Path | None) -> dict[str, dict]:
    """One run eager and one compiled: wall seconds and RMSE per test grid of each."""
    out = {}
    for mode in ("eager", "compiled"):
        start = time.perf_counter()
        record, _ = train_and_evaluate(
            spec, device="cpu", cache_dir=cache_dir, compile=mode == "compiled"
        )
        out[mode] = {
            "wall_s": time.perf_counter() - start,
            "train_s": record.train_time_s,
            "status": record.status,
            "compiled": record.compiled,
            "rmse": {m.resolution: m.rmse for m in record.metrics},
        }
    return out


def summarize(pairs: list[dict[str, dict]]) -> dict[str, float]:
    """Speed-up of the summed wall time, largest relative RMSE change, eager seed spread."""
    eager = sum(p["eager"]["wall_s"] for p in pairs)
    compiled = sum(p["compiled"]["wall_s"] for p in pairs)
    change = max(
        abs(p["compiled"]["rmse"][r] / p["eager"]["rmse"][r] - 1)
        for p in pairs
        for r in p["eager"]["rmse"]
    )
    resolutions = list(pairs[0]["eager"]["rmse"])
    spread = max(
        (
            statistics.stdev([p["eager"]["rmse"][r] for p in pairs])
            / statistics.fmean([p["eager"]["rmse"][r] for p in pairs])
            if len(pairs) > 1
            else float("nan")
        )
        for r in resolutions
    )
    return {"speedup": eager / compiled, "max_rmse_change": change, "eager_seed_cv": spread}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--task", default="fluid3d")
    parser.add_argument("--baselines", nargs="+", default=["fno", "unet"])
    parser.add_argument("--frl", nargs="+", default=["off", "full"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--jobs", type=int, default=2, help="threads as for --jobs runs")
    args = parser.parse_args(argv)
    configure_threads(args.jobs)
    with tempfile.TemporaryDirectory() as tmp:
        Catalog(Path(tmp) / "tasks", Path(tmp) / "baselines").load()
    cache = Path(os.environ["FRLBENCH_CACHE"]) if "FRLBENCH_CACHE" in os.environ else None
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    for baseline in args.baselines:
        for variant in args.frl:
            specs = expand_grid(
                profile=args.profile,
                tasks=[args.task],
                baselines=[baseline],
                frl=[variant],
                seeds=args.seeds,
            )
            pairs = []
            for spec in specs:
                pair = run_pair(spec, cache)
                pairs.append(pair)
                for mode, r in pair.items():
                    rmse = " ".join(f"{res}:{v:.5f}" for res, v in r["rmse"].items())
                    print(
                        f"{baseline} {variant} s{spec.seed} {mode:8s} {r['status']} wall "
                        f"{r['wall_s']:.1f} s (train {r['train_s']:.1f} s) RMSE {rmse}",
                        flush=True,
                    )
            s = summarize(pairs)
            verdict = "compiled" if s["speedup"] >= REQUIRED_SPEEDUP else "eager"
            print(
                f"{baseline} {variant}: whole-run speed-up x{s['speedup']:.3f}, largest RMSE "
                f"change {s['max_rmse_change']:.2%} (eager seed CV {s['eager_seed_cv']:.2%}) "
                f"-> {verdict} by time; load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
