"""Harness overhead: the suite's timing of a small matmul against torch.utils.benchmark.

Both time the same ``torch.mm(a, b)`` on the same tensors' shapes, alternating
so that drift in the machine's speed hits both; the ratio of their medians is
the harness's overhead (goal: within 5 %).
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

import pytest
import torch

from bench import suite
from bench.context import RunContext, RunSettings
from bench.errors import BenchError


def suite_median(device: str, n: int) -> float:
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


def compare(device: str, n: int, repeats: int) -> str:
    RunContext(RunSettings(device=device))  # refuse a bad or absent device before any work
    ours, timer = [], []
    for _ in range(repeats):
        timer.append(timer_median(device, n))
        ours.append(suite_median(device, n))
    ratio = statistics.median(ours) / statistics.median(timer)
    pairs = ", ".join(f"{o / t:.3f}" for o, t in zip(ours, timer, strict=True))
    return (
        f"mm {n}x{n} float32 on {device}, {torch.get_num_threads()} threads\n"
        f"suite median  {_runs(ours)}\n"
        f"Timer median  {_runs(timer)}\n"
        f"ratio suite/Timer {ratio:.3f}  (per alternation: {pairs}); goal: within 5 %"
    )
