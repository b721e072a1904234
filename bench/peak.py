"""The best this machine does: matmul FLOP/s per precision and copy bandwidth, measured once and cached.

A workload's FLOP/s means little alone; next to what the same device reaches on its most favourable
operation (the best square matmul of a sweep, a large copy) it becomes a share of the reachable peak,
and next to the datasheet's (bench.datasheets) a share of the paper one. The probe takes seconds, so
its result is kept per machine fingerprint and reused; :func:`cached_peak` only ever reads.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import torch

from bench.context import resolve_device
from bench.envinfo import cpu_model
from bench.errors import UsageError
from bench.modes import Mode
from bench.peak_cache import PRECISIONS, VERSION, load, save

# "tf32" is float32 with TensorFloat-32 allowed in cuBLAS; the CPU has no such mode
DTYPES = {"float32": torch.float32, "tf32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
SMALLEST_N = {"cpu": 128, "cuda": 256}
DEFAULT_MAX_N = {"cpu": 2048, "cuda": 8192}
# Copies past any last-level cache, so that the rate is the memory's (the 2-core Xeon this was written on
# has 260 MiB of L3, an H100 50 MB of L2), and within a small GPU's memory; MiB, source and destination each.
COPY_MIB = {"cpu": (256, 512), "cuda": (256, 512, 1024)}
BATCH_S = 0.1  # seconds of calls per timed batch
BATCHES = 3  # the best batch counts: a peak is what the device can do, not what it usually does
SLOWEST_CALL_S = 1.0  # past one call this long a sweep stops: larger sizes would only cost time

OnDone = Callable[[str, dict[str, Any], float], None]  # (precision or "copy", its entry, seconds it took)


def sweep_sizes(device_type: str, max_n: int | None = None) -> list[int]:
    """Square sizes from the smallest worth timing, doubling up to ``max_n`` (the device's default
    when None); only ``max_n`` when it is below the smallest."""
    top = DEFAULT_MAX_N[device_type] if max_n is None else max_n
    if top < 1:
        raise UsageError(f"max n must be >= 1, got {top}")
    sizes, n = [], SMALLEST_N[device_type]
    while n <= top:
        sizes.append(n)
        n *= 2
    return sizes or [top]


def _synchronizer(device: torch.device) -> Callable[[], None]:
    return partial(torch.cuda.synchronize, device) if device.type == "cuda" else lambda: None


def seconds_per_call(call: Callable[[], object], sync: Callable[[], None]) -> float:
    """The best seconds per call over :data:`BATCHES` batches, after a warm-up call (allocation,
    kernel choice, thread start). The first batch is one call; it sizes the others to :data:`BATCH_S`."""
    call()
    sync()
    best, calls = math.inf, 1
    for _ in range(BATCHES):
        start = time.perf_counter()
        for _ in range(calls):
            call()
        sync()
        best = min(best, (time.perf_counter() - start) / calls)
        calls = max(1, round(BATCH_S / best))
    return best


def _matmul_seconds(device: torch.device, precision: str, n: int) -> float:
    a, b = (torch.randn(n, n, device=device, dtype=DTYPES[precision]) for _ in range(2))
    out = torch.empty_like(a)  # no allocation in the timed calls
    return seconds_per_call(partial(torch.mm, a, b, out=out), _synchronizer(device))


def matmul_sweep(device: torch.device, precision: str, sizes: Sequence[int]) -> dict[str, Any]:
    """GFLOP/s of ``torch.mm`` at each n x n size (2 n^3 FLOPs a call), and the best of them."""
    points = []
    with Mode(precision="tf32" if precision == "tf32" else "fp32").math():  # float32 means fp32 unless tf32
        for n in sizes:
            seconds = _matmul_seconds(device, precision, n)
            points.append({"n": n, "gflops": 2 * n**3 / seconds / 1e9})
            if seconds > SLOWEST_CALL_S:
                break
    best = max(points, key=lambda point: point["gflops"])
    return {"best_gflops": best["gflops"], "best_n": best["n"], "sweep": points}


def _copy_seconds(device: torch.device, mib: int) -> float:
    src = torch.ones(mib * 2**20, dtype=torch.uint8, device=device)  # written: no page is first touched in a timed call
    dst = torch.empty_like(src)
    return seconds_per_call(partial(dst.copy_, src), _synchronizer(device))


def copy_sweep(device: torch.device, sizes_mib: Sequence[int]) -> dict[str, Any]:
    """GB/s of ``dst.copy_(src)`` on the device at each size, bytes read plus bytes written, and the best."""
    points = [{"mib": mib, "gbps": 2 * mib * 2**20 / _copy_seconds(device, mib) / 1e9} for mib in sizes_mib]
    best = max(points, key=lambda point: point["gbps"])
    return {"best_gbps": best["gbps"], "best_mib": best["mib"], "sweep": points}


def fingerprint(device: torch.device) -> dict[str, Any]:
    """What a peak belongs to: a result is reused only where all of it is the same."""
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_model()
    return {"device_type": device.type, "device_name": name, "cpu_count": os.cpu_count(), "torch": torch.__version__}


def measure(device: str = "cpu", max_n: int | None = None, on_done: OnDone | None = None) -> dict[str, Any]:
    """Run the probe (seconds; no cache involved): every precision's sweep, then the copies.
    ``on_done`` hears of each as it finishes."""
    where = resolve_device(device)
    sizes = sweep_sizes(where.type, max_n)
    start = time.perf_counter()
    matmul = {}
    for precision in PRECISIONS[where.type]:
        began = time.perf_counter()
        matmul[precision] = matmul_sweep(where, precision, sizes)
        if on_done:
            on_done(precision, matmul[precision], time.perf_counter() - began)
    began = time.perf_counter()
    copy = copy_sweep(where, COPY_MIB[where.type])
    if on_done:
        on_done("copy", copy, time.perf_counter() - began)
    return {
        "version": VERSION,
        "fingerprint": fingerprint(where),
        "device": str(where),
        "threads": torch.get_num_threads(),
        "max_n": DEFAULT_MAX_N[where.type] if max_n is None else max_n,
        "matmul": matmul,
        "copy": copy,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "probe_s": round(time.perf_counter() - start, 2),
    }


def cached_peak(device: str = "cpu", folder: Path | None = None) -> dict[str, Any] | None:
    """The cached peak of ``device`` on this machine, or None; never measures."""
    return load(fingerprint(resolve_device(device)), folder)


def peak(
    device: str = "cpu",
    max_n: int | None = None,
    again: bool = False,
    folder: Path | None = None,
    on_done: OnDone | None = None,
) -> tuple[dict[str, Any], bool]:
    """The cached peak where there is one that swept as far as ``max_n``, else a new measurement,
    then cached; and whether it was measured now. ``again``: measure whatever the cache holds."""
    wanted = DEFAULT_MAX_N[resolve_device(device).type] if max_n is None else max_n
    if not again:
        cached = cached_peak(device, folder)
        if cached is not None and cached["max_n"] >= wanted:
            return cached, False
    result = measure(device, wanted, on_done)
    save(result, folder)
    return result, True
