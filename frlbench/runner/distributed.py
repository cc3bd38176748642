"""Ray and Slurm (submitit) backends.

Both execute :func:`~frlbench.runner.execute.execute_run` remotely; workers write their
records into the same results directory, so the directory must be on a shared filesystem
(as it is for a local Ray cluster and for submitit's local executor used in tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from frlbench.registry import register_backend
from frlbench.runner.execute import execute_run, failed_record
from frlbench.runner.progress import GridProgress
from frlbench.runner.store import RunStore
from frlbench.spec import RunPlan


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise RuntimeError(
            f"the {module} backend needs the optional dependency {module!r}: "
            'pip install -e ".[distributed]"'
        ) from None


def _record_outcome(store: RunStore, plan: RunPlan, error: BaseException | None) -> str:
    if error is not None and store.state(plan.run_id) in ("missing", "corrupt"):
        store.save(failed_record(plan, f"worker error: {type(error).__name__}: {error}"), None)
    return store.read(plan.run_id).status


@register_backend("ray", description="any Ray cluster (address via --ray-address), or a local one")
def run_ray(
    plans: Sequence[RunPlan],
    out: Path,
    *,
    device: str = "auto",
    cache_dir: Path | None = None,
    plugins_dir: Path | None = None,
    display: GridProgress,
    ray_address: str | None = None,
    jobs: int = 1,
    **_: Any,
) -> None:
    """Execute ``plans`` as Ray tasks (one CPU each, or one GPU when ``device`` is cuda)."""
    ray = _require("ray")
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(
            address=ray_address,
            num_cpus=None if ray_address else jobs,
            include_dashboard=False,
            log_to_driver=False,
        )
    try:
        num_gpus = 1 if device == "cuda" else 0
        remote = ray.remote(num_cpus=1, num_gpus=num_gpus, max_retries=0)(execute_run)
        refs = {}
        for plan in plans:
            ref = remote.remote(
                plan, Path(out), device=device, cache_dir=cache_dir, plugins_dir=plugins_dir
            )
            refs[ref] = plan
            display.started(plan.run_id)
        store = RunStore(out)
        while refs:
            done, _ = ray.wait(list(refs), num_returns=1)
            plan = refs.pop(done[0])
            error = None
            try:
                ray.get(done[0])
            except Exception as exc:  # the worker died (OOM, node lost)
                error = exc
            display.finished(plan.run_id, _record_outcome(store, plan, error))
    finally:
        if started_here:
            ray.shutdown()


@register_backend("slurm", description="Slurm cluster through submitit (--slurm-partition ...)")
def run_slurm(
    plans: Sequence[RunPlan],
    out: Path,
    *,
    device: str = "auto",
    cache_dir: Path | None = None,
    plugins_dir: Path | None = None,
    display: GridProgress,
    slurm_partition: str | None = None,
    slurm_timeout_min: int = 60,
    submitit_cluster: str | None = None,
    **_: Any,
) -> None:
    """Submit one Slurm job per run through submitit and wait for all of them.

    ``submitit_cluster="local"`` runs the jobs as local processes (used by the tests).
    """
    submitit = _require("submitit")
    executor = submitit.AutoExecutor(folder=Path(out) / "submitit", cluster=submitit_cluster)
    params: dict[str, Any] = {"timeout_min": slurm_timeout_min, "cpus_per_task": 2}
    if slurm_partition:
        params["slurm_partition"] = slurm_partition
    if device == "cuda":
        params["gpus_per_node"] = 1
    executor.update_parameters(**params)
    jobs = []
    for plan in plans:
        job = executor.submit(
            execute_run,
            plan,
            Path(out),
            device=device,
            cache_dir=cache_dir,
            plugins_dir=plugins_dir,
        )
        jobs.append((job, plan))
        display.started(plan.run_id)
    store = RunStore(out)
    for job, plan in jobs:
        error = None
        try:
            job.result()
        except Exception as exc:  # job failed outside execute_run (timeout, node failure)
            error = exc
        display.finished(plan.run_id, _record_outcome(store, plan, error))
