"""The suite: every selected case, timed by pytest-benchmark with the round clock."""

from __future__ import annotations

from typing import Any

import pytest

from bench.context import RunContext
from bench.measure import measure
from bench.registry import Case
from bench.timing import RoundPolicy, round_clock


@pytest.mark.benchmark(timer=round_clock)
def test_workload(benchmark: Any, bench_case: Case, bench_context: RunContext, bench_policy: RoundPolicy) -> None:
    measure(benchmark, bench_case, bench_context, bench_policy)
