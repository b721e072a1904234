"""The harness through the real pytest-benchmark fixture: records, rates, device time."""

from __future__ import annotations

import pytest
import torch
from fakes import FakeDevice

from bench import timing
from bench.measure import measure
from bench.registry import all_workloads
from bench.timing import RoundPolicy, round_clock

QUICK = RoundPolicy(warmup_rounds=1, min_rounds=3, max_rounds=10, round_time=0.001, max_time=0.02)


def _mm_case(n: int = 64):
    return next(c for c in all_workloads()["mm"].cases("smoke", "cpu") if c.params["op"] == "mm")


@pytest.mark.benchmark(timer=round_clock)
def test_cpu_record_carries_context_and_rates(benchmark, ctx) -> None:
    result = measure(benchmark, _mm_case(), ctx, QUICK)
    info = benchmark.extra_info
    assert result.shape == (64, 64)
    assert info["workload"] == "mm" and info["params"] == {"n": 64, "op": "mm"} and info["dtype"] == "float32"
    assert info["device"] == "cpu" and info["seed"] == 0 and info["determinism"] == "warn"
    assert info["work"]["flops"] == 2 * 64**3
    rates = info["rates"]
    assert rates["basis"] == "host" and "device_time" not in info
    median = benchmark.stats.stats.median
    assert rates["median_s"] == median
    assert rates["gflops"] == pytest.approx(2 * 64**3 / median / 1e9)
    assert len(benchmark.stats.stats.data) == info["plan"]["rounds"]


@pytest.mark.benchmark(timer=round_clock)
def test_device_events_time_every_round(benchmark, ctx, monkeypatch) -> None:
    """The CUDA path, with a stand-in device: per-round device times become the rate basis."""
    device = FakeDevice()
    monkeypatch.setattr(timing, "backend_for", lambda _: device)
    measure(benchmark, _mm_case(), ctx, QUICK)
    info = benchmark.extra_info
    rounds = info["plan"]["rounds"]
    assert len(info["device_time"]["per_round_s"]) == rounds, "warm-up rounds are not kept"
    assert device.log.count("sync") == 2 * (rounds + info["plan"]["warmup_rounds"])
    assert info["rates"]["basis"] == "cuda_event"
    assert info["rates"]["median_s"] == info["device_time"]["median_s"]
    # the stand-in's events read the host clock, so both timings agree closely
    assert info["device_time"]["median_s"] == pytest.approx(benchmark.stats.stats.median, rel=0.5)


@pytest.mark.benchmark(timer=round_clock)
def test_cases_are_seeded_the_same_whatever_ran_before(benchmark, ctx) -> None:
    (case,) = all_workloads()["numpy_roundtrip"].cases("smoke", "cpu")  # returns a copy of its seeded input
    torch.randn(100)  # disturb the global generator, as an earlier case would
    result = measure(benchmark, case, ctx, QUICK)
    ctx.seed_everything()
    assert torch.equal(result, ctx.randn(64, 64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: real event timing of real kernels")
@pytest.mark.benchmark(timer=round_clock)
def test_real_cuda_events(benchmark) -> None:
    from bench.context import RunContext, RunSettings  # noqa: PLC0415

    cuda = RunContext(RunSettings(device="cuda"))
    cuda.apply()
    case = next(c for c in all_workloads()["mm"].cases("full", "cuda") if c.params["n"] == 1024)
    measure(benchmark, case, cuda, QUICK)
    info = benchmark.extra_info
    assert info["rates"]["basis"] == "cuda_event" and info["device_time"]["median_s"] > 0
    assert info["cuda_max_memory_allocated"] >= 3 * 1024 * 1024 * 4
