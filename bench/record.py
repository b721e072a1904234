"""Run records, typed: the one layer through which every command reads and writes them.

On disk a run record stays pytest-benchmark's JSON (so ``pytest-benchmark compare`` reads ours):
``machine_info``, ``commit_info``, ``datetime``, ``version``, ``benchmarks`` (one entry per case,
with ``stats`` and our ``extra_info``), plus our own ``bench`` section. :class:`RunRecord` and
:class:`CaseResult` are that file as Python objects: :meth:`RunRecord.from_json` checks size,
shape, types and schema version (older versions are migrated), :meth:`RunRecord.to_dict` writes it
back. Nothing here imports torch or the workload registry: reading, showing, reporting and
comparing records work where torch does not. The format is documented in docs/record-format.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RECORD_SCHEMA = 2  # version of the "bench" section and of each result's extra_info
BENCHMARK_JSON = "benchmark.json"


@dataclass(frozen=True)
class Work:
    """What one timed call does: items, and FLOPs or bytes where well defined."""

    items: float
    flops: float | None = None
    bytes: float | None = None

    def rates(self, seconds: float) -> dict[str, float]:
        """Throughput for one call taking ``seconds``."""
        rates = {"items_per_s": self.items / seconds}
        if self.flops is not None:
            rates["gflops"] = self.flops / seconds / 1e9
        if self.bytes is not None:
            rates["gbytes_per_s"] = self.bytes / seconds / 1e9
        return rates


@dataclass(frozen=True)
class Timing:
    """A result's median and IQR per call and its per-round times (seconds per call): CUDA-event
    times where the run has them, else the host's."""

    median_s: float | None
    iqr_s: float | None
    samples: list[float]
    basis: str  # "cuda_event" or "host"


@dataclass
class CaseResult:
    """One case's result: what was run, how it was timed, what it computed.

    ``stats`` is pytest-benchmark's statistics of the host times per call (``data``: one per
    round); ``device_time`` the CUDA-event times per round, on a GPU. ``variants``: the names of
    the parameters that make a variant of the workload (op, mode …) rather than a size, so readers
    can group sizes without the workload registry.
    """

    id: str
    workload: str
    family: str | None = None
    tags: list[str] = field(default_factory=list)
    size: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    variants: list[str] = field(default_factory=list)
    dtype: str | None = None
    device: str | None = None
    device_type: str | None = None
    seed: int | None = None
    determinism: str | None = None
    threads: int | None = None
    plan: dict[str, int] | None = None  # iterations, rounds, warmup_rounds
    result_sha256: str | None = None
    work: Work | None = None
    stats: dict[str, Any] | None = None
    rates: dict[str, Any] | None = None
    device_time: dict[str, Any] | None = None
    data: dict[str, Any] | None = None
    metrics: dict[str, Any] | None = None
    telemetry: dict[str, Any] | None = None
    cuda_max_memory_allocated: int | None = None
    # pytest-benchmark's own fields of the entry (name, fullname, group, param, params, options),
    # kept as read so that a record written back is the same record
    entry: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunRecord:
    """A whole run: its machine, commit, context, selection, results, failures."""

    cases: list[CaseResult]
    machine_info: dict[str, Any] = field(default_factory=dict)
    commit_info: dict[str, Any] = field(default_factory=dict)
    datetime: str | None = None
    version: str | None = None  # pytest-benchmark's version, as it writes it
    context: dict[str, Any] = field(default_factory=dict)
    selection: dict[str, Any] = field(default_factory=dict)
    cases_planned: int | None = None
    preflight: dict[str, Any] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)
    partial: bool = False
    interrupted_by: str | None = None
    sources: list[dict[str, Any]] = field(default_factory=list)  # where the run's workloads came from
    schema: int = RECORD_SCHEMA
    path: Path | None = None  # the file it was read from


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"
