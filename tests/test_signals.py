"""The process's one way of handling Ctrl-C and SIGTERM (bench/signals.py), in this process."""

from __future__ import annotations

import os
import signal
import sys
import types

import pytest

from bench import signals
from bench.suite import conftest


def deliver(number: signal.Signals) -> None:
    os.kill(os.getpid(), number)
    signal.sigtimedwait([], 0)  # gives the handler its turn


def test_noted_then_acted_on_at_a_safe_point_then_at_once_then_only_noted() -> None:
    before = {number: signal.getsignal(number) for number in signals.STOPPING}
    with signals.handled():
        deliver(signal.SIGTERM)  # while starting: noted only (torch may be importing)
        assert signals.received == ["SIGTERM"]
        with pytest.raises(KeyboardInterrupt):
            signals.check()
    with signals.handled():
        assert signals.received == []
        signals.arm()  # the cases run: a signal stops at once
        with pytest.raises(KeyboardInterrupt):
            deliver(signal.SIGINT)
        signals.defer()  # the cases are over: noted only
        deliver(signal.SIGTERM)
        assert signals.received == ["SIGINT", "SIGTERM"]
        with signals.handled():  # nested: the outer block owns the handlers
            pass
        assert signal.getsignal(signal.SIGTERM) is signals._handle
    assert {number: signal.getsignal(number) for number in signals.STOPPING} == before


def test_an_interrupt_on_an_instruction_without_a_line_is_still_reported() -> None:
    """A signal can land where Python knows no line (``tb_lineno`` None): pytest's terminal raised
    TypeError formatting it, and a stopped run ended in a traceback, not its record marked partial."""
    frame = sys._getframe()
    lineless = types.TracebackType(None, frame, 10**6, -1)  # an offset past the code: no line
    assert lineless.tb_lineno is None
    stopped = KeyboardInterrupt()
    stopped.__traceback__ = types.TracebackType(lineless, frame, frame.f_lasti, frame.f_lineno)
    excinfo = pytest.ExceptionInfo.from_exception(stopped)
    conftest.pytest_keyboard_interrupt(excinfo)
    assert "test_an_interrupt_on_an_instruction" in str(excinfo.getrepr(funcargs=True))
