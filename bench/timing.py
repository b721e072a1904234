"""Round timing that is right on CUDA, and how many rounds to run.

pytest-benchmark times a round with two calls of its timer, one at each edge.
:func:`round_clock` is that timer (given to the fixture through its
``benchmark`` marker).  While a device is armed it synchronizes the device at
both edges, so the host clock covers the work the round queued and not just
its launch, and records a device event at each edge, so every round also gets
its device time from the GPU's own clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import torch


class DeviceEvent(Protocol):
    def record(self) -> None: ...
    def elapsed_time(self, end: Any) -> float: ...  # milliseconds, like torch.cuda.Event


class DeviceBackend(Protocol):
    """What the clock needs from a device: a barrier and timestamped events."""

    def synchronize(self) -> None: ...
    def event(self) -> DeviceEvent: ...


class CudaBackend:
    def __init__(self, device: torch.device) -> None:
        self.device = device

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)

    def event(self) -> DeviceEvent:
        return torch.cuda.Event(enable_timing=True)


def backend_for(device: torch.device) -> DeviceBackend | None:
    """The device's backend, or None where the host clock already tells all."""
    return CudaBackend(device) if device.type == "cuda" else None


class _RoundClock:
    def __init__(self) -> None:
        self.backend: DeviceBackend | None = None
        self.events: list[DeviceEvent] = []

    def __call__(self) -> float:
        backend = self.backend
        if backend is None:
            return time.perf_counter()
        event = backend.event()
        if len(self.events) % 2 == 0:  # opening edge: device idle, then mark
            backend.synchronize()
            event.record()
            self.events.append(event)
            return time.perf_counter()
        event.record()  # closing edge: mark, then wait for the round's work
        backend.synchronize()
        self.events.append(event)
        return time.perf_counter()


_CLOCK = _RoundClock()


def round_clock() -> float:
    """The benchmark timer: host seconds, synchronized at round edges when armed."""
    return _CLOCK()


def arm(backend: DeviceBackend | None) -> None:
    """Start collecting device events for one benchmark."""
    _CLOCK.backend = backend
    _CLOCK.events = []


def disarm(iterations: int, skip_rounds: int) -> list[float]:
    """Stop; return device seconds per call for each round after ``skip_rounds``."""
    events, backend = _CLOCK.events, _CLOCK.backend
    _CLOCK.backend, _CLOCK.events = None, []
    if backend is None:
        return []
    if len(events) % 2:
        raise RuntimeError("round clock saw an unpaired round edge")
    pairs = list(zip(events[0::2], events[1::2], strict=True))[skip_rounds:]
    return [start.elapsed_time(end) / 1e3 / iterations for start, end in pairs]


@dataclass(frozen=True)
class RoundPolicy:
    """How long to measure: targets for one round and for the whole benchmark.

    Calibration already makes at least two untimed calls, so one warm-up round
    on top is enough even for lazily initialised kernels (cuDNN autotuning).
    """

    warmup_rounds: int = 1
    min_rounds: int = 5
    max_rounds: int = 1000
    round_time: float = 0.01  # seconds one round should last, at least
    max_time: float = 2.0  # seconds of timed rounds per benchmark, roughly
    case_timeout: float | None = None  # seconds a whole case may take (build, calibration, rounds)
    profile_calls: int = 0  # extra calls under torch.profiler after the timed rounds (--profile)

    @classmethod
    def quick(cls) -> RoundPolicy:
        return cls(warmup_rounds=1, min_rounds=3, max_rounds=200, round_time=0.001, max_time=0.05)


@dataclass(frozen=True)
class RoundPlan:
    iterations: int
    rounds: int
    warmup_rounds: int


def plan_rounds(call: Callable[[], Any], sync: Callable[[], None], policy: RoundPolicy) -> RoundPlan:
    """Calibrate calls per round and rounds, like ``torch.utils.benchmark``'s autorange.

    One untimed call first absorbs lazy initialisation; then the number of calls
    per round doubles until a round lasts ``round_time``.
    """
    call()
    sync()
    iterations = 1
    while True:
        start = time.perf_counter()
        for _ in range(iterations):
            call()
        sync()
        elapsed = time.perf_counter() - start
        if elapsed >= policy.round_time or iterations >= 1 << 20:
            break
        iterations *= 2 if elapsed == 0 else max(2, min(10, math.ceil(policy.round_time / elapsed)))
    rounds = math.ceil(policy.max_time / max(elapsed, 1e-9))
    rounds = max(policy.min_rounds, min(policy.max_rounds, rounds))
    return RoundPlan(iterations=iterations, rounds=rounds, warmup_rounds=policy.warmup_rounds)
