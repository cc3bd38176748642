"""The CLI's error boundary: every user-caused failure ends as a short message, never a traceback.

:class:`UserError` is what validators raise; :func:`error_boundary` turns it, and the library's
own user-facing errors (configuration, unknown names, plugins, unreadable records, file-system
errors such as a full disk or a read-only folder, Ctrl-C) into one to three lines on stderr and
a non-zero exit code. ``FRLBENCH_DEBUG=1`` (or ``frlbench --debug``) shows the traceback too.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: Exit code of a user error (bad option, bad file); 1 stays "some runs failed".
USER_ERROR = 2
#: Exit code of an interrupted command (128 + SIGINT), as shells report it.
INTERRUPTED = 130
#: Exit code of an unexpected internal error (a bug, not a user error).
INTERNAL_ERROR = 70

DEBUG_ENV = "FRLBENCH_DEBUG"

_OS_HINTS = {
    errno.ENOSPC: "disk full (no space left on device)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.EIO: "input/output error (a failing disk or network file system)",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a path component is a file, not a directory",
    errno.EISDIR: "is a directory, expected a file",
    errno.ENOENT: "no such file or directory",
    errno.EEXIST: "already exists",
}


class UserError(Exception):
    """A user-caused problem; the message names what was wrong, where, and what is valid."""


def debug_enabled() -> bool:
    """Whether ``FRLBENCH_DEBUG`` asks for tracebacks."""
    return os.environ.get(DEBUG_ENV, "").strip().lower() not in ("", "0", "false", "no")


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system error: what failed, on which path, and why in words."""
    why = _OS_HINTS.get(exc.errno or -1, exc.strerror or str(exc))
    path = exc.filename if exc.filename is not None else ""
    if path and exc.filename2 is not None:
        path = f"{path} -> {exc.filename2}"
    return f"{path}: {why}" if path else why


def describe_failure(exc: BaseException) -> str:
    """The ``reason`` stored in a failed run's record; a full disk is named as such."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full (ENOSPC): {describe_os_error(exc)}"
    if isinstance(exc, OSError) and exc.errno in (errno.EIO, errno.EROFS):
        return f"storage error ({errno.errorcode[exc.errno]}): {describe_os_error(exc)}"
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def user_message(
    exc: BaseException, user_errors: tuple[type[BaseException], ...] = ()
) -> str | None:
    """The message to show for a user-caused exception, or ``None`` if it is a bug.

    Args:
        exc: The exception that ended a command.
        user_errors: Further exception types (beside :class:`UserError`) whose message is
            shown as is: the library's configuration, record and registry errors, which the
            caller names so that this core module imports none of those layers.
    """
    if isinstance(exc, (UserError, *user_errors)):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot complete the command: {describe_os_error(exc)}"
    if isinstance(exc, MemoryError):
        return "out of memory; try smaller --resolutions, fewer --jobs or a smaller profile"
    return None


def _passthrough(typer: Any) -> tuple[type[BaseException], ...]:
    """Exceptions the command-line framework handles itself (usage errors, exits)."""
    from typer.exceptions import TyperException  # base of typer's (vendored click) usage errors

    return (TyperException, typer.Exit, typer.Abort)


def _print(message: str) -> None:
    from rich.markup import escape

    from frlbench.terminal import SafeConsole

    SafeConsole(stderr=True, soft_wrap=True).print(
        f"[bold red]error:[/] {escape(message)}", highlight=False
    )


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`KeyboardInterrupt` (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def error_boundary(
    debug: Callable[[], bool] = debug_enabled,
    user_errors: tuple[type[BaseException], ...] = (),
) -> Iterator[None]:
    """Turn user errors, file-system errors and Ctrl-C into a message and an exit code.

    ``user_errors`` are the library's own user-facing exception types (see
    :func:`user_message`).

    A SIGTERM (``kill``, a scheduler's time limit) is handled like Ctrl-C: the same cleanup runs
    (workers stopped, nothing half-written) and the same one line is printed.

    Raises:
        SystemExit: 2 for a user error, 130 for Ctrl-C or SIGTERM, 70 for an unexpected error.
    """
    try:
        with _sigterm_as_interrupt():
            yield
    except KeyboardInterrupt:
        if debug():
            traceback.print_exc()
        _print(
            "interrupted; finished runs are kept and nothing is half-written: "
            "run the same command again to resume"
        )
        raise SystemExit(INTERRUPTED) from None
    except (SystemExit, GeneratorExit):
        raise
    except Exception as exc:
        import typer

        if isinstance(exc, _passthrough(typer)):
            raise
        if debug():
            traceback.print_exc()
        message = user_message(exc, user_errors)
        if message is None:
            _print(
                f"internal error: {type(exc).__name__}: {exc} "
                f"(a bug in frlbench; rerun with {DEBUG_ENV}=1 or --debug for the traceback)"
            )
            raise SystemExit(INTERNAL_ERROR) from None
        _print(message)
        raise SystemExit(USER_ERROR) from None
