"""The process's one way of handling Ctrl-C and SIGTERM (bench/signals.py), in this process."""

from __future__ import annotations

import os
import signal

import pytest

from bench import signals


def test_while_cases_run_a_signal_stops_and_afterwards_it_is_only_noted() -> None:
    before = {number: signal.getsignal(number) for number in signals.STOPPING}
    with signals.handled():
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            signal.sigtimedwait([], 0)  # gives the handler its turn
        signals.defer()
        os.kill(os.getpid(), signal.SIGINT)
        assert signals.received == ["SIGTERM", "SIGINT"]
        with signals.handled():  # nested: the outer block owns the handlers
            pass
        assert signal.getsignal(signal.SIGTERM) is signals._handle
    assert {number: signal.getsignal(number) for number in signals.STOPPING} == before
