"""What a record says about where it was measured: versions, commit, machine."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch


def git_commit() -> str:
    """Commit of the source tree frlbench runs from (``-dirty`` if modified; else "unknown")."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment(device: torch.device | str = "cpu") -> dict[str, str | int | float]:
    """Library versions, git commit and machine facts recorded with every run."""
    device = torch.device(device)
    env: dict[str, str | int | float] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    for package in ("frlbench", "torch", "neuraloperator", "torch-harmonics", "numpy"):
        try:
            env[package] = version(package)
        except PackageNotFoundError:
            env[package] = "not installed"
    env["git_commit"] = git_commit()
    env["host"] = platform.node()
    env["cpu_threads"] = torch.get_num_threads()
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
    return env


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB.

    On Linux this is ``VmHWM`` from ``/proc/self/status``: ``ru_maxrss`` would be wrong in a
    worker, because Linux carries the parent's high-water mark across fork + exec.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # bytes on macOS


def reset_peak_rss() -> bool:
    """Reset this process's peak resident memory (``VmHWM``) to its current resident size.

    A worker process that executes several runs resets it before each, so that every run's
    ``peak_memory_mb`` is its own peak, not the worker's. Linux only (``/proc/self/clear_refs``,
    value 5); returns ``False`` where the reset is not possible, and the caller must then use a
    fresh process per run.
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True
