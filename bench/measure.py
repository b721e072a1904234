"""Measure one case through pytest-benchmark and describe it in ``extra_info``."""

from __future__ import annotations

import contextlib
import gc
import signal
import statistics
import sys
import threading
import traceback
from collections.abc import Iterator
from typing import Any

import torch

from bench import telemetry, timing
from bench.context import RunContext
from bench.digest import result_sha256
from bench.registry import Case, Prepared
from bench.runs import write_json
from bench.timing import RoundPolicy

RECORD_SCHEMA = 1  # version of the extra_info layout below


class CaseTimeout(Exception):
    """A case ran past ``--case-timeout``."""


@contextlib.contextmanager
def time_limit(seconds: float | None) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in this (main) thread once ``seconds`` have passed.

    The alarm lands between Python bytecodes, so one long native call finishes first.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"exceeded its time limit of {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def release(ctx: RunContext) -> None:
    """Free what a failed case held (its frames' tensors first), so the next case has the memory."""
    traceback.clear_frames(sys.exc_info()[2])
    gc.collect()
    if ctx.device.type == "cuda":
        torch.cuda.empty_cache()


def result_digest(prepared: Prepared, value: Any) -> str | None:
    """The digest of what the call that returned ``value`` computed, for checking that runs
    reproduce; None where the case declares no result or computed none in this process."""
    computed = None if prepared.result is None else prepared.result(value)
    return None if computed is None else result_sha256(computed)


def measure(benchmark: Any, case: Case, ctx: RunContext, policy: RoundPolicy) -> Any:
    """Time ``case`` within its time limit; a case that fails leaves its memory behind it."""
    try:
        with time_limit(policy.case_timeout):
            return _measure(benchmark, case, ctx, policy)
    except BaseException:
        # pytest-benchmark marks only Exceptions; a case stopped by Ctrl-C or SIGTERM has no result
        # either, and its empty statistics must not reach the record
        benchmark.has_error = True
        release(ctx)
        raise


def _measure(benchmark: Any, case: Case, ctx: RunContext, policy: RoundPolicy) -> Any:
    """Time ``case`` with the ``benchmark`` fixture; return the last call's result.

    The case is seeded the same way whatever ran before it, calibrated, warmed
    up and timed in rounds; on CUDA every round is bracketed by synchronization
    and timed by device events as well. The first call's result is digested.
    """
    ctx.seed_everything()
    prepared = case.prepare(ctx)
    cuda = ctx.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(ctx.device)
    once = case.workload.timed_once
    # the first call after seeding, digested at once (later calls may update in place what it
    # returned); an untimed call of its own, so that calibration still times the bare call
    digest = None if once else result_digest(prepared, prepared.call())
    plan = timing.RoundPlan(1, 1, 0) if once else timing.plan_rounds(prepared.call, ctx.synchronize, policy)
    sampler = telemetry.sampler_for(ctx.device, ctx.settings.telemetry_hz) if ctx.settings.telemetry_hz else None
    timing.arm(timing.backend_for(ctx.device))
    try:
        with sampler or contextlib.nullcontext():
            result = benchmark.pedantic(
                prepared.call, rounds=plan.rounds, iterations=plan.iterations, warmup_rounds=plan.warmup_rounds
            )
    finally:
        device_times = timing.disarm(plan.iterations, plan.warmup_rounds)
    if once:
        digest = result_digest(prepared, result)

    info: dict[str, Any] = {
        "schema": RECORD_SCHEMA,
        "workload": case.workload.name,
        "family": case.workload.family,
        "tags": sorted(case.workload.tags),
        "size": case.size,
        "params": dict(case.params),
        "dtype": case.dtype,
        "device": str(ctx.device),
        "device_type": ctx.device.type,
        "seed": ctx.settings.seed,
        "determinism": ctx.settings.determinism,
        "threads": torch.get_num_threads(),
        "plan": {"iterations": plan.iterations, "rounds": plan.rounds, "warmup_rounds": plan.warmup_rounds},
        "result_sha256": digest,
    }
    if case.workload.preflight is not None:
        info["data"] = case.workload.preflight(ctx.settings)
    work = prepared.work or case.work()
    info["work"] = {"items": work.items, "flops": work.flops, "bytes": work.bytes}
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None when pytest-benchmark is disabled
        median, basis = stats.stats.median, "host"
        if device_times:
            median, basis = statistics.median(device_times), "cuda_event"
            quartiles = statistics.quantiles(device_times, n=4) if len(device_times) > 1 else [median] * 3
            info["device_time"] = {
                "per_round_s": device_times,
                "median_s": median,
                "iqr_s": quartiles[2] - quartiles[0],
            }
        info["rates"] = {"basis": basis, "median_s": median, **work.rates(median)}
    if prepared.metrics is not None:
        info["metrics"] = prepared.metrics()
    if cuda:
        info["cuda_max_memory_allocated"] = torch.cuda.max_memory_allocated(ctx.device)
    if sampler is not None:
        info["telemetry"] = sampler.summary()
        folder = ctx.artifact_dir("telemetry", shared=True) if sampler.timeline else None
        if folder is not None:  # the GPU's timeline, in full
            write_json(folder / f"{case.id.replace('/', '_')}.json", {"case": case.id, "timeline": sampler.timeline})
    benchmark.extra_info.update(info)
    benchmark.group = case.workload.family

    del prepared
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result
