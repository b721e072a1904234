"""The telemetry sampler: GPU through NVML (a faithful stand-in here, the real one on a GPU), the process."""

from __future__ import annotations

import json
import time

import pytest
import torch
from fake_nvml import NVML_ERROR_LIBRARY_NOT_FOUND, FakeNvml

from bench import telemetry
from bench.context import RunContext, RunSettings
from bench.registry import all_workloads
from bench.runner import run_case
from bench.telemetry import Sampler, open_gpu
from bench.timing import RoundPolicy

QUICK = RoundPolicy(warmup_rounds=1, min_rounds=3, max_rounds=10, round_time=0.001, max_time=0.05)


def sample_for(seconds: float, nvml: FakeNvml, hz: float = 200) -> dict:
    gpu, missing = open_gpu(0, "GPU-fake", nvml)
    with Sampler(gpu, missing, hz) as sampler:
        time.sleep(seconds)
    return sampler.summary()


def test_a_steady_gpu_is_summarised() -> None:
    nvml = FakeNvml()
    summary = sample_for(0.3, nvml)
    gpu = summary["gpu"]
    assert gpu["status"] == "ok" and gpu["samples"] >= 20
    assert gpu["util_mean"] == gpu["util_max"] == 87
    assert gpu["memory_used_max_bytes"] == 12 * 2**30 and gpu["temperature_max_c"] == 61
    assert gpu["power_mean_w"] == 300.0 and gpu["sm_clock_mean_mhz"] == 1980
    assert gpu["energy_source"] == "nvml_energy_counter"
    assert gpu["energy_j"] == pytest.approx(300.0 * summary["host"]["wall_seconds"], rel=0.05)
    assert gpu["throttled"] is False and gpu["clock_reasons_seen"] == []
    assert nvml.initialised == 0, "NVML is shut down after each benchmark"


def test_throttling_is_named_and_idle_is_not_throttling() -> None:
    power_capped = sample_for(0.05, FakeNvml(reasons=0x4 | 0x1))["gpu"]
    assert power_capped["clock_reasons_seen"] == ["gpu_idle", "sw_power_cap"] and power_capped["throttled"] is True
    idle = sample_for(0.05, FakeNvml(reasons=0x1))["gpu"]
    assert idle["clock_reasons_seen"] == ["gpu_idle"] and idle["throttled"] is False


def test_unsupported_fields_are_left_out_not_zeroed() -> None:
    gpu = sample_for(0.1, FakeNvml(unsupported=("power", "energy")))["gpu"]
    assert gpu["unsupported"] == ["power_w"]
    assert "power_mean_w" not in gpu and gpu["energy_j"] is None and gpu["energy_source"] is None
    integrated = sample_for(0.3, FakeNvml(unsupported=("energy",)))["gpu"]
    assert integrated["energy_source"] == "power_samples_integrated"
    assert integrated["energy_j"] == pytest.approx(300.0 * 0.3, rel=0.25)


def test_a_gpu_lost_mid_run_ends_sampling_not_the_benchmark() -> None:
    gpu = sample_for(0.2, FakeNvml(lost_after=30))["gpu"]
    assert gpu["status"] == "partial" and "GPU is lost" in gpu["error"]
    assert gpu["samples"] >= 1


def test_no_nvml_library_records_why_and_nothing_else() -> None:
    gpu, missing = open_gpu(0, "GPU-fake", FakeNvml(init_error=NVML_ERROR_LIBRARY_NOT_FOUND))
    assert gpu is None and missing == "NVML could not start: NVML Shared Library Not Found"
    with Sampler(gpu, missing, 100) as sampler:
        time.sleep(0.02)
    assert sampler.summary()["gpu"] == {"status": "unavailable", "reason": missing}


def test_unknown_device_shuts_nvml_down_again() -> None:
    nvml = FakeNvml()
    gpu, missing = open_gpu(0, "GPU-other", nvml)
    assert gpu is None and "has no device GPU-other: Not Found" in missing and nvml.initialised == 0


def test_the_real_pynvml_without_a_driver() -> None:
    pynvml = pytest.importorskip("pynvml", reason="nvidia-ml-py is not installed")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: the no-driver path cannot be seen")
    gpu, missing = open_gpu(0, None, pynvml)
    assert gpu is None and missing.startswith("NVML could not start:")


def test_host_side_counts_cpu_time_and_this_benchmarks_peak_memory() -> None:
    before = telemetry.peak_rss_bytes()
    with Sampler(None, "no GPU", 50) as sampler:
        assert sampler._thread is None, "no thread without a GPU to sample"
        end = time.perf_counter() + 0.2
        while time.perf_counter() < end:  # keep one core busy
            pass
        block = bytearray(256 * 2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
    host = sampler.summary()["host"]
    assert 0.7 < host["cpu_cores_busy"] < 2.5
    assert host["peak_rss_bytes"] >= 256 * 2**20
    if host["peak_rss_scope"] == "benchmark":
        assert host["peak_rss_bytes"] < before + 300 * 2**20
    del block


def test_a_case_records_telemetry_and_writes_the_gpu_timeline(tmp_path, monkeypatch) -> None:
    nvml = FakeNvml()
    monkeypatch.setattr(telemetry, "gpu_for", lambda device: open_gpu(0, "GPU-fake", nvml))
    ctx = RunContext(RunSettings(telemetry_hz=200), artifacts=tmp_path)
    case = next(c for c in all_workloads()["mm"].cases("smoke", "cpu") if c.params["op"] == "mm")
    recorded = run_case(case, ctx, QUICK).telemetry
    assert recorded["gpu"]["status"] == "ok" and recorded["hz"] == 200
    timeline = json.loads((tmp_path / "artifacts" / "telemetry" / "mm_n=64_op=mm_float32.json").read_text())
    assert timeline["case"] == case.id and len(timeline["timeline"]) == recorded["gpu"]["samples"]
    assert all("util" in s for s in timeline["timeline"])


def test_telemetry_off() -> None:
    ctx = RunContext(RunSettings(telemetry_hz=0))
    case = next(c for c in all_workloads()["mm"].cases("smoke", "cpu") if c.params["op"] == "mm")
    result = run_case(case, ctx, QUICK)
    assert result.telemetry is None and "telemetry" not in result.extra_info()
