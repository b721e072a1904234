"""Profile a case's steady-state calls with torch.profiler (``--profile[=N]``), after its timed rounds.

The profiler's overhead would distort the timing, so its calls are extra ones, never timed. One
profiling session gives two copies of one trace: ``trace.json`` for Chrome's tracing or Perfetto,
and ``tensorboard/<worker>.<ns>.pt.trace.json``, the layout TensorBoard's profiler plugin reads
(``tensorboard --logdir FOLDER/tensorboard``). The summary beside them names the operators that
took the most self time, for ``show`` and the report.

torch is imported only when profiling: the readers that list the summary start without it.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.runs import FILE_MODE

if TYPE_CHECKING:
    import torch
    from torch.autograd.profiler_util import EventList

DEFAULT_CALLS = 10  # what ``--profile`` without a number profiles
TOP = 10  # operators kept in the summary
TRACE = "trace.json"
TENSORBOARD = "tensorboard"
WIDTH = 59  # most characters of a line of :func:`top_lines`: under 60, to sit beside a case's label


def profile_calls(
    call: Callable[[], Any],
    device: torch.device,
    calls: int,
    folder: Path,
    name: str,
    synchronize: Callable[[], None],
) -> dict[str, Any]:
    """Run ``call`` ``calls`` times under the profiler, each call a range of its own (``call 0``, …),
    save the trace into ``folder`` and summarize its top operators by self time per call."""
    if calls < 1:
        raise ValueError(f"calls to profile must be >= 1, got {calls}")
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")  # kineto's own log lines (errors only) off stderr
    import torch  # noqa: PLC0415

    activities = [torch.profiler.ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    ranges = [f"call {i}" for i in range(calls)]
    synchronize()  # work queued before (the last timed round) stays out of the trace
    with torch.profiler.profile(activities=activities, record_shapes=True, with_stack=False) as prof:
        for label in ranges:
            with torch.profiler.record_function(label):
                call()
        synchronize()  # the device's last kernels end inside the trace
    _save(prof, folder, name)
    return {"calls": calls, "trace": TRACE, "tensorboard": TENSORBOARD, "top": _top(prof.key_averages(), calls, ranges)}


def _save(prof: torch.profiler.profile, folder: Path, name: str) -> None:
    """Export the trace once (torch 2.14 refuses a second export: "Trace is already saved") to hidden
    files, then rename them into place, so that a reader never sees half a trace."""
    board = folder / TENSORBOARD
    board.mkdir(parents=True, exist_ok=True)
    staged = [_hidden(folder), _hidden(board)]
    try:
        prof.export_chrome_trace(str(staged[0]))
        shutil.copyfile(staged[0], staged[1])
        for path in staged:
            os.chmod(path, FILE_MODE)
            with path.open("rb") as f:
                os.fsync(f.fileno())
        # the name tensorboard_trace_handler gives, with the case for the worker: the plugin lists it by that
        worker = re.sub(r"[^\w=-]+", "_", name, flags=re.ASCII) or "case"
        os.replace(staged[1], board / f"{worker}.{time.time_ns()}.pt.trace.json")
        os.replace(staged[0], folder / TRACE)
    finally:
        for path in staged:
            path.unlink(missing_ok=True)


def _hidden(folder: Path) -> Path:
    """A new hidden file in ``folder`` to write a trace into before it is renamed."""
    fd, path = tempfile.mkstemp(dir=folder, prefix=".trace.", suffix=".tmp")
    os.close(fd)
    return Path(path)


def _top(averages: EventList, calls: int, ranges: list[str]) -> list[dict[str, Any]]:
    """The :data:`TOP` operators by self time: the device's where an operator has any (its kernels), else
    the host's. Only host-side rows count, as a kernel's time is already in the operator that launched
    it; our call ranges and ProfilerStep ranges are not operators."""
    import torch  # noqa: PLC0415

    skip = set(ranges)
    times: dict[str, tuple[float, int]] = {}
    for row in averages:
        if row.device_type != torch.autograd.DeviceType.CPU or row.key in skip or row.key.startswith("ProfilerStep"):
            continue
        micro = row.self_device_time_total if row.self_device_time_total > 0 else row.self_cpu_time_total
        if math.isfinite(micro) and micro > 0:
            times[row.key] = (micro * 1e-6, row.count)
    total = sum(seconds for seconds, _ in times.values())
    ranked = sorted(times.items(), key=lambda item: item[1][0], reverse=True)[:TOP]
    return [
        {"name": key, "self_s": seconds / calls, "calls": count / calls, "share": seconds / total}
        for key, (seconds, count) in ranked
    ]


def top_lines(summary: dict[str, Any], most: int = 5) -> list[str]:
    """The ``most`` top operators of a summary as lines for a terminal table: name, share, self time per call."""
    from bench.summary import duration  # noqa: PLC0415 - bench.summary lists these lines: no import cycle

    lines = []
    for op in summary["top"][:most]:
        tail = f" {op['share']:.0%} {duration(op['self_s'])}/call"
        room = WIDTH - len(tail)
        name = op["name"] if len(op["name"]) <= room else op["name"][: room - 1] + "…"
        lines.append(name + tail)
    return lines


BUSY_CALLS = 5  # calls timed for the device's busy time: a few, after the rounds
LAUNCH_BOUND = 0.5  # a device running kernels under half of each call's time waits on the host


def device_busy(call: Callable[[], Any], calls: int, synchronize: Callable[[], None]) -> float:
    """Seconds per call a GPU spends running kernels (CUDA activity under the profiler, kernels
    summed): set against the call's time, how much of it the device was busy rather than waiting
    for the host to launch the next kernel."""
    os.environ.setdefault("KINETO_LOG_LEVEL", "5")
    import torch  # noqa: PLC0415

    activities = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
    synchronize()
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(calls):
            call()
        synchronize()
    return kernel_seconds(prof.key_averages()) / calls


def kernel_seconds(averages: EventList) -> float:
    """The device-side rows' time (the kernels themselves), in seconds."""
    import torch  # noqa: PLC0415

    micro = sum(row.self_device_time_total for row in averages if row.device_type == torch.autograd.DeviceType.CUDA)
    return micro * 1e-6


def launch_bound(busy_s: float, per_call_s: float) -> dict[str, Any]:
    """The busy share of a call's device time, and whether the host, not the GPU, sets its pace."""
    fraction = min(busy_s / per_call_s, 1.0) if per_call_s > 0 else 0.0  # overlapping streams: at most 1
    return {"device_busy_s": busy_s, "device_busy_fraction": fraction, "launch_bound": fraction < LAUNCH_BOUND}
