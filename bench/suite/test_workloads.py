"""The suite: every selected case, run by the harness's runner in the pytest-benchmark fixture's rounds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bench.context import RunContext
from bench.registry import Case
from bench.runner import run_case
from bench.timing import RoundPlan, RoundPolicy, round_clock


def fixture_rounds(benchmark: Any) -> Callable[[Callable[[], Any], RoundPlan], tuple[list[float], Any]]:
    """The runner's timed rounds, run by pytest-benchmark's fixture (which keeps its own statistics)."""

    def rounds(call: Callable[[], Any], plan: RoundPlan) -> tuple[list[float], Any]:
        value = benchmark.pedantic(
            call, rounds=plan.rounds, iterations=plan.iterations, warmup_rounds=plan.warmup_rounds
        )
        stats = getattr(benchmark, "stats", None)  # None when pytest-benchmark is disabled
        return (list(stats.stats.data) if stats is not None else []), value

    return rounds


@pytest.mark.benchmark(timer=round_clock)
def test_workload(
    benchmark: Any,
    bench_case: Case,
    bench_context: RunContext,
    bench_policy: RoundPolicy,
    record_property: Callable[[str, object], None],
) -> None:
    try:
        result = run_case(bench_case, bench_context, bench_policy, fixture_rounds(benchmark))
    except BaseException:
        # pytest-benchmark marks only Exceptions; a case stopped by Ctrl-C or SIGTERM has no result
        # either, and its empty statistics must not reach the record
        benchmark.has_error = True
        raise
    benchmark.extra_info.update(result.extra_info())
    benchmark.group = result.family
    record_property("median_s", result.timing.median_s)  # for the progress line
