"""Overheads of the harness, measured as ratios of medians on a small matmul.

``harness``: the suite's timing of ``torch.mm(a, b)`` against torch.utils.benchmark's
Timer (goal: within 5 %).  ``sampler``: the suite with its telemetry sampler at 20 Hz
against the suite without it (goal: under 1 %).  The two sides alternate, so drift
in the machine's speed hits both.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from functools import partial
from pathlib import Path

import pytest
import torch

from bench import suite
from bench.context import RunContext, RunSettings
from bench.errors import BenchError


def suite_median(device: str, n: int, *flags: str) -> float:
    """Median seconds per call of mm at n x n, measured by the real suite path."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "overhead.json"
        code = pytest.main(
            suite.pytest_args(
                out,
                [
                    "-q",
                    "--benchmark-disable-gc",  # as timeit, under torch.utils.benchmark, does
                    f"--bench-device={device}",
                    "--bench-workload=mm",
                    "--bench-size=smoke",
                    f"--bench-param=n={n}",
                    "--bench-param=op=mm",
                    "--bench-dtype=float32",  # one case: on CUDA, mm also runs in half precision
                ],
            )
        )
        if code != 0:
            raise BenchError(f"the suite run for the overhead check failed (pytest exit {code})")
        (bench,) = json.loads(out.read_text())["benchmarks"]
        return bench["extra_info"]["rates"]["median_s"]


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
        measure_a = partial(suite_median, device, n, "--bench-telemetry-hz=20")
        measure_b = partial(suite_median, device, n, "--bench-telemetry-hz=0")
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
