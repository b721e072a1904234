"""The public API for writing workloads: everything a workload module may import from the harness.

A workload is a function decorated with :func:`workload`: it receives a :class:`RunContext` (the
device, seeded tensor helpers, a scratch folder, the run folder) and the case's parameters, builds
its inputs and returns the timed call, or a :class:`Prepared` when it also reports metrics, its real
amount of :class:`Work` or what its result is. See docs/workloads.md for a full example, and
``examples/`` for a user's own workload run with ``python -m bench run --workloads FILE``.

The rest of ``bench`` is the harness's own and may change without notice.
"""

from bench import distributed
from bench.context import DataSettings, RunContext, RunSettings
from bench.errors import BenchError, UsageError
from bench.record import Work
from bench.registry import Prepared, returned, workload
from bench.runs import open_regular, read_bounded, write_json
from bench.timing import DeviceEvent, backend_for

__all__ = [
    "BenchError",
    "DataSettings",
    "DeviceEvent",
    "Prepared",
    "RunContext",
    "RunSettings",
    "UsageError",
    "Work",
    "backend_for",
    "distributed",
    "open_regular",
    "read_bounded",
    "returned",
    "workload",
    "write_json",
]
