"""A stand-in for a CUDA device's synchronize/event API, timed by the host clock."""

from __future__ import annotations

import time


class FakeEvent:
    def __init__(self, log: list[str]) -> None:
        self.log, self.t = log, None

    def record(self) -> None:
        self.log.append("record")
        self.t = time.perf_counter()

    def elapsed_time(self, end: FakeEvent) -> float:
        return (end.t - self.t) * 1e3  # milliseconds, as torch.cuda.Event


class FakeDevice:
    def __init__(self) -> None:
        self.log: list[str] = []

    def synchronize(self) -> None:
        self.log.append("sync")

    def event(self) -> FakeEvent:
        return FakeEvent(self.log)
