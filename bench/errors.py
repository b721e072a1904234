"""Exit codes and the one error type the CLI turns into a one-line message.

Exit codes (documented in the README and in ``python -m bench --help``):

* 0 — everything ran and passed
* 1 — at least one benchmark or check failed
* 2 — bad input: unknown name, bad value, unreadable file, unwritable folder, full disk
* 3 — the requested device is not available here (e.g. ``cuda`` without a GPU)
* 130 — interrupted (Ctrl-C or SIGTERM): the cases that finished are saved, marked partial
"""

from __future__ import annotations

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


class DeviceUnavailable(BenchError):
    """The device was named correctly but this machine does not have it."""

    exit_code = EXIT_UNAVAILABLE
