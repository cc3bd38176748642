"""One lock file per run, so two ``frlbench run`` commands never train the same run twice.

The lock is ``<run-dir>/.lock`` holding ``<pid> <host>`` of the command that owns it. It is
written in full under a temporary name, then hard-linked to ``.lock`` (``link`` fails if the
name exists: atomic, also on NFS v3+), so a lock is never seen half-written. A lock left by a
process that no longer exists on this host (killed with SIGKILL, a crashed machine's reboot) is
stale and taken over, and so is a lock that cannot be valid: empty, not ``<pid> <host>``, or a
pid that no process can have (zero, negative, above the system's largest pid). A well-formed lock
of another host is always respected.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
from pathlib import Path

from frlbench.safeio import check_inside, make_dirs

LOCK_NAME = ".lock"
#: Largest pid of any POSIX system (Linux's ``pid_max`` is at most 2**22).
MAX_PID = 2**22
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def _max_pid() -> int:
    try:
        return int(Path("/proc/sys/kernel/pid_max").read_text().strip())
    except (OSError, ValueError):
        return MAX_PID


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    except (OverflowError, ValueError, OSError):  # not a pid this system can have
        return False
    return True


def lock_owner(path: Path) -> tuple[int, str] | None:
    """``(pid, host)`` written in a lock file, or ``None`` if it is absent or malformed."""
    try:
        pid, host = Path(path).read_bytes().decode("utf-8").split(maxsplit=1)
        return int(pid), host.strip()
    except (OSError, ValueError):  # UnicodeDecodeError is a ValueError
        return None


def stale_reason(path: Path) -> str | None:
    """Why the lock at ``path`` is stale, or ``None`` if a live process may hold it.

    Stale: malformed (empty, not ``<pid> <host>``), an impossible pid, or the pid of a process of
    this host that has exited. A lock that vanished meanwhile is not stale (there is none).
    """
    if not path.exists():
        return None
    owner = lock_owner(path)
    if owner is None:
        return "it does not hold '<pid> <host>'"
    pid, host = owner
    if not 0 < pid <= _max_pid():
        return f"pid {pid} is not a possible process id"
    if host == socket.gethostname() and not _alive(pid):
        return f"process {pid} of this host has exited"
    return None


def is_stale(path: Path) -> bool:
    """Whether the lock at ``path`` may be taken over (see :func:`stale_reason`)."""
    return stale_reason(path) is not None


class RunLock:
    """An exclusive lock on one run directory.

    Args:
        run_dir: The run's directory (created if needed).
        root: The results folder; no symlink below it is followed.

    Attributes:
        taken_over: After :meth:`acquire`, a sentence naming a stale lock it replaced, or "".
    """

    def __init__(self, run_dir: Path, root: Path | None = None) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.root = root
        self.held = False
        self.taken_over = ""

    def _create(self) -> bool:
        """Create the lock in one step; ``False`` if it exists."""
        make_dirs(self.path.parent, self.root)
        check_inside(self.path, self.root)
        tmp = self.path.with_name(f".lock.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
        fd = os.open(tmp, flags, 0o644)
        try:
            try:
                with os.fdopen(fd, "w") as fh:
                    fh.write(f"{os.getpid()} {socket.gethostname()}\n")
            except OSError as exc:  # a full disk: name the lock, not just the error
                raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
            try:
                os.link(tmp, self.path)
            except FileExistsError:
                return False
            except OSError as exc:  # a file system without hard links
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                    raise
                return self._create_in_place()
            return True
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def _create_in_place(self) -> bool:
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | _NOFOLLOW, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            fh.write(f"{os.getpid()} {socket.gethostname()}\n")
        return True

    def acquire(self) -> bool:
        """Take the lock; ``False`` if a live process holds it. A stale lock is taken over
        (:attr:`taken_over` says so)."""
        for _ in range(3):
            if self._create():
                self.held = True
                return True
            if not self.path.exists():  # released meanwhile: try again
                continue
            reason = stale_reason(self.path)
            if reason is None:
                return False
            self.path.unlink(missing_ok=True)  # stale: its owner is gone
            self.taken_over = f"stale lock {self.path} taken over ({reason})"
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
