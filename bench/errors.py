"""Exit codes and the one error type the CLI turns into a one-line message.

Exit codes (documented in docs/reliability.md and in ``python -m bench --help``):

* 0 — everything ran and passed
* 1 — at least one benchmark or check failed
* 2 — bad input: unknown name, bad value, unreadable file, unwritable folder, full disk
* 3 — the requested device is not available here (e.g. ``cuda`` without a GPU)
* 130 — interrupted (Ctrl-C or SIGTERM): the cases that finished are saved, marked partial
"""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130  # as a shell reports Ctrl-C


class BenchError(Exception):
    """An expected failure: printed as one line, exits with ``exit_code``."""

    exit_code = EXIT_USAGE


class UsageError(BenchError):
    """Bad input from the user (names, values, files)."""

    exit_code = EXIT_USAGE


class FileError(BenchError):
    """A file or folder that cannot be read or written: missing, unreadable, a full disk."""

    exit_code = EXIT_USAGE


# What an OSError says, in the words of our one-line errors
_REASONS = {errno.ENOENT: "no such file", errno.EISDIR: "a folder, not a file", errno.ENOTDIR: "not a folder"}


@contextlib.contextmanager
def file_errors(message: str) -> Iterator[None]:
    """The one place where OSError becomes a :class:`FileError`: ``message`` then the reason, e.g.
    ``with file_errors(f"cannot write {path}"): ...`` gives ``cannot write PATH: No space left on device``."""
    try:
        yield
    except OSError as error:
        reason = _REASONS.get(error.errno or 0) or error.strerror or str(error)
        raise FileError(f"{message}: {reason}") from None


class ServedElsewhere(Exception):
    """Not a failure: the case ran, on this machine as a worker node of a job across machines, and
    its numbers are in the record of the node that had rank 0. ``served``: what this node's record
    says of the job instead (``bench.served``)."""

    def __init__(self, served: dict[str, object]) -> None:
        super().__init__(
            f"served as node {served['node']} of {served['nodes']}: the job's numbers are in the record"
            f" of the node with rank 0 ({served['leader_host']})"
        )
        self.served = served


class DeviceUnavailable(BenchError):
    """The device was named correctly but this machine does not have it."""

    exit_code = EXIT_UNAVAILABLE
