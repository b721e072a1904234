"""Ctrl-C (SIGINT) and SIGTERM, handled one way in the whole process.

A signal is first only noted, and acted on at the next safe point (:func:`check`): raising
``KeyboardInterrupt`` from a handler while native code runs Python (as importing torch does) can
abort the process. While the cases run (:func:`arm`), a signal stops the run at once: pytest ends
the session and saves what finished, marked partial. Once the cases are over (:func:`defer`), a
signal is only noted again, so the record being written is never cut off and a finished run is
never reported as interrupted.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOPPING = (signal.SIGINT, signal.SIGTERM)
received: list[str] = []  # names of the signals that arrived, first first
_raising = False


def _handle(signum: int, frame: FrameType | None) -> None:
    received.append(signal.Signals(signum).name)
    if _raising:
        raise KeyboardInterrupt


def install() -> bool:
    """Note both signals from now on; False where that is not possible (not the main thread) or
    already done (the outer installer owns the handlers)."""
    global _raising
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is _handle:
        return False
    received.clear()
    _raising = False
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


def check() -> None:
    """A safe point: stop here if a signal has arrived."""
    if received:
        raise KeyboardInterrupt


def arm() -> None:
    """From now on a signal stops at once (pure-Python work, or the cases, which pytest guards)."""
    global _raising
    check()
    _raising = True


def defer() -> None:
    """The cases are over: from now on a signal is only noted."""
    global _raising
    _raising = False


def ignore() -> None:
    """For a process about to exit: Python puts its default handlers back while it finalizes, which
    would turn a late signal into a kill; an ignored signal stays ignored."""
    for number in STOPPING:
        signal.signal(number, signal.SIG_IGN)
