"""Round timing: the round clock's edges and device events, and calibration."""

from __future__ import annotations

import time

import pytest
from fakes import FakeDevice

from bench import timing
from bench.timing import RoundPolicy, plan_rounds, round_clock


def _rounds(n: int, seconds: float) -> None:
    """What pytest-benchmark's runner does: the timer at both edges of each round."""
    for _ in range(n):
        round_clock()
        time.sleep(seconds)
        round_clock()


def test_round_clock_synchronizes_and_records_at_both_edges() -> None:
    device = FakeDevice()
    timing.arm(device)
    _rounds(3, 0.002)
    per_call = timing.disarm(iterations=2, skip_rounds=1)
    # opening edge: wait for the device, then mark; closing edge: mark, then wait
    assert device.log == ["sync", "record", "record", "sync"] * 3
    assert len(per_call) == 2, "the warm-up round is dropped"
    assert all(0.001 <= t < 0.01 for t in per_call), "each round's time is split over its 2 calls"


def test_round_clock_is_the_host_clock_when_disarmed() -> None:
    timing.arm(None)
    before = time.perf_counter()
    assert before <= round_clock() <= time.perf_counter()
    assert timing.disarm(1, 0) == []


def test_an_unpaired_edge_is_an_error() -> None:
    timing.arm(FakeDevice())
    round_clock()
    with pytest.raises(RuntimeError, match="unpaired"):
        timing.disarm(1, 0)


def test_calibration_fills_rounds_and_respects_bounds() -> None:
    calls = []

    def call() -> None:
        calls.append(1)
        time.sleep(0.0005)

    policy = RoundPolicy(warmup_rounds=1, min_rounds=3, max_rounds=20, round_time=0.004, max_time=0.05)
    plan = plan_rounds(call, lambda: None, policy)
    assert plan.iterations >= 4, "enough calls per round to last round_time"
    assert 3 <= plan.rounds <= 20
    assert plan.warmup_rounds == 1
    slow = plan_rounds(lambda: time.sleep(0.02), lambda: None, policy)
    assert slow.iterations == 1 and slow.rounds == 3, "a slow call gets one call per round and min_rounds"
