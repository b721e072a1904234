"""Ctrl-C (SIGINT) and SIGTERM, handled one way in the whole process.

Before and while the cases run, either signal stops the run: pytest ends the session and saves
what finished, marked partial. Once the cases are over (:func:`defer`), a signal is only noted, so
the record being written is never cut off and a finished run is never reported as interrupted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOPPING = (signal.SIGINT, signal.SIGTERM)
received: list[str] = []  # names of the signals that arrived, first first
_deferring = False


def _handle(signum: int, frame: FrameType | None) -> None:
    received.append(signal.Signals(signum).name)
    if not _deferring:
        raise KeyboardInterrupt


def install() -> bool:
    """Handle both signals from now on; False where that is not possible (not the main thread) or
    already done (the outer installer owns the handlers)."""
    global _deferring
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is _handle:
        return False
    received.clear()
    _deferring = False
    for number in STOPPING:
        signal.signal(number, _handle)
    return True


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Both signals handled inside the block; the previous handlers back after it."""
    previous = {number: signal.getsignal(number) for number in STOPPING}
    owner = install()
    try:
        yield
    finally:
        if owner:
            for number, handler in previous.items():
                signal.signal(number, handler)


def defer() -> None:
    """The cases are over: from now on a signal is only noted."""
    global _deferring
    _deferring = True


def ignore() -> None:
    """For a process about to exit: Python puts its default handlers back while it finalizes, which
    would turn a late signal into a kill; an ignored signal stays ignored."""
    for number in STOPPING:
        signal.signal(number, signal.SIG_IGN)
