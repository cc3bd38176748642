"""Choose a baseline's peak learning rate from a small fixed grid by validation RMSE.

The documented procedure behind every ``lr`` in ``baselines/*.toml``: train the baseline
under the profile's settings once per learning rate of the grid (same seed, same step
budget, same warm-up and schedule), select each run's best checkpoint on the validation
split, and keep the learning rate whose best validation RMSE is lowest. The test split is
never used to choose; ``--evaluate`` only reports it afterwards.

Usage::

    frlbench tune --task fluid3d --baseline cnn --profile quick --frl off
    frlbench tune --task fluid3d --baseline fno --frl full --lrs 1e-3 3e-3 \\
        --set steps=300 --set residual=true --evaluate
    frlbench tune --task fluid3d --baseline transformer --option pos_frequencies=0
    frlbench tune --task fluid3d --baseline cnn --frl full --frl-set lambda_spec=0.01
    frlbench tune --hop --task fluid3d --task era5 --jobs 2   # the resolution-transfer search
    frlbench tune --budget-check --from results               # runs whose best step is the last

``--hop`` runs the resolution-transfer selection of both arms instead
(:mod:`frlbench.tools.hop_search`, ``docs/frl_selection.md``); ``frlbench tune --hop --help``
lists its options; ``--budget-check`` the longer-budget check of a run store's runs
(:mod:`frlbench.runner.budget_check`; ``frlbench tune`` sends it there).

The printed table is what the baseline TOMLs quote in their comments (older ones write
``python -m frlbench.tune``: that alias still runs this command).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from frlbench.catalog import Catalog
from frlbench.data import PairedDataset, load_dataset
from frlbench.evaluation.evaluate import EvalProtocol, PersistenceForecaster, evaluate
from frlbench.frl import FRLObjective
from frlbench.registry import BASELINES, FRL_VARIANTS, TASKS
from frlbench.spec import (
    BackboneSpec,
    ConfigError,
    FRLConfig,
    ResolvedTask,
    RunSpec,
    TaskSpec,
    TrainSettings,
    parse_dataclass,
    resolve_task,
)
from frlbench.train import build_model, evaluate_model, fit, resolve_device, seed_everything
from frlbench.validate import nonempty_path

#: The fixed grid of peak learning rates.
LR_GRID = (1e-3, 3e-3, 1e-2)


@dataclasses.dataclass
class TuneRow:
    """One training run of the learning-rate grid.

    Attributes:
        baseline: Baseline name.
        frl: FRL variant.
        lr: Peak learning rate.
        steps: Optimizer steps taken.
        best_step: Step of the selected checkpoint.
        train_s: Wall time of training (validation checks included).
        val_rmse: Best validation RMSE (normalized units, training grid).
        test_ratio: Test RMSE / persistence's RMSE per test resolution (``--evaluate`` only).
        test_rmse: Test RMSE per test resolution, physical units (``--evaluate`` only).
        diverged: Reason the run diverged, else ``""``.
    """

    baseline: str
    frl: str
    lr: float
    steps: int
    best_step: int
    train_s: float
    val_rmse: float
    test_ratio: dict[int, float] = dataclasses.field(default_factory=dict)
    test_rmse: dict[int, float] = dataclasses.field(default_factory=dict)
    diverged: str = ""


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``["steps=300", "residual=true"]`` -> ``{"steps": 300, "residual": True}`` (TOML values).

    Raises:
        ConfigError: For an item without ``=`` or a value TOML cannot read.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set steps=300")
        try:
            out[key.strip()] = tomllib.loads(f"v = {value.strip()}")["v"]
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"--set {item!r}: value is not a TOML value ({exc})") from None
    return out


def with_frl_overrides(cfg: FRLConfig, overrides: dict[str, Any]) -> FRLConfig:
    """``cfg`` with some fields changed, validated like a TOML table.

    Raises:
        ConfigError: For an unknown key (the message lists the valid ones) or a bad value.
    """
    if not overrides:
        return cfg
    return parse_dataclass(FRLConfig, {**dataclasses.asdict(cfg), **overrides}, "--frl-set")


def persistence_rmse(data: PairedDataset, task: ResolvedTask) -> dict[int, float]:
    """Persistence's test RMSE per resolution, from the models' evaluation path (lat-weighted
    on lat-lon grids), so that the printed ratios are the leaderboard's skill ratios."""
    protocol = EvalProtocol.from_task(task)
    evaluation = evaluate(PersistenceForecaster(), data, protocol)
    return {m.resolution: m.rmse for m in evaluation.metrics}


def frl_label(frl: str, overrides: dict[str, Any]) -> str:
    """The FRL column of a row: the variant, and the settings changed, e.g.
    ``full[lambda_spec=0.01]``."""
    if not overrides:
        return frl
    items = sorted(overrides.items())
    return frl + "[" + ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                                for k, v in items) + "]"  # fmt: skip


def _printer(what: str, start: float) -> Callable[[dict[str, Any]], None]:
    """A training callback printing the step, mean training loss, validation RMSE and time."""

    def report(info: dict[str, Any]) -> None:
        print(
            f"  {what} step {info['step']}/{info['steps']} loss {info['loss']:.4g} "
            f"val {info.get('val_rmse', math.nan):.4g} ({time.perf_counter() - start:.0f} s)",
            flush=True,
        )

    return report


def tune(
    task: TaskSpec,
    baseline: BackboneSpec,
    frl: str,
    profile: str,
    lrs: Sequence[float] = LR_GRID,
    *,
    seed: int = 0,
    overrides: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    frl_overrides: dict[str, Any] | None = None,
    run_evaluation: bool = False,
    device: str = "cpu",
    cache_dir: Path | None = None,
    verbose: bool = False,
    on_row: Callable[[TuneRow], None] | None = None,
) -> list[TuneRow]:
    """Train ``baseline`` once per learning rate in ``lrs``; one row each, in ``lrs`` order.

    Args:
        task: The task.
        baseline: The baseline; its settings under ``profile`` and ``frl`` are the start point.
        frl: FRL variant name.
        profile: Profile name.
        lrs: Peak learning rates to try.
        seed: Training seed (the same for every learning rate).
        overrides: Training settings to change besides ``lr`` (e.g. ``{"steps": 300}``).
        options: Backbone ``[options]`` to change (e.g. ``{"pos_frequencies": 0}``).
        frl_overrides: FRL variant settings to change (e.g. ``{"lambda_spec": 0.01}``); the
            rows' ``frl`` column then names them, e.g. ``full[lambda_spec=0.01]``.
        run_evaluation: Also score each run on the test split (reported, never used to choose).
        device: ``auto``, ``cpu`` or ``cuda``.
        cache_dir: Dataset cache directory.
        verbose: Print the step, mean training loss and elapsed time at every check.
        on_row: Called with each row as soon as its run ends (the grid's runs are long: a
            killed tuning keeps what it printed).
    """
    dev = resolve_device(device)
    frl_cfg = with_frl_overrides(FRL_VARIANTS.get(frl), frl_overrides or {})
    label = frl_label(frl, frl_overrides or {})
    base = dataclasses.asdict(baseline.settings(profile, frl, task.name))
    base.update(overrides or {})
    no_rollout = resolve_task(task, profile).with_sizes(rollout_steps=0)
    data = load_dataset(no_rollout, cache_dir=cache_dir, progress=True)
    reference = persistence_rmse(data, no_rollout) if run_evaluation else {}
    rows = []
    for lr in lrs:
        settings = TrainSettings(**{**base, "lr": lr})
        tuned = dataclasses.replace(
            baseline,
            defaults=settings,
            options={**baseline.profile_options(profile, task.name), **(options or {})},
            profiles={},
        )
        spec = RunSpec(no_rollout.spec, tuned, frl_cfg, seed, profile).resolve()
        seed_everything(seed)
        model = build_model(spec, dev)
        objective = FRLObjective(frl_cfg, spec.task, data.train_resolution)
        start = time.perf_counter()
        report = _printer(f"{baseline.name} {label} lr={lr:g}", start) if verbose else None
        result = fit(model, data, objective, settings, dev, seed, report, task=spec.task)
        row = TuneRow(
            baseline=baseline.name,
            frl=label,
            lr=lr,
            steps=result.steps,
            best_step=result.best_step,
            train_s=time.perf_counter() - start,
            val_rmse=result.best_val_rmse,
            diverged=result.diverged,
        )
        if run_evaluation and not result.diverged:
            _protocol, evaluation = evaluate_model(model, data, spec, dev)
            row.test_rmse = {m.resolution: m.rmse for m in evaluation.metrics}
            row.test_ratio = {r: row.test_rmse[r] / reference[r] for r in row.test_rmse}
        rows.append(row)
        if on_row is not None:
            on_row(row)
    return rows


def best(rows: Sequence[TuneRow]) -> TuneRow | None:
    """The row with the lowest validation RMSE among runs that did not diverge."""
    finite = [r for r in rows if not r.diverged and math.isfinite(r.val_rmse)]
    return min(finite, key=lambda r: r.val_rmse) if finite else None


def format_table(rows: Sequence[TuneRow]) -> str:
    """A plain-text table, the chosen learning rate marked with ``*``."""
    chosen = best(rows)
    resolutions = sorted({r for row in rows for r in row.test_rmse})
    head = "baseline | frl | lr | steps | best step | train s | val RMSE"
    head += "".join(f" | RMSE@{r} (/pers.)" for r in resolutions)
    lines = [head]
    for row in rows:
        mark = "*" if row is chosen else " "
        val = row.diverged or f"{row.val_rmse:.4f}"
        line = (
            f"{row.baseline} | {row.frl} | {row.lr:g}{mark} | {row.steps} | {row.best_step} | "
            f"{row.train_s:.1f} | {val}"
        )
        for r in resolutions:
            if r in row.test_rmse:
                line += f" | {row.test_rmse[r]:.4f} ({row.test_ratio[r]:.2f})"
            else:
                line += " | -"
        lines.append(line)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: see the module docstring."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--hop" in argv:
        from frlbench.tools.hop_search import main as hop_main

        hop_main([a for a in argv if a != "--hop"])
        return
    parser = argparse.ArgumentParser(
        prog="frlbench tune",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--task", required=True)
    parser.add_argument("--baseline", required=True, action="append")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--frl", default="off")
    parser.add_argument("--lrs", type=float, nargs="+", default=list(LR_GRID))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="K=V")
    parser.add_argument(
        "--option", dest="options", action="append", default=[], metavar="K=V",
        help="a backbone [options] key, e.g. --option pos_frequencies=0",
    )  # fmt: skip
    parser.add_argument(
        "--frl-set", dest="frl_overrides", action="append", default=[], metavar="K=V",
        help="an FRL variant setting, e.g. --frl-set lambda_spec=0.01",
    )  # fmt: skip
    parser.add_argument("--evaluate", action="store_true", help="also report test RMSEs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(  # an empty value is an error, not the current directory
        "--cache-dir", type=lambda value: nonempty_path(value, "--cache-dir"), default=None
    )
    parser.add_argument("--verbose", action="store_true", help="print progress")
    args = parser.parse_args(argv)
    Catalog.default().load()
    overrides = parse_overrides(args.overrides)
    for name in args.baseline:
        rows = tune(
            TASKS.get(args.task),
            BASELINES.get(name),
            args.frl,
            args.profile,
            args.lrs,
            seed=args.seed,
            overrides=overrides,
            options=parse_overrides(args.options),
            frl_overrides=parse_overrides(args.frl_overrides),
            run_evaluation=args.evaluate,
            device=args.device,
            cache_dir=args.cache_dir,
            verbose=args.verbose,
            on_row=lambda row: print(f"done: {format_table([row]).splitlines()[-1]}", flush=True),
        )
        print(format_table(rows), flush=True)


if __name__ == "__main__":
    main()
