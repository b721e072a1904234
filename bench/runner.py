"""Measure cases, with or without pytest: the code that every way of running the suite drives.

Three levels, each usable on its own (from a notebook, another tool, the head-to-head runner):

* :func:`time_rounds` — call a function in rounds of N calls and return the seconds per call of
  each round: the lowest level ("measure this for N rounds and give me the samples");
* :func:`run_case` — one case the harness's way: seeded, built, its first result digested,
  calibrated, warmed up, timed in rounds (device events on CUDA), telemetry beside it, described
  in a :class:`~bench.record.CaseResult`;
* :func:`run_cases` — a selection into a :class:`~bench.record.RunRecord`: a case that fails is
  recorded with its reason and the rest go on; Ctrl-C or SIGTERM end it with a partial record.

The pytest plugin (``bench/suite``) is a thin adapter: it hands :func:`run_case` the
pytest-benchmark fixture's rounds instead of :func:`time_rounds`, and pytest-benchmark writes the
same record format.
"""

from __future__ import annotations

import contextlib
import gc
import math
import signal
import statistics
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import torch

from bench import envinfo, signals, telemetry, timing
from bench.context import RunContext, RunSettings
from bench.digest import result_sha256
from bench.errors import ServedElsewhere
from bench.modes import Mode, drift, float32_math, tensors
from bench.profiling import BUSY_CALLS, device_busy, launch_bound, profile_calls
from bench.record import CaseResult, RunRecord
from bench.registry import Case, Prepared
from bench.runs import write_json
from bench.timing import RoundPlan, RoundPolicy, round_clock

# How a case's timed rounds are run: given the call and the plan, return the seconds per call of
# each timed round and the last call's result (:func:`time_rounds`, or pytest-benchmark's fixture)
Rounds = Callable[[Callable[[], Any], RoundPlan], tuple[list[float], Any]]


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


def time_rounds(call: Callable[[], Any], plan: RoundPlan) -> tuple[list[float], Any]:
    """Warm-up rounds, then ``plan.rounds`` timed rounds of ``plan.iterations`` calls each, timed
    by the round clock (synchronized at the edges on a device): seconds per call of each timed
    round, and the last result."""
    per_call, result = [], None
    for index in range(plan.warmup_rounds + plan.rounds):
        start = round_clock()
        for _ in range(plan.iterations):
            result = call()
        elapsed = round_clock() - start
        if index >= plan.warmup_rounds:
            per_call.append(elapsed / plan.iterations)
    return per_call, result


def result_digest(prepared: Prepared, value: Any) -> str | None:
    """The digest of what the call that returned ``value`` computed, for checking that runs
    reproduce; None where the case declares no result or computed none in this process."""
    computed = None if prepared.result is None else prepared.result(value)
    return None if computed is None else result_sha256(computed)


def run_case(case: Case, ctx: RunContext, policy: RoundPolicy, rounds: Rounds = time_rounds) -> CaseResult:
    """Time ``case`` within its time limit; a case that fails leaves its memory behind it."""
    try:
        with time_limit(policy.case_timeout):
            return _run_case(case, ctx, policy, rounds)
    except BaseException:
        release(ctx)
        raise


def _run_case(case: Case, ctx: RunContext, policy: RoundPolicy, rounds: Rounds) -> CaseResult:
    """The case in its execution mode: its float math set, its modules and inputs made by the mode
    (through ``ctx.mode``), a compiled case starting from an empty compile cache."""
    mode = case.mode
    reference = None if mode.is_reference or case.workload.timed_once else _reference(case, ctx)
    if mode.compile != "off":
        torch._dynamo.reset()  # graphs and recompile limits of earlier cases do not carry over
    ctx.mode = mode
    try:
        with mode.math():
            result = _measure(case, ctx, policy, rounds, reference)
    finally:
        ctx.mode = Mode()
    return result


# the last reference result (several modes of a case share it), by case id and the run's settings:
# a process may run the same case again with another seed or device (a library user, the tests)
_REFERENCES: dict[tuple[str, RunSettings], list[torch.Tensor]] = {}


def _reference(case: Case, ctx: RunContext) -> list[torch.Tensor] | None:
    """What the case computes in the reference mode (eager, fp32, contiguous), seeded as the case
    is: its result's tensors, to check the mode's against; None where it declares no result."""
    reference = case.reference
    key = (reference.id, ctx.settings)
    if key not in _REFERENCES:
        _REFERENCES.clear()
        ctx.seed_everything()
        with Mode().math():
            prepared = reference.prepare(ctx)
            value = prepared.call()
            computed = None if prepared.result is None else prepared.result(value)
            _REFERENCES[key] = [t.detach().clone() for t in tensors(computed)] if computed is not None else []
        del prepared, value
    return _REFERENCES[key] or None


def _graphs() -> int:
    """Graphs torch.compile has made in this process so far (dynamo's own count)."""
    return int(torch._dynamo.utils.counters["stats"]["unique_graphs"])


def _measure(
    case: Case, ctx: RunContext, policy: RoundPolicy, rounds: Rounds, reference: list[torch.Tensor] | None
) -> CaseResult:
    """The case is seeded the same way whatever ran before it, calibrated, warmed up and timed in
    rounds; on CUDA every round is bracketed by synchronization and timed by device events as well.
    The first call is timed on its own (a compiled case compiles in it) and its result digested,
    and checked against the reference mode's where the case runs in another."""
    ctx.seed_everything()
    prepared = case.prepare(ctx)
    cuda = ctx.device.type == "cuda"
    if cuda:
        torch.cuda.reset_peak_memory_stats(ctx.device)
    once = case.workload.timed_once
    execution: dict[str, Any] = {**case.mode.values(), "float32_math": float32_math()}
    graphs = _graphs() if case.mode.compile != "off" else 0
    digest = None
    if not once:
        # the first call after seeding, digested at once (later calls may update in place what it
        # returned); an untimed call of its own, so that calibration still times the bare call
        start = time.perf_counter()
        value = prepared.call()
        ctx.synchronize()
        execution["first_call_s"] = time.perf_counter() - start
        digest = result_digest(prepared, value)
        execution["numerics"] = _numerics(case, prepared, value, reference)
        del value
    elif not case.mode.is_reference:
        execution["numerics"] = {"checked": False, "why": "one call is a whole training run: compare its accuracy"}
    if case.mode.compile != "off":
        execution["graphs"], graphs = _graphs() - graphs, _graphs()
    plan = RoundPlan(1, 1, 0) if once else timing.plan_rounds(prepared.call, ctx.synchronize, policy)
    sampler = telemetry.sampler_for(ctx.device, ctx.settings.telemetry_hz) if ctx.settings.telemetry_hz else None
    timing.arm(timing.backend_for(ctx.device))
    try:
        with sampler or contextlib.nullcontext():
            host_times, value = rounds(prepared.call, plan)
    finally:
        device_times = timing.disarm(plan.iterations, plan.warmup_rounds)
    if once:
        digest = result_digest(prepared, value)
    if case.mode.compile != "off":
        execution["recompiles"] = _graphs() - graphs  # graphs made after the first call

    work = prepared.work or case.work()
    result = CaseResult(
        id=case.id,
        workload=case.workload.name,
        family=case.workload.family,
        tags=sorted(case.workload.tags),
        size=case.size,
        params=dict(case.params),
        variants=list(case.workload.variants),
        dtype=case.dtype,
        device=str(ctx.device),
        device_type=ctx.device.type,
        seed=ctx.settings.seed,
        determinism=ctx.settings.determinism,
        threads=torch.get_num_threads(),
        plan={"iterations": plan.iterations, "rounds": plan.rounds, "warmup_rounds": plan.warmup_rounds},
        result_sha256=digest,
        work=work,
        data=case.workload.preflight(ctx.settings) if case.workload.preflight is not None else None,
        stats=_statistics(host_times, plan),
        execution=execution,
    )
    if host_times:  # none where pytest-benchmark is disabled
        median, basis = statistics.median(host_times), "host"
        if device_times:
            median, basis = statistics.median(device_times), "cuda_event"
            quartiles = statistics.quantiles(device_times, n=4) if len(device_times) > 1 else [median] * 3
            result.device_time = {"per_round_s": device_times, "median_s": median, "iqr_s": quartiles[2] - quartiles[0]}
        result.rates = {"basis": basis, "median_s": median, **work.rates(median)}
    if prepared.metrics is not None:
        result.metrics = prepared.metrics()
    if policy.profile_calls and not once:  # extra calls after the timed rounds, never among them
        result.profile = _profile(case, ctx, prepared, policy.profile_calls)
    if cuda and not once and result.device_time:  # is the GPU busy, or waiting on kernel launches?
        busy = device_busy(prepared.call, BUSY_CALLS, ctx.synchronize)
        execution.update(launch_bound(busy, result.device_time["median_s"]))
    if cuda:
        result.cuda_max_memory_allocated = torch.cuda.max_memory_allocated(ctx.device)
    if sampler is not None:
        result.telemetry = sampler.summary()
        folder = ctx.artifact_dir("telemetry", shared=True) if sampler.timeline else None
        if folder is not None:  # the GPU's timeline, in full
            write_json(folder / f"{case.id.replace('/', '_')}.json", {"case": case.id, "timeline": sampler.timeline})

    del prepared
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    return result


def _numerics(
    case: Case, prepared: Prepared, value: Any, reference: list[torch.Tensor] | None
) -> dict[str, Any] | None:
    """The mode's first result against the reference mode's: the largest difference over the
    largest reference value, within the mode's tolerance or flagged. None in the reference mode."""
    if case.mode.is_reference:
        return {"checked": False, "why": "the reference mode"}
    computed = None if prepared.result is None else prepared.result(value)
    if reference is None or computed is None:
        return {"checked": False, "why": "the case declares no result to compare"}
    tolerance = case.mode.tolerance
    try:
        error = drift(reference, tensors(computed))
    except ValueError as mismatch:
        return {"checked": True, "tolerance": tolerance, "within": False, "why": str(mismatch)}
    if not math.isfinite(error):
        return {"checked": True, "tolerance": tolerance, "within": False, "why": "non-finite values in either result"}
    return {"checked": True, "max_error": error, "tolerance": tolerance, "within": error <= tolerance}


def _profile(case: Case, ctx: RunContext, prepared: Prepared, calls: int) -> dict[str, Any] | None:
    """``calls`` more calls under torch.profiler, into ``artifacts/profile/<case>/`` (a scratch folder
    outside a run): the trace files and the top operators by self time."""
    name = case.id.replace("/", "_")
    folder = ctx.artifact_dir(f"profile/{name}") or ctx.scratch / "profile" / name
    summary = profile_calls(prepared.call, ctx.device, calls, folder, case.id, ctx.synchronize)
    if ctx.artifacts is not None:
        summary["folder"] = str(folder.relative_to(ctx.artifacts))
    return summary


def _statistics(per_call: list[float], plan: RoundPlan) -> dict[str, Any] | None:
    """pytest-benchmark's statistics of the per-call times, as its JSON holds them."""
    if not per_call:
        return None
    from pytest_benchmark.stats import Stats  # noqa: PLC0415 - its statistics, so records match its own

    stats = Stats()
    for seconds in per_call:
        stats.update(seconds)
    return {**stats.as_dict(), "data": list(per_call), "iterations": plan.iterations}


def run_cases(
    cases: Sequence[Case],
    ctx: RunContext,
    policy: RoundPolicy,
    *,
    rounds: Rounds = time_rounds,
    selection: dict[str, Any] | None = None,
    on_result: Callable[[Case, CaseResult | None, str | None], None] | None = None,
) -> RunRecord:
    """Run ``cases`` in order into a record (``ctx`` applied first). A case that raises is recorded
    as failed, with a one-line reason, and the run goes on; a case this machine served as a worker
    node of a job across machines is listed as served; Ctrl-C or SIGTERM stop it, and the record
    holds what finished, marked partial. ``on_result(case, result, error)`` after each case run here."""
    ctx.apply()
    record = RunRecord(
        cases=[],
        machine_info=_machine_info(),
        commit_info=_commit_info(),
        datetime=datetime.now(UTC).isoformat(),
        version=_pytest_benchmark_version(),
        context=ctx.record(),
        selection=selection or {},
        cases_planned=len(cases),
        sources=[],
    )
    gc.freeze()  # what is alive now lives all run long: collections after each case skip it
    try:
        for case in cases:
            try:
                result = run_case(case, ctx, policy, rounds)
            except KeyboardInterrupt:
                record.partial, record.interrupted_by = True, (signals.received or ["KeyboardInterrupt"])[0]
                break
            except ServedElsewhere as served:  # a worker node's part of a job across machines
                record.served.append({"id": case.id, **served.served})
                continue
            except Exception as error:  # noqa: BLE001 - a failing case is recorded and the run goes on
                record.failed.append({"id": case.id, "error": failure_line(error)})
                if on_result:
                    on_result(case, None, record.failed[-1]["error"])
                continue
            record.cases.append(result)
            if on_result:
                on_result(case, result, None)
    finally:
        gc.unfreeze()
    return record


def failure_line(error: BaseException) -> str:
    """A failed case's reason in one line: the exception's type and first line."""
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}"[:300]


def _machine_info() -> dict[str, Any]:
    from pytest_benchmark.plugin import pytest_benchmark_generate_machine_info  # noqa: PLC0415

    return {**pytest_benchmark_generate_machine_info(), **envinfo.collect()}


def _commit_info() -> dict[str, Any]:
    from pytest_benchmark.utils import get_commit_info  # noqa: PLC0415

    return get_commit_info()


def _pytest_benchmark_version() -> str:
    from importlib.metadata import version  # noqa: PLC0415

    return version("pytest-benchmark")
