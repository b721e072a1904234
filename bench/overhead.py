"""Overheads of the harness, measured as ratios of medians on a small matmul.

``harness``: the suite's timing of ``torch.mm(a, b)`` against torch.utils.benchmark's
Timer (goal: within 5 %).  ``sampler``: the suite with its telemetry sampler at 20 Hz
against the suite without it (goal: under 1 %).  The two sides alternate, so drift
in the machine's speed hits both.
"""

from __future__ import annotations

import gc
import statistics
from collections.abc import Callable
from functools import partial
from typing import Any

import torch

from bench.context import RunContext, RunSettings
from bench.errors import BenchError
from bench.registry import Case, all_workloads
from bench.runner import run_cases, time_rounds
from bench.timing import RoundPlan, RoundPolicy


def rounds_without_gc(call: Callable[[], Any], plan: RoundPlan) -> tuple[list[float], Any]:
    """The runner's rounds with the garbage collector off, as timeit (under torch.utils.benchmark) has it."""
    gc.disable()
    try:
        return time_rounds(call, plan)
    finally:
        gc.enable()


def suite_median(device: str, n: int, telemetry_hz: float = RunSettings().telemetry_hz) -> float:
    """Median seconds per call of mm at n x n (float32), measured by the suite's own runner."""
    case = Case(all_workloads()["mm"], "smoke", {"n": n, "op": "mm"}, "float32")
    context = RunContext(RunSettings(device=device, telemetry_hz=telemetry_hz))
    try:
        record = run_cases([case], context, RoundPolicy(), rounds=rounds_without_gc)
    finally:
        context.close()
    if record.failed or not record.cases:
        raise BenchError(f"the suite's run for the overhead check failed: {record.failed}")
    return record.cases[0].timing.median_s


def timer_median(device: str, n: int) -> float:
    """Median seconds per call of the same op, by torch.utils.benchmark.Timer."""
    import torch.utils.benchmark as tbench  # noqa: PLC0415 - its import logs about CUDA_HOME; only here

    ctx = RunContext(RunSettings(device=device))
    a, b = ctx.randn(n, n), ctx.randn(n, n)
    timer = tbench.Timer(
        "torch.mm(a, b)", globals={"torch": torch, "a": a, "b": b}, num_threads=torch.get_num_threads()
    )
    return timer.blocked_autorange(min_run_time=2.0).median


def _runs(values: list[float]) -> str:
    return f"{statistics.median(values) * 1e6:9.2f} us  (runs: {', '.join(f'{v * 1e6:.2f}' for v in values)})"


def compare(what: str, device: str, n: int, repeats: int) -> str:
    RunContext(RunSettings(device=device))  # refuse a bad or absent device before any work
    if what == "harness":
        names, goal = ("suite", "Timer"), "within 5 %"
        measure_a, measure_b = partial(suite_median, device, n), partial(timer_median, device, n)
    else:
        names, goal = ("sampler on", "sampler off"), "under 1 % slower"
        measure_a = partial(suite_median, device, n, 20.0)
        measure_b = partial(suite_median, device, n, 0.0)
    a, b = [], []
    for _ in range(repeats):
        b.append(measure_b())
        a.append(measure_a())
    ratio = statistics.median(a) / statistics.median(b)
    pairs = ", ".join(f"{x / y:.3f}" for x, y in zip(a, b, strict=True))
    return (
        f"mm {n}x{n} float32 on {device}, {torch.get_num_threads()} threads\n"
        f"{names[0]:<12} {_runs(a)}\n"
        f"{names[1]:<12} {_runs(b)}\n"
        f"ratio {names[0]}/{names[1]} {ratio:.3f}  (per alternation: {pairs}); goal: {goal}"
    )
