"""One lock file per run, so two ``frlbench run`` commands never train the same run twice.

The lock is ``<run-dir>/.lock``, created with ``O_CREAT | O_EXCL`` (atomic, also on NFS v3+)
and holding ``<pid> <host>`` of the command that owns it. A lock left by a process that no
longer exists on this host (killed with SIGKILL, a crashed machine's reboot) is stale and
taken over; a lock of another host is always respected.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

LOCK_NAME = ".lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def lock_owner(path: Path) -> tuple[int, str] | None:
    """``(pid, host)`` written in a lock file, or ``None`` if it is absent or unreadable."""
    try:
        pid, host = Path(path).read_text().split(maxsplit=1)
        return int(pid), host.strip()
    except (OSError, ValueError):
        return None


def is_stale(path: Path) -> bool:
    """Whether the lock at ``path`` belongs to a process of this host that has exited.

    An unreadable lock (being written this instant, or garbage) is not stale.
    """
    owner = lock_owner(path)
    if owner is None:
        return False
    pid, host = owner
    return host == socket.gethostname() and not _alive(pid)


class RunLock:
    """An exclusive lock on one run directory.

    Args:
        run_dir: The run's directory (created if needed).
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.held = False

    def acquire(self) -> bool:
        """Take the lock; ``False`` if a live process holds it. A stale lock is taken over."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not is_stale(self.path):
                    return False
                self.path.unlink(missing_ok=True)  # stale: its owner is gone
                continue
            with os.fdopen(fd, "w") as fh:
                fh.write(f"{os.getpid()} {socket.gethostname()}\n")
            self.held = True
            return True
        return False

    def release(self) -> None:
        """Remove the lock if this object holds it."""
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
