"""Model zoo: what every registered backbone is, and what it costs to run.

``python -m frlbench.tools.zoo`` measures every backbone and size and writes
``docs/model_zoo.md``. Each measurement runs in a fresh subprocess so that its peak resident
memory (``VmHWM`` of the whole process, libraries included) belongs to that measurement
alone; timings are taken after a warm-up pass, as the fastest of the repeats.

Inside one subprocess the forward pass (under ``torch.no_grad``) is measured before the
forward+backward pass, so the peak reading taken after the forward pass is the forward peak,
and the reading after forward+backward is the training peak.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from frlbench.catalog import discover_plugins
from frlbench.env import peak_rss_mib
from frlbench.models.common import backbone_sizes, count_parameters, create_backbone
from frlbench.registry import BACKBONES
from frlbench.safeio import write_atomic
from frlbench.spec import TaskProfile, TaskSpec
from frlbench.tools.param_counts import CountCache, count_key

DEFAULT_PATH = Path("docs/model_zoo.md")
# Everything from this marker on is written by benchmarks/bench_frl.py and kept on rewrites.
KEPT_SECTION_MARK = "<!-- frl-overhead:"


def zoo_task(ndim: int = 3, channels: int = 3, train_resolution: int = 16) -> TaskSpec:
    """A periodic task of the given shape, used to build backbones for inspection."""
    return TaskSpec(
        name=f"zoo{ndim}d",
        builder="none",
        ndim=ndim,
        channels=tuple(f"c{i}" for i in range(channels)),
        profiles={
            "quick": TaskProfile(
                train_resolution=train_resolution,
                test_resolutions=(train_resolution,),
                reference_resolution=train_resolution,
                n_train=1,
                n_val=1,
                n_test=1,
            )
        },
    )


def describe_backbones(
    ndim: int = 3,
    channels: int = 3,
    names: Sequence[str] | None = None,
    counts: CountCache | None = None,
) -> list[dict[str, Any]]:
    """Name, family, sizes and parameter count per size of registered backbones.

    Models are built on the ``meta`` device, so nothing is allocated and even ``base`` sizes
    are counted in milliseconds.

    Args:
        ndim: Spatial dimensions of the task the models are built for.
        channels: Input and output channels.
        names: Backbones to describe (default: every registered one, plugins included).
        counts: Parameter counts kept from earlier calls; a backbone found there is not built.

    Returns:
        One dict per backbone, sorted by name: ``name``, ``family``, ``sizes`` (tuple),
        ``parameters`` (size -> real-valued parameter count, complex weights counting twice;
        ``None`` where building failed), ``source`` (the module or plugin file that
        registered it) and ``error`` (why a size failed to build, else ``""``).
    """
    discover_plugins()
    task = zoo_task(ndim, channels)
    rows = []
    for name in sorted(names) if names is not None else BACKBONES.list():
        entry = BACKBONES.entry(name)
        sizes = backbone_sizes(name)
        key = count_key(name, ndim, channels) if counts is not None else ""
        cached = counts.get(key) if counts is not None else None
        parameters: dict[str, int | None] = dict(cached or {})
        errors = []
        for size in sizes if cached is None else ():
            try:
                with torch.device("meta"):
                    model = create_backbone(name, task, channels, channels, size=size)
                parameters[size] = count_parameters(model)
            except Exception as exc:  # a broken plugin is reported in the listing, not hidden
                parameters[size] = None
                errors.append(f"{size}: {exc!r}")
        if counts is not None and cached is None and not errors:
            counts.put(key, {k: v for k, v in parameters.items() if v is not None})
        rows.append(
            {
                "name": name,
                "family": entry.info.family,
                "sizes": sizes,
                "parameters": parameters,
                "source": entry.source,
                "error": "; ".join(errors),
            }
        )
    return rows


@dataclasses.dataclass(frozen=True)
class Measurement:
    """Cost of one backbone at one size, resolution and batch size.

    Attributes:
        backbone: Registered name.
        size: ``tiny``, ``small`` or ``base``.
        resolution: Grid points per axis.
        batch_size: Samples per pass.
        parameters: Real-valued parameter count.
        rss_before_mb: Process RSS after import, model build and input allocation (MiB).
        forward_s: Seconds of one forward pass (no grad), fastest repeat; None if not run.
        forward_peak_mb: Peak process RSS through the forward passes (MiB).
        backward_s: Seconds of forward + backward, fastest repeat; None if skipped.
        backward_peak_mb: Peak process RSS through forward + backward (MiB).
        note: Why something was skipped or failed, or empty.
    """

    backbone: str
    size: str
    resolution: int
    batch_size: int
    parameters: int = 0
    rss_before_mb: float | None = None
    forward_s: float | None = None
    forward_peak_mb: float | None = None
    backward_s: float | None = None
    backward_peak_mb: float | None = None
    note: str = ""


def _current_rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 1024**2


def _time_repeats(fn: Callable[[], None], min_total_s: float, max_repeats: int) -> float:
    """Fastest time of ``fn`` after one warm-up call; repeats until ``min_total_s`` is spent.

    The minimum, not the median: on a shared machine it is the repeat least disturbed by
    other processes, so it estimates the cost of the model rather than of the neighbours.
    """
    fn()  # warm-up: allocator, kernel selection, cached grids
    times: list[float] = []
    while len(times) < max_repeats and (not times or sum(times) < min_total_s):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def measure_in_process(
    backbone: str,
    size: str,
    resolution: int,
    batch_size: int,
    *,
    ndim: int = 3,
    channels: int = 3,
    backward: bool = True,
    backward_budget_s: float = 60.0,
    min_total_s: float = 1.0,
    max_repeats: int = 5,
    seed: int = 0,
    threads: int | None = None,
) -> Measurement:
    """Measure one configuration in the current process (see :func:`measure` for isolation).

    The forward+backward pass is skipped, with a note, when the forward time suggests that
    its warm-up and one repeat would take longer than ``backward_budget_s``. ``threads``
    sets torch's intra-op threads (default: torch's own choice).
    """
    discover_plugins()
    if threads is not None:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = create_backbone(backbone, zoo_task(ndim, channels), channels, channels, size=size)
    x = torch.randn(batch_size, channels, *([resolution] * ndim))
    base = Measurement(backbone, size, resolution, batch_size, count_parameters(model))
    rss_before = _current_rss_mb()

    def forward() -> None:
        with torch.no_grad():
            model(x)

    forward_s = _time_repeats(forward, min_total_s, max_repeats)
    forward_peak = peak_rss_mib()
    fields = dict(rss_before_mb=rss_before, forward_s=forward_s, forward_peak_mb=forward_peak)
    # a backward pass costs about twice a forward pass; warm-up plus one repeat = 2 passes
    estimate = 2 * 3 * forward_s
    if not backward:
        return dataclasses.replace(base, **fields)
    if estimate > backward_budget_s:
        note = f"fwd+bwd skipped: estimated {estimate:.0f} s > budget {backward_budget_s:.0f} s"
        return dataclasses.replace(base, **fields, note=note)

    own_loss = getattr(model, "training_loss", None)

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        if own_loss is not None:  # e.g. diffusion: a training step is the denoising loss
            own_loss(x, x).backward()
        else:
            model(x).square().mean().backward()

    backward_s = _time_repeats(forward_backward, min_total_s, max_repeats)
    note = "fwd = forecast (sampler); fwd+bwd = its training_loss" if own_loss else ""
    return dataclasses.replace(
        base, **fields, backward_s=backward_s, backward_peak_mb=peak_rss_mib(), note=note
    )


def measure(
    backbone: str,
    size: str,
    resolution: int,
    batch_size: int,
    *,
    ndim: int = 3,
    channels: int = 3,
    backward: bool = True,
    backward_budget_s: float = 60.0,
    timeout_s: float = 300.0,
    threads: int | None = None,
) -> Measurement:
    """Measure one configuration in a fresh subprocess, so its peak memory is its own.

    A subprocess that fails or exceeds ``timeout_s`` gives a :class:`Measurement` whose
    ``note`` says so, rather than an exception: one slow model does not sink the table.
    """
    args = {
        "backbone": backbone,
        "size": size,
        "resolution": resolution,
        "batch_size": batch_size,
        "ndim": ndim,
        "channels": channels,
        "backward": backward,
        "backward_budget_s": backward_budget_s,
        "threads": threads,
    }
    command = [sys.executable, "-m", "frlbench.tools.zoo", "--measure", json.dumps(args)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout_s, check=False
        )
    except subprocess.TimeoutExpired:
        return Measurement(
            backbone, size, resolution, batch_size, note=f"timed out after {timeout_s:.0f} s"
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Measurement(backbone, size, resolution, batch_size, note=f"failed: {last}")
    return Measurement(**json.loads(done.stdout.strip().splitlines()[-1]))


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds * 1e3:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _mb(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _table(rows: Sequence[Measurement], families: dict[str, str]) -> list[str]:
    lines = [
        "| backbone | family | size | parameters | fwd | fwd peak RSS (MiB) "
        "| fwd+bwd | fwd+bwd peak RSS (MiB) | RSS before (MiB) | note |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for m in rows:
        lines.append(
            f"| {m.backbone} | {families.get(m.backbone, '')} | {m.size} | {m.parameters:,} "
            f"| {_ms(m.forward_s)} | {_mb(m.forward_peak_mb)} | {_ms(m.backward_s)} "
            f"| {_mb(m.backward_peak_mb)} | {_mb(m.rss_before_mb)} | {m.note} |"
        )
    return lines


def _measure_rows(
    names: Sequence[str],
    sizes: Sequence[str] | None,
    resolution: int,
    batch_size: int,
    progress: Callable[[str], None] | None,
    **options: Any,
) -> list[Measurement]:
    """One table: every size of every backbone at one grid and batch size, each in its own
    subprocess (:func:`measure`), reported to ``progress`` as it ends."""
    rows = []
    for name in names:
        for size in [s for s in backbone_sizes(name) if sizes is None or s in sizes]:
            m = measure(name, size, resolution, batch_size, **options)
            rows.append(m)
            if progress is not None:
                progress(
                    f"{name:12s} {size:5s} {resolution}^{options['ndim']} x{batch_size}: "
                    f"fwd {_ms(m.forward_s)}, peak {_mb(m.forward_peak_mb)} MiB; "
                    f"fwd+bwd {_ms(m.backward_s)}, peak {_mb(m.backward_peak_mb)} MiB "
                    f"{m.note}"
                )
    return rows


def _header(ndim: int, channels: int, threads: int | None, elapsed: float) -> list[str]:
    """The model zoo's title, provenance and how it was measured."""
    command = "frlbench zoo" + (f" --threads {threads}" if threads else "")
    return [
        "# Model zoo",
        "",
        f"<!-- generated by `{command}`; do not edit by hand -->",
        "",
        f"Cost of every registered backbone on a {ndim}D periodic grid with {channels} input "
        f"and {channels} output channels, measured on CPU with "
        f"{threads or torch.get_num_threads()} thread(s) per measurement on "
        f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}, "
        f"torch {torch.__version__}) on {datetime.date.today().isoformat()}; "
        f"the whole run took {elapsed / 60:.1f} min.",
        "",
        "How it is measured: every row runs in a fresh subprocess; times are the fastest of "
        "1–5 repeats after one warm-up pass (forward under `torch.no_grad`; forward+backward of a "
        "mean-square loss, or of the model's own `training_loss` where it has one (diffusion: "
        "its fwd is the few-step sampler, its fwd+bwd the denoising loss), no optimizer "
        "step). Peak RSS is the peak resident memory of that "
        "whole process (`VmHWM`), so it includes the ~300–500 MiB of Python, torch and "
        "neuraloperator shown as *RSS before* (after import, model build and input "
        "allocation). Parameters count real values (a complex weight counts twice). "
        "Timings on a shared machine are noisy; compare orders of magnitude.",
        "",
    ]


def write_model_zoo(
    path: Path | str = DEFAULT_PATH,
    *,
    backbones: Sequence[str] | None = None,
    sizes: Sequence[str] | None = None,
    ndim: int = 3,
    channels: int = 3,
    train_resolution: int = 16,
    train_batch_size: int = 8,
    scale: int = 4,
    backward_budget_s: float = 45.0,
    timeout_s: float = 240.0,
    threads: int | None = None,
    progress: Callable[[str], None] | None = print,
) -> list[Measurement]:
    """Measure backbones and write the model-zoo markdown table to ``path``.

    Two tables: the training resolution at the training batch size (the cost of one training
    step), and ``scale`` times the training resolution at batch 1 (the cost of zero-shot
    super-resolution inference).

    Args:
        path: Markdown file to write.
        backbones: Names to measure (default: every registered backbone).
        sizes: Sizes to measure (default: every size each backbone declares).
        ndim: Spatial dimensions.
        channels: Input and output channels.
        train_resolution: Training grid points per axis.
        train_batch_size: Batch size at the training resolution.
        scale: Test resolution = ``scale × train_resolution``, at batch size 1.
        backward_budget_s: Skip forward+backward (with a note) when it would take longer.
        timeout_s: Give up on one subprocess after this long (noted in the table).
        threads: torch intra-op threads in each measurement (default: torch's choice, one
            per core). On a machine shared with other jobs, 1 gives far steadier numbers.
        progress: Called with one line per measurement (``None`` for silence).

    Returns:
        Every measurement, in table order.
    """
    discover_plugins()
    names = list(backbones) if backbones is not None else BACKBONES.list()
    families = {n: BACKBONES.entry(n).info.family for n in names}
    test_resolution = scale * train_resolution
    setups = [
        (train_resolution, train_batch_size, "training resolution"),
        (test_resolution, 1, f"{scale}× the training resolution"),
    ]
    started = time.perf_counter()
    measure_options = dict(ndim=ndim, channels=channels, backward_budget_s=backward_budget_s,
                           timeout_s=timeout_s, threads=threads)  # fmt: skip
    tables = [
        _measure_rows(names, sizes, resolution, batch_size, progress, **measure_options)
        for resolution, batch_size, _ in setups
    ]
    lines = _header(ndim, channels, threads, time.perf_counter() - started)
    for (resolution, batch_size, label), rows in zip(setups, tables, strict=True):
        shape = "×".join([str(resolution)] * ndim)
        lines += [f"## {shape}, batch {batch_size} ({label})", ""]
        lines += _table(rows, families)
        lines.append("")
    path = Path(path)
    # Keep the sections other tools generate into this file (benchmarks/bench_frl.py --doc).
    kept = path.read_text().partition(KEPT_SECTION_MARK) if path.exists() else ("", "", "")
    write_atomic(path, "\n".join(lines) + (kept[1] + kept[2] if kept[1] else ""))
    return [m for rows in tables for m in rows]


def main(argv: Sequence[str] | None = None) -> None:
    """Internal command line of :func:`measure`'s subprocess: one measurement, as JSON.

    The model zoo itself is written by ``frlbench zoo`` (:func:`write_model_zoo`).
    """
    parser = argparse.ArgumentParser(
        prog="python -m frlbench.tools.zoo",
        description="One model-zoo measurement (internal); write the zoo with `frlbench zoo`.",
    )
    parser.add_argument("--measure", required=True, help="JSON keyword arguments")
    args = parser.parse_args(argv)
    result = measure_in_process(**json.loads(args.measure))
    print(json.dumps(dataclasses.asdict(result)))


if __name__ == "__main__":
    main()
