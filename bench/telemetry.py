"""Telemetry beside each benchmark: the GPU sampled through NVML, the process through /proc.

While the timed rounds run, a background thread samples the GPU at a fixed rate (default
20 Hz). Without a GPU, or without NVML, there is no thread: the GPU part records why and
nothing else — no numbers are made up. A field the GPU does not support (NVML's
NOT_SUPPORTED) is left out, not zeroed. The process's CPU time comes from ``os.times`` and
its peak memory from the kernel's high-water mark, reset at the start of each benchmark, so
the host side costs nothing while the benchmark runs.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import resource
import threading
import time
from dataclasses import dataclass, field
from statistics import fmean
from types import ModuleType
from typing import Any

import torch

DEFAULT_HZ = 20.0

# NVML's clock-event reasons (nvmlClocksEventReason*), by bit
CLOCK_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}
THROTTLING = {"sw_power_cap", "hw_slowdown", "sw_thermal_slowdown", "hw_thermal_slowdown", "hw_power_brake_slowdown"}
STATISTICS = {  # summary key: (sampled field, statistic)
    "util_mean": ("util", fmean),
    "util_max": ("util", max),
    "memory_used_max_bytes": ("memory_used", max),
    "power_mean_w": ("power_w", fmean),
    "temperature_max_c": ("temperature_c", max),
    "sm_clock_mean_mhz": ("sm_clock_mhz", fmean),
    "memory_clock_mean_mhz": ("memory_clock_mhz", fmean),
}


def reasons(bits: int) -> list[str]:
    return [name for bit, name in CLOCK_REASONS.items() if bits & bit]


class NvmlGpu:
    """One GPU seen through an NVML module (pynvml, or a stand-in with the same API)."""

    FIELDS = ("util", "memory_used", "power_w", "temperature_c", "sm_clock_mhz", "memory_clock_mhz", "clock_reasons")

    def __init__(self, nvml: ModuleType, handle: Any) -> None:
        self.nvml, self.handle = nvml, handle
        self.unsupported: set[str] = set()
        self._readers = {
            "util": lambda h: nvml.nvmlDeviceGetUtilizationRates(h).gpu,
            "memory_used": lambda h: nvml.nvmlDeviceGetMemoryInfo(h).used,
            "power_w": lambda h: nvml.nvmlDeviceGetPowerUsage(h) / 1000,
            "temperature_c": lambda h: nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU),
            "sm_clock_mhz": lambda h: nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM),
            "memory_clock_mhz": lambda h: nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_MEM),
            "clock_reasons": nvml.nvmlDeviceGetCurrentClocksEventReasons,
        }

    def read(self) -> dict[str, float]:
        """One sample; a field the device does not support is dropped for good."""
        sample = {}
        for name, reader in self._readers.items():
            if name in self.unsupported:
                continue
            try:
                sample[name] = reader(self.handle)
            except self.nvml.NVMLError as error:
                if getattr(error, "value", None) == self.nvml.NVML_ERROR_NOT_SUPPORTED:
                    self.unsupported.add(name)
                else:
                    raise
        return sample

    def energy_mj(self) -> float | None:
        """The device's energy counter in millijoules (Volta and newer), or None."""
        try:
            return float(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle))
        except self.nvml.NVMLError:
            return None

    def close(self) -> None:
        with contextlib.suppress(self.nvml.NVMLError):
            self.nvml.nvmlShutdown()


def open_gpu(index: int, uuid: str | None, nvml: ModuleType | None = None) -> tuple[NvmlGpu | None, str | None]:
    """NVML's view of a CUDA device, found by UUID (CUDA and NVML may number GPUs differently)."""
    if nvml is None:
        try:
            import pynvml as nvml  # noqa: PLC0415 - optional: nvidia-ml-py
        except ImportError:
            return None, "the pynvml module (nvidia-ml-py) is not installed"
    try:
        nvml.nvmlInit()
    except nvml.NVMLError as error:
        return None, f"NVML could not start: {error}"
    try:
        handle = nvml.nvmlDeviceGetHandleByUUID(uuid) if uuid else nvml.nvmlDeviceGetHandleByIndex(index)
    except nvml.NVMLError as error:
        nvml.nvmlShutdown()
        return None, f"NVML has no device {uuid or index}: {error}"
    return NvmlGpu(nvml, handle), None


def gpu_for(device: torch.device) -> tuple[NvmlGpu | None, str | None]:
    if device.type != "cuda":
        return None, f"no GPU: the benchmark runs on {device.type}"
    index = device.index or 0
    uuid = getattr(torch.cuda.get_device_properties(index), "uuid", None)
    return open_gpu(index, f"GPU-{uuid}" if uuid else None)


def sampler_for(device: torch.device, hz: float) -> Sampler:
    gpu, missing = gpu_for(device)
    return Sampler(gpu, missing, hz)


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process (Linux >= 4.0); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    """VmHWM, the peak resident set size since start or since the last reset."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


@dataclass
class Sampler:
    """Samples while open: ``with Sampler(gpu, why_not, hz) as s: …`` then ``s.summary()``."""

    gpu: NvmlGpu | None
    gpu_missing: str | None
    hz: float = DEFAULT_HZ
    timeline: list[dict[str, float]] = field(default_factory=list)
    error: str | None = None

    def __enter__(self) -> Sampler:
        self._rss_scope = "benchmark" if reset_peak_rss() else "process"
        self._stop = threading.Event()
        self._cpu = os.times()
        self._start = time.perf_counter()
        self._energy = self.gpu.energy_mj() if self.gpu else None
        self._thread = threading.Thread(target=self._run, name="telemetry", daemon=True) if self.gpu else None
        if self._thread is not None:
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._peak_rss = peak_rss_bytes()
        self._wall = time.perf_counter() - self._start
        end = os.times()
        self._cpu_seconds = (end.user - self._cpu.user) + (end.system - self._cpu.system)
        self._energy_end = self.gpu.energy_mj() if self.gpu else None
        if self.gpu is not None:
            self.gpu.close()

    def _run(self) -> None:
        period = 1.0 / self.hz
        while self.error is None:
            sample = {"t": time.perf_counter() - self._start}
            try:
                sample.update(self.gpu.read())
            except Exception as error:  # noqa: BLE001 - any NVML failure ends GPU sampling, not the benchmark
                self.error = f"NVML failed while sampling: {error}"
                return
            self.timeline.append(sample)
            if self._stop.wait(period):
                return

    def summary(self) -> dict[str, Any]:
        host = {
            "wall_seconds": self._wall,
            "process_cpu_seconds": self._cpu_seconds,
            "cpu_cores_busy": self._cpu_seconds / self._wall if self._wall else 0.0,
            "peak_rss_bytes": self._peak_rss,
            "peak_rss_scope": self._rss_scope,
        }
        return {"host": host, "gpu": self._gpu_summary(), "hz": self.hz}

    def _gpu_summary(self) -> dict[str, Any]:
        if self.gpu is None:
            return {"status": "unavailable", "reason": self.gpu_missing}
        samples = [s for s in self.timeline if any(name in s for name in NvmlGpu.FIELDS)]
        if not samples:
            return {"status": "unavailable", "reason": self.error or "no sample was taken"}
        values = {name: [s[name] for s in samples if name in s] for name in NvmlGpu.FIELDS}
        seen = sorted({r for bits in values["clock_reasons"] for r in reasons(int(bits))})
        summary: dict[str, Any] = {
            "status": "ok" if self.error is None else "partial",
            "samples": len(samples),
            "unsupported": sorted(self.gpu.unsupported),
            "clock_reasons_seen": seen,
            "throttled": bool(THROTTLING.intersection(seen)),
        }
        if self.error:
            summary["error"] = self.error
        for key, (name, stat) in STATISTICS.items():
            if values[name]:
                summary[key] = stat(values[name])
        summary["energy_j"], summary["energy_source"] = self._energy_joules(samples)
        return summary

    def _energy_joules(self, samples: list[dict[str, float]]) -> tuple[float | None, str | None]:
        if self._energy is not None and self._energy_end is not None:
            return (self._energy_end - self._energy) / 1000, "nvml_energy_counter"
        powered = [(s["t"], s["power_w"]) for s in samples if "power_w" in s]
        if len(powered) < 2:
            return None, None
        area = sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in itertools.pairwise(powered))
        return area, "power_samples_integrated"
