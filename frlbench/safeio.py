"""The one way frlbench writes a file: atomically, inside a named root, never through a symlink.

A *root* is a folder the user named (``--out``, ``--cache-dir``) or its default. It is resolved
once, following symlinks (:func:`resolve_root`): a results folder that is a link to a big disk is
legitimate. Below it nothing is followed: every folder on the way to a file is checked not to be
a symlink (and created as a plain folder where missing), the file is first written under a fresh
temporary name created with ``O_CREAT | O_EXCL | O_NOFOLLOW``, then ``os.replace``\\d onto its
name, so a crash never leaves half a file and a link planted at the target is never followed.

Libraries that write by path (matplotlib, pandas, xarray, ``torch.save``) get such a temporary
path from :func:`atomic_path`. A library that fails on a full disk without saying so (torch raises
``RuntimeError: [enforce fail at inline_container.cc] ... unexpected pos``) is re-checked with
``os.statvfs`` on the target's file system, and the failure is raised as ``OSError(ENOSPC)``.

This module is core: it imports nothing of frlbench.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

#: Free bytes under which a failed write is taken for a full disk.
FULL_DISK_BYTES = 1 << 20
#: Errors of the storage itself (not of the user's input): recorded and reported as such.
STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class UnsafePathError(OSError):
    """A path below a root is a symlink (or leaves the root): frlbench does not write there."""


def resolve_root(path: Path | str) -> Path:
    """The absolute, symlink-free form of a root folder the user named (or its default)."""
    return Path(os.path.abspath(os.path.expanduser(path))).resolve()


def _refuse(path: Path, why: str) -> UnsafePathError:
    return UnsafePathError(errno.ELOOP, why, str(path))


def check_inside(path: Path, root: Path | None) -> Path:
    """``path`` as an absolute path, checked to lie under ``root`` with no symlink below it.

    Every existing component between ``root`` and ``path`` (``path`` included) is checked with
    ``lstat``: a symlink there is refused. Without a root only ``path`` itself is checked.

    Raises:
        UnsafePathError: Naming the component that is a symlink, or the path outside ``root``.
    """
    path = Path(os.path.abspath(path))
    if root is None:
        parts = [path]
    else:
        root = Path(os.path.abspath(root))
        try:
            relative = path.relative_to(root)
        except ValueError:
            raise _refuse(path, f"outside the folder frlbench writes to ({root})") from None
        parts = [root.joinpath(*relative.parts[: i + 1]) for i in range(len(relative.parts))]
    for part in parts:
        try:
            mode = os.lstat(part).st_mode
        except FileNotFoundError:
            break
        if stat.S_ISLNK(mode):
            raise _refuse(part, "is a symlink; frlbench does not write through symlinks")
    return path


def make_dirs(directory: Path, root: Path | None = None) -> Path:
    """Create ``directory`` (and its missing parents) below ``root``, refusing symlinks."""
    directory = check_inside(directory, root)
    if root is None:
        directory.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(os.path.abspath(root))
        root.mkdir(parents=True, exist_ok=True)
        current = root
        for part in directory.relative_to(root).parts:
            current = current / part
            with contextlib.suppress(FileExistsError):
                current.mkdir()
    mode = os.lstat(directory).st_mode
    if stat.S_ISLNK(mode):  # created by someone else between the check and here
        raise _refuse(directory, "is a symlink; frlbench does not write through symlinks")
    if not stat.S_ISDIR(mode):
        raise NotADirectoryError(errno.ENOTDIR, "is not a directory", str(directory))
    return directory


def free_bytes(path: Path) -> int | None:
    """Bytes available to this user on the file system of ``path`` (``None`` if unknown)."""
    for candidate in (Path(path), *Path(path).parents):
        try:
            info = os.statvfs(candidate)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        return info.f_bavail * info.f_frsize
    return None


def as_storage_error(exc: BaseException, path: Path) -> OSError | None:
    """``exc`` as an ``OSError`` when it is (or hides) a storage fault, else ``None``.

    An ``OSError`` with ENOSPC, EDQUOT, EIO or EROFS is one. Any other exception from a writer
    counts as a full disk only if ``os.statvfs`` says the file system of ``path`` has less than
    :data:`FULL_DISK_BYTES` left; its message text is never trusted.
    """
    if isinstance(exc, OSError):
        return exc if exc.errno in STORAGE_ERRNOS else None
    free = free_bytes(path)
    if free is not None and free < FULL_DISK_BYTES:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
    return None


def _fresh_temp(directory: Path, name: str) -> tuple[int, Path]:
    """A new, empty file in ``directory`` no one else has opened (``O_EXCL | O_NOFOLLOW``)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    for attempt in range(100):
        tmp = directory / f".{name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            return os.open(tmp, flags, 0o644), tmp
        except FileExistsError:
            if attempt == 99:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def atomic_path(path: Path, *, root: Path | None = None) -> Iterator[Path]:
    """A fresh temporary path beside ``path``; on success it replaces ``path`` atomically.

    For libraries that write by path. The folder is checked (no symlink below ``root``) and
    created; the temporary file is created empty with ``O_EXCL | O_NOFOLLOW`` first, so the
    library writes into a file frlbench made. On failure the temporary file is removed, and a
    failure that hides a full disk is raised as ``OSError(ENOSPC)`` naming ``path``.

    Raises:
        UnsafePathError: If ``path`` or a folder above it (below ``root``) is a symlink.
    """
    path = check_inside(path, root)
    make_dirs(path.parent, root)
    fd, tmp = _fresh_temp(path.parent, path.name)
    os.close(fd)
    try:
        yield tmp
        check_inside(path, root)  # a link planted meanwhile is refused, not replaced
        os.replace(tmp, path)
    except Exception as exc:
        storage = as_storage_error(exc, path)  # checked while the partial file still fills it
        with contextlib.suppress(OSError):
            tmp.unlink()
        if storage is not None and (storage is not exc or exc.filename is None):
            # name the file, also for errors raised by a write on an open file (no filename)
            raise OSError(storage.errno, os.strerror(storage.errno or 0), str(path)) from exc
        raise
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_atomic(
    path: Path,
    content: bytes | str | Callable[[Path], None],
    *,
    root: Path | None = None,
    durable: bool = False,
) -> Path:
    """Write ``content`` to ``path`` atomically, inside ``root``, never through a symlink.

    Args:
        path: The file to write.
        content: Bytes, text (UTF-8) or a function that writes the file at the path it is given.
        root: The folder the user named; nothing below it may be a symlink.
        durable: ``fsync`` the file before it replaces ``path`` (records).

    Returns:
        ``path`` as an absolute path.
    """
    with atomic_path(path, root=root) as tmp:
        if callable(content):
            content(tmp)
        else:
            data = content.encode("utf-8") if isinstance(content, str) else content
            fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | _NOFOLLOW)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                if durable:
                    os.fsync(fh.fileno())
    return Path(os.path.abspath(path))
