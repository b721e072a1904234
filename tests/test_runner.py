"""The runner: a case measured without pytest, and through the pytest-benchmark fixture, alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from fakes import FakeDevice

from bench import timing
from bench.compare import Thresholds, compare
from bench.context import RunContext, RunSettings
from bench.errors import UsageError
from bench.options import SuiteOptions, suite_namespace
from bench.profiling import DEFAULT_CALLS
from bench.record import RunRecord
from bench.registry import all_workloads, plan, select
from bench.runner import run_case, run_cases, time_rounds
from bench.suite.test_workloads import fixture_rounds
from bench.summary import render
from bench.timing import RoundPlan, RoundPolicy, round_clock

QUICK = RoundPolicy(warmup_rounds=1, min_rounds=3, max_rounds=10, round_time=0.001, max_time=0.02)


def _mm_case():
    return next(c for c in all_workloads()["mm"].cases("smoke", "cpu") if c.params["op"] == "mm")


def test_time_rounds_gives_per_call_seconds_of_each_timed_round() -> None:
    calls = []
    per_call, last = time_rounds(
        lambda: calls.append(1) or len(calls), RoundPlan(iterations=4, rounds=3, warmup_rounds=2)
    )
    assert len(per_call) == 3 and all(t >= 0 for t in per_call), "warm-up rounds are not kept"
    assert len(calls) == 4 * (3 + 2) and last == 20


def test_cpu_result_carries_context_and_rates(ctx) -> None:
    result = run_case(_mm_case(), ctx, QUICK)
    info = result.extra_info()
    assert info["workload"] == "mm" and info["params"] == {"n": 64, "op": "mm"} and info["dtype"] == "float32"
    assert info["variants"] == ["op"] and info["device"] == "cpu" and info["seed"] == 0
    assert info["determinism"] == "warn" and info["work"]["flops"] == 2 * 64**3
    rates = info["rates"]
    assert rates["basis"] == "host" and "device_time" not in info
    assert rates["median_s"] == result.stats["median"] == result.timing.median_s
    assert rates["gflops"] == pytest.approx(2 * 64**3 / rates["median_s"] / 1e9)
    assert len(result.stats["data"]) == info["plan"]["rounds"] == result.stats["rounds"]
    assert result.result_sha256 and len(result.result_sha256) == 64


@pytest.mark.benchmark(timer=round_clock)
def test_the_pytest_fixture_runs_the_same_rounds(benchmark, ctx) -> None:
    """The pytest plugin's adapter: pytest-benchmark's fixture times the rounds, the runner the rest."""
    result = run_case(_mm_case(), ctx, QUICK, fixture_rounds(benchmark))
    assert list(benchmark.stats.stats.data) == result.stats["data"]
    assert len(result.stats["data"]) == result.plan["rounds"]
    assert result.rates["median_s"] == benchmark.stats.stats.median
    assert result.extra_info()["result_sha256"] == run_case(_mm_case(), ctx, QUICK).result_sha256


def test_device_events_time_every_round(ctx, monkeypatch) -> None:
    """The CUDA path, with a stand-in device: per-round device times become the rate basis."""
    device = FakeDevice()
    monkeypatch.setattr(timing, "backend_for", lambda _: device)
    result = run_case(_mm_case(), ctx, QUICK)
    rounds = result.plan["rounds"]
    assert len(result.device_time["per_round_s"]) == rounds, "warm-up rounds are not kept"
    assert device.log.count("sync") == 2 * (rounds + result.plan["warmup_rounds"])
    assert result.rates["basis"] == "cuda_event" and result.timing.basis == "cuda_event"
    assert result.rates["median_s"] == result.device_time["median_s"]
    # the stand-in's events read the host clock, so both timings agree closely
    assert result.device_time["median_s"] == pytest.approx(result.stats["median"], rel=0.5)


def test_cases_are_seeded_the_same_whatever_ran_before(ctx) -> None:
    (case,) = all_workloads()["numpy_roundtrip"].cases("smoke", "cpu")  # returns a copy of its seeded input
    first = run_case(case, ctx, QUICK).result_sha256
    torch.randn(100)  # disturb the global generator, as an earlier case would
    assert run_case(case, ctx, QUICK).result_sha256 == first


def test_run_cases_records_failures_and_goes_on(ctx, monkeypatch) -> None:
    cases = [c for c in all_workloads()["mm"].cases("smoke", "cpu")]
    broken = cases[0]
    original = type(broken).prepare

    def prepare(case, context):
        if case is broken:
            raise RuntimeError("out of memory\nsecond line")
        return original(case, context)

    monkeypatch.setattr(type(broken), "prepare", prepare)
    seen = []
    record = run_cases(cases, ctx, QUICK, on_result=lambda case, result, error: seen.append((case.id, error)))
    assert record.failed == [{"id": broken.id, "error": "RuntimeError: out of memory"}]
    assert [c.id for c in record.cases] == [c.id for c in cases[1:]]
    assert seen[0] == (broken.id, "RuntimeError: out of memory") and record.cases_planned == len(cases)
    assert record.machine_info["cpu_model"] and record.context["device"] == "cpu" and not record.partial


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: real event timing of real kernels")
def test_real_cuda_events() -> None:
    cuda = RunContext(RunSettings(device="cuda"))
    cuda.apply()
    case = next(c for c in all_workloads()["mm"].cases("full", "cuda") if c.params["n"] == 1024)
    result = run_case(case, cuda, QUICK)
    assert result.rates["basis"] == "cuda_event" and result.device_time["median_s"] > 0
    assert result.cuda_max_memory_allocated >= 3 * 1024 * 1024 * 4


@pytest.mark.slow
def test_a_record_of_the_previous_schema_compares_with_a_new_one(ctx, tmp_path) -> None:
    """The committed v1 record (the previous main's) against a v2 record written by the runner now."""
    old = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"
    new = tmp_path / "benchmark.json"
    new.write_text(run_cases(plan(select(names=["mm"]), "smoke", "cpu"), ctx, QUICK).to_json())
    result = compare(old, new, Thresholds.parse([]), allow_mismatch=True)  # another day's machine
    assert sorted(v.case for v in result.verdicts) == ["mm/n=64/op=matmul/float32", "mm/n=64/op=mm/float32"]
    assert not result.only_current and not result.different_results


def test_profiled_calls_come_after_the_rounds_into_the_run_folder(tmp_path: Path) -> None:
    """--profile: extra calls under torch.profiler, their trace in the run's artifacts, the top
    operators in the record and in the summary."""
    context = RunContext(RunSettings(device="cpu", seed=0), artifacts=tmp_path)
    context.apply()
    policy = RoundPolicy(**{**QUICK.__dict__, "profile_calls": 2})
    result = run_case(_mm_case(), context, policy)
    rounds = len(result.stats["data"])
    folder = tmp_path / "artifacts" / "profile" / "mm_n=64_op=mm_float32"
    assert result.profile["folder"] == "artifacts/profile/mm_n=64_op=mm_float32" and result.profile["calls"] == 2
    assert json.loads((folder / "trace.json").read_text())["traceEvents"]
    assert list((folder / "tensorboard").glob("*.pt.trace.json"))
    assert result.profile["top"] and result.profile["top"][0]["name"].startswith("aten::")
    assert rounds == result.plan["rounds"], "the profiled calls are not among the timed rounds"
    record = RunRecord(cases=[result], context=context.record())
    again = RunRecord.from_dict(json.loads(record.to_json()), "test")
    assert again.cases[0].profile == result.profile
    assert "profiled (1): top operators" in render(again) and "\n  mm: aten::" in render(again)


def test_the_profile_option_takes_a_count_or_its_default() -> None:
    def parsed(*values: str | None) -> int | None:
        return SuiteOptions.parse(suite_namespace(bench_profile=values[0])).policy().profile_calls

    assert parsed(None) == 0 and parsed("3") == 3 and parsed(str(DEFAULT_CALLS)) == 10
    with pytest.raises(UsageError, match="--profile"):
        parsed("0")
