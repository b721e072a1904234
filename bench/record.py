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
import math
import reprlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.runs import BENCHMARK_JSON, read_json

RECORD_SCHEMA = 2  # version of the "bench" section and of each result's extra_info


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


# -- checking fields as they are read ------------------------------------------------------------


@dataclass(frozen=True)
class _Kind:
    """What a field must hold, in the words of the error that says it does not."""

    what: str
    holds: Callable[[Any], bool]


def _is_number(value: Any) -> bool:
    """A JSON number that a float can hold: an integer of 400 digits is valid JSON, but arithmetic
    with floats (a time in ms, a rate) fails on it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, float) or abs(value) <= sys.float_info.max


def _within(low: float, high: float) -> Callable[[Any], bool]:
    """A finite number in [low, high] (NaN fails every comparison)."""
    return lambda v: _is_number(v) and math.isfinite(v) and low <= v <= high


def _list_of(what: str, kind: _Kind) -> _Kind:
    return _Kind(what, lambda v: isinstance(v, list) and all(kind.holds(x) for x in v))


TEXT = _Kind("a string", lambda v: isinstance(v, str))  # free text: an error message, tracebacks included
# A name (workload, family, case id, device, commit, machine …): readers print it in tables and in
# one-line errors, draw it on plots and name files after it, so a newline, a NUL or a terminal's
# escape sequence in it makes no sense.
NAME = _Kind("a one-line printable string", lambda v: isinstance(v, str) and v.isprintable())
BOOLEAN = _Kind("true or false", lambda v: isinstance(v, bool))
OBJECT = _Kind("a JSON object", lambda v: isinstance(v, dict))
COUNT = _Kind("an integer >= 0", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0)
SECONDS = _Kind("a number >= 0", _within(0, math.inf))  # times, rates, sizes: finite and not negative
DURATION = _Kind("a number > 0", lambda v: SECONDS.holds(v) and v > 0)  # a measured round: never no time
FRACTION = _Kind("a number in [0, 1]", _within(0, 1))
FINITE = _Kind("a finite number", _within(-math.inf, math.inf))
NUMBER = _Kind("a number", _is_number)  # a training loss: NaN where the training diverged
NAMES = _list_of("a list of one-line printable strings", NAME)
TIMES = _list_of("a list of numbers >= 0", SECONDS)
DURATIONS = _list_of("a list of numbers > 0", DURATION)
OBJECTS = _list_of("a list of JSON objects", OBJECT)
CURRENT = _Kind(f"{RECORD_SCHEMA}, the record's schema", lambda v: COUNT.holds(v) and v == RECORD_SCHEMA)

_SHORT = reprlib.Repr()  # a bad value, shown short enough for one line
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring, _SHORT.maxother = 2, 4, 4, 40, 40


class _Fields:
    """One JSON object of a record, read field by field: a field of the wrong type stops the
    reading with one line naming the file, the case and the field's path."""

    def __init__(self, data: dict[str, Any], where: str, path: str = "") -> None:
        self.data, self.where, self.path = data, where, path

    def get(self, name: str, kind: _Kind, required: bool = False) -> Any:
        """The field's value; None where it is absent or null and not required."""
        value = self.data.get(name)
        if (value is not None or required) and not kind.holds(value):
            raise UsageError(f"{self.where}: {self.path}{name} must be {kind.what}, got {_SHORT.repr(value)}")
        return value

    def check(self, kinds: Mapping[str, _Kind], required: bool = False) -> dict[str, Any]:
        """Check several fields at once; the object itself."""
        for name, kind in kinds.items():
            self.get(name, kind, required)
        return self.data

    def child(self, name: str) -> _Fields:
        """The object in field ``name`` (empty where absent), to read its own fields."""
        return _Fields(self.get(name, OBJECT) or {}, self.where, f"{self.path}{name}.")

    def children(self, name: str) -> list[_Fields]:
        """The objects of the list in field ``name``."""
        items = self.get(name, OBJECTS) or []
        return [_Fields(item, self.where, f"{self.path}{name}[{i}].") for i, item in enumerate(items)]

    def section(self, name: str, kinds: Mapping[str, _Kind]) -> dict[str, Any] | None:
        """The object in field ``name`` with its ``kinds`` checked; None where absent."""
        return self.child(name).check(kinds) if self.get(name, OBJECT) is not None else None


# What readers use of each part, and what it must be. Fields not named here are kept as they are.
_MACHINE = {
    "node": NAME,
    "cpu_model": NAME,
    "cpu_count": COUNT,
    "gpus": OBJECTS,
    "torch": OBJECT,
    "container": OBJECT,
}
_CONTAINER = {"in_container": BOOLEAN, "image": NAME, "flavor": NAME, "image_id": NAME}
_COMMIT = {"id": NAME, "time": NAME, "dirty": BOOLEAN, "branch": NAME}
_CONTEXT = {"device": NAME, "device_type": NAME, "seed": COUNT, "determinism": NAME, "threads": COUNT}
_FAILURE = {"id": NAME, "error": TEXT}
_SKIPPED = {"id": NAME, "reason": TEXT}
# a job this machine took part in as a worker node: its numbers are in the record of the node with rank 0
_SERVED = {"id": NAME, "node": COUNT, "nodes": COUNT, "world_size": COUNT, "job": NAME, "leader_host": NAME}
# where a run across machines or devices placed itself: the node (BENCH_NODE_* and torchrun's) …
_NODE = {"label": NAME, "nnodes": NAME, "node_rank": NAME, "rdzv_id": NAME, "rdzv_endpoint": NAME}
# … and, in a run over several devices (--device cuda:all), each result's device among them
_PLACEMENT = {"device": NAME, "devices": NAMES, "concurrent": BOOLEAN, "case": NAME}
_ENTRY = {"fullname": NAME, "group": NAME, "params": OBJECT, "options": OBJECT}


def placed_id(case_id: str, device: str) -> str:
    """A result's or failure's id in a run over several devices: the case's, then ``@device``."""
    return f"{case_id}@{device}"


def split_placed(case_id: str) -> tuple[str, str]:
    """The case's id and its device from :func:`placed_id`'s; the device empty for any other id."""
    case, _, device = case_id.partition("@")
    return case, device


_STATS = {"data": DURATIONS, "median": SECONDS, "iqr": SECONDS, "rounds": COUNT}
_PLAN = {"iterations": COUNT, "rounds": COUNT, "warmup_rounds": COUNT}
_RATES = {"basis": NAME, "median_s": SECONDS, "items_per_s": SECONDS, "gflops": SECONDS, "gbytes_per_s": SECONDS}
_DEVICE_TIME = {"per_round_s": DURATIONS, "median_s": SECONDS, "iqr_s": SECONDS}
_DATA = {"label": NAME, "train_count": COUNT, "test_count": COUNT}
_METRICS = {
    "model": NAME,
    "path": NAME,
    "data_label": NAME,
    "images_per_s": SECONDS,
    "final_test_accuracy": FRACTION,
    "loader_bound": BOOLEAN,
    "train_images": COUNT,
    "test_images": COUNT,
    "world_size": COUNT,
    "communication_fraction": FINITE,
    "weights_identical_across_ranks": BOOLEAN,
    "epochs": OBJECTS,
}
_TRAINED = ("final_test_accuracy", "model", "path", "data_label", "images_per_s")  # what every training result has
_EPOCH = {"epoch": COUNT, "train_loss": NUMBER, "test_accuracy": FRACTION}
_GPU_TELEMETRY = {"util_mean": SECONDS, "power_mean_w": SECONDS, "energy_j": FINITE, "throttled": BOOLEAN}
_WORK = {"items": SECONDS, "flops": SECONDS, "bytes": SECONDS}
_EXECUTION = {
    "compile": NAME,
    "precision": NAME,
    "memory_format": NAME,
    "first_call_s": SECONDS,
    "graphs": COUNT,
    "recompiles": COUNT,
    "numerics": OBJECT,
    "device_busy_s": SECONDS,
    "device_busy_fraction": FRACTION,
    "launch_bound": BOOLEAN,
}
_NUMERICS = {"checked": BOOLEAN, "max_error": SECONDS, "tolerance": SECONDS, "within": BOOLEAN}
_PROFILE = {"calls": COUNT, "trace": NAME, "tensorboard": NAME, "folder": TEXT, "top": OBJECTS}
_OPERATOR = {"name": TEXT, "self_s": SECONDS, "calls": SECONDS, "share": FRACTION}


# -- schema versions --------------------------------------------------------------------------------

# The variant parameters of the built-in workloads as schema 1 knew them (v1 records only ever came
# from the built-in set, and v1 recorded no variants): frozen here, as the registry may change.
V1_VARIANTS: Mapping[str, tuple[str, ...]] = {
    "cifar_train": ("model", "path"),
    "cifar_ddp": ("model", "path", "ranks"),
    "conv2d": ("mode",),
    "pool2d": ("op", "mode"),
    "feature_layer": ("op", "mode"),
    "linear": ("op", "mode"),
    "mlp": ("mode",),
    "loss": ("op", "mode"),
    "optimizer_step": ("op",),
    "pointwise": ("op",),
    "rowwise": ("op",),
    "mm": ("op",),
    "batched_matmul": ("op",),
    "shape_ops": ("op",),
    "join_split": ("op",),
    "linalg": ("op",),
    "diagonal": ("op",),
    "recurrent": ("cell", "mode"),
    "create_tensor": ("op",),
}


def _v1_variants(workload: Any) -> list[str]:
    """The variant parameters of a v1 result's workload; none for a workload name that is not a
    string (reading then stops on it, with its field named)."""
    return list(V1_VARIANTS.get(workload, ())) if isinstance(workload, str) else []


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """v2 results name their variant parameters (v1 readers asked the registry); v2 runs list where
    their workloads came from (v1 had only the built-in ones). Records from before interruptions
    were marked have no ``partial``: they were whole; from before results were digested, no
    ``result_sha256``: none is known."""
    benchmarks = [
        {
            **entry,
            "extra_info": {
                "result_sha256": None,
                **entry["extra_info"],
                "schema": 2,
                "variants": _v1_variants(entry["extra_info"].get("workload")),
            },
        }
        if isinstance(entry, dict) and isinstance(entry.get("extra_info"), dict)
        else entry
        for entry in data["benchmarks"]
    ]
    return {**data, "benchmarks": benchmarks, "bench": {"partial": False, **data["bench"], "schema": 2, "sources": []}}


# version -> the function that upgrades a raw record of that version by one
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2}


def migrate(data: dict[str, Any], where: str) -> dict[str, Any]:
    """A raw record upgraded to :data:`RECORD_SCHEMA`, one version at a time (the argument is left as
    it was). Plain pytest-benchmark files, without our section, have nothing to upgrade."""
    if "bench" not in data:
        return data
    schema = data["bench"].get("schema", RECORD_SCHEMA)
    if not (COUNT.holds(schema) and (schema == RECORD_SCHEMA or schema in MIGRATIONS)):
        older = ", ".join(map(str, sorted(MIGRATIONS)))
        raise UsageError(f"{where}: record schema {schema!r}, this version reads {RECORD_SCHEMA} (upgrading {older})")
    while schema != RECORD_SCHEMA:
        data = MIGRATIONS[schema](data)
        schema = data["bench"]["schema"]
    return data


def record_file(path: Path) -> Path:
    """The record of a run folder (its ``benchmark.json``), or ``path`` itself for a file."""
    return path / BENCHMARK_JSON if path.is_dir() else path


# -- the record ------------------------------------------------------------------------------------


def _either(value: Any, fallback: Any) -> Any:
    return fallback if value is None else value


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
    # how it ran: execution mode (compile, precision, memory_format), float32 math switches, first
    # call's seconds, graphs compiled, numerics against the reference mode (bench/modes.py)
    execution: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None  # --profile: trace files and top operators (bench/profiling.py)
    # a run over several devices: this result's device, all of them, whether they ran at once, and
    # the case's id without the device (``id`` ends in ``@device`` so that every result's is unique)
    placement: dict[str, Any] | None = None
    # pytest-benchmark's own fields of the entry (name, fullname, group, param, params, options),
    # kept as read so that a record written back is the same record
    entry: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, entry: Any, where: str, index: int) -> CaseResult:
        """Benchmark ``index`` of the record ``where``, every field readers use checked. A plain
        pytest-benchmark entry (no extra_info of ours) is its name and its statistics."""
        stats = entry.get("stats") if isinstance(entry, dict) else None
        if not isinstance(stats, dict) or not TIMES.holds(stats.get("data", [])):
            raise UsageError(f"{where}: benchmark {index} has no valid 'stats' (per-round times must be numbers >= 0)")
        head = _Fields(entry, f"{where}: benchmark {index}")
        name = head.get("name", NAME)
        case_id = head.get("param", NAME) or name or "?"
        fields = _Fields(entry, f"{where}: benchmark {index} ({case_id})")
        fields.check(_ENTRY)
        fields.child("stats").check(_STATS)
        info = fields.child("extra_info")
        info.get("schema", CURRENT)
        work = info.section("work", _WORK)
        if work is not None:
            info.child("work").get("items", SECONDS, required=True)
        metrics = info.child("metrics")
        if "final_test_accuracy" in metrics.check(_METRICS):  # how readers tell a training result
            metrics.check({key: _METRICS[key] for key in _TRAINED}, required=True)
        for epoch in metrics.children("epochs"):
            epoch.check(_EPOCH, required=True)  # the training curves draw all three
        info.child("telemetry").child("gpu").check(_GPU_TELEMETRY)
        execution = info.section("execution", _EXECUTION)
        info.child("execution").child("numerics").check(_NUMERICS)
        profile = info.section("profile", _PROFILE)
        for operator in info.child("profile").children("top"):
            operator.check(_OPERATOR, required=True)
        placement = info.section("placement", _PLACEMENT)
        if placement is not None:
            info.child("placement").check({"device": NAME, "case": NAME}, required=True)
        return cls(
            id=case_id,
            workload=info.get("workload", NAME) or name or "?",
            family=info.get("family", NAME),
            tags=info.get("tags", NAMES) or [],
            size=info.get("size", NAME),
            params=info.get("params", OBJECT) or {},
            variants=info.get("variants", NAMES) or [],
            dtype=info.get("dtype", NAME),
            device=info.get("device", NAME),
            device_type=info.get("device_type", NAME),
            seed=info.get("seed", COUNT),
            determinism=info.get("determinism", NAME),
            threads=info.get("threads", COUNT),
            plan=info.section("plan", _PLAN),
            result_sha256=info.get("result_sha256", NAME),
            work=None if work is None else Work(work["items"], work.get("flops"), work.get("bytes")),
            stats=stats,
            rates=info.section("rates", _RATES),
            device_time=info.section("device_time", _DEVICE_TIME),
            data=info.section("data", _DATA),
            metrics=info.get("metrics", OBJECT),
            telemetry=info.get("telemetry", OBJECT),
            cuda_max_memory_allocated=info.get("cuda_max_memory_allocated", COUNT),
            execution=execution,
            profile=profile,
            placement=placement,
            entry={k: v for k, v in entry.items() if k not in ("stats", "extra_info")},
        )

    def extra_info(self) -> dict[str, Any]:
        """Our ``extra_info``: every key below always, and the optional ones only where they are set."""
        info: dict[str, Any] = {
            "schema": RECORD_SCHEMA,
            "workload": self.workload,
            "family": self.family,
            "tags": self.tags,
            "size": self.size,
            "params": self.params,
            "variants": self.variants,
            "dtype": self.dtype,
            "device": self.device,
            "device_type": self.device_type,
            "seed": self.seed,
            "determinism": self.determinism,
            "threads": self.threads,
            "plan": self.plan,
            "result_sha256": self.result_sha256,  # null: the case computes nothing to check
            "work": None
            if self.work is None
            else {"items": self.work.items, "flops": self.work.flops, "bytes": self.work.bytes},
        }
        optional = {
            "data": self.data,
            "rates": self.rates,
            "device_time": self.device_time,
            "metrics": self.metrics,
            "cuda_max_memory_allocated": self.cuda_max_memory_allocated,
            "telemetry": self.telemetry,
            "execution": self.execution,
            "profile": self.profile,
            "placement": self.placement,
        }
        return info | {key: value for key, value in optional.items() if value is not None}

    def to_dict(self) -> dict[str, Any]:
        """pytest-benchmark's entry for the case; the fields it needs and the entry lacks (a result
        made without pytest) are named after the case."""
        own = {
            "group": self.family,
            "name": self.id,
            "fullname": self.id,
            "params": None,
            "param": self.id,
            "options": {},
        }
        return {**own, **self.entry, "extra_info": self.extra_info(), "stats": self.stats}

    @property
    def timing(self) -> Timing:
        """Median, IQR and per-round times: CUDA-event times where there are some, else the host's;
        as floats, whatever JSON number they were written as (SQLite refuses integers past 2**63)."""
        stats, rates, device_time = self.stats or {}, self.rates or {}, self.device_time or {}
        median = _either(rates.get("median_s"), stats.get("median"))
        iqr = _either(device_time.get("iqr_s"), stats.get("iqr"))
        return Timing(
            median_s=None if median is None else float(median),
            iqr_s=None if iqr is None else float(iqr),
            samples=[float(t) for t in device_time.get("per_round_s") or stats.get("data") or []],
            basis=rates.get("basis") or "host",
        )

    @property
    def params_json(self) -> str:
        """The parameters as sorted JSON: how tables and keys compare them."""
        return json.dumps(self.params, sort_keys=True)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """What makes two runs' results the same case: workload, parameters, dtype, device type (in a
        run over several devices, the device itself: each of them is a case of its own)."""
        where = self.placement["device"] if self.placement else self.device_type
        return self.workload, self.params_json, self.dtype or "?", where or "?"

    @property
    def variant(self) -> str:
        """The variant parameters (op, mode …) as sorted JSON: cases that differ only in size share it."""
        return json.dumps({k: v for k, v in self.params.items() if k in self.variants}, sort_keys=True)


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
    served: list[dict[str, Any]] = field(default_factory=list)  # jobs run as a worker node (no results here)
    schema: int = RECORD_SCHEMA
    path: Path | None = field(default=None, compare=False)  # the file it was read from

    @classmethod
    def from_json(cls, path: Path) -> RunRecord:
        """The record of a run folder, or a record file: size, shape, types and schema checked (older
        schemas migrated); every problem is one UsageError line naming the file and the field."""
        file = record_file(path)
        record = cls.from_dict(read_json(file), str(file))
        record.path = file
        return record

    @classmethod
    def from_dict(cls, data: Any, where: str) -> RunRecord:
        """A record from its parsed JSON, named ``where`` in errors; ``data`` is not changed."""
        if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list) or "machine_info" not in data:
            raise UsageError(f"{where}: not a pytest-benchmark JSON file (no 'benchmarks' list or 'machine_info')")
        if not isinstance(data["machine_info"], dict) or not isinstance(data.get("bench", {}), dict):
            raise UsageError(f"{where}: 'machine_info' and 'bench' must be JSON objects")
        data = migrate(data, where)
        top = _Fields(data, where)
        machine = top.child("machine_info")
        machine.check(_MACHINE)
        for gpu in machine.children("gpus"):
            gpu.get("name", NAME, required=True)
        machine.child("torch").get("version", NAME)
        machine.child("container").check(_CONTAINER)
        bench = top.child("bench")
        for failure in bench.children("failed"):
            failure.check(_FAILURE, required=True)
        for skipped in bench.child("selection").children("skipped"):  # modes that could not run (summary)
            skipped.check(_SKIPPED, required=True)
        for served in bench.children("served"):
            served.check(_SERVED)
            served.get("id", NAME, required=True)
        bench.child("context").section("node", _NODE)
        return cls(
            cases=[CaseResult.from_dict(entry, where, index) for index, entry in enumerate(data["benchmarks"])],
            machine_info=data["machine_info"],
            commit_info=top.child("commit_info").check(_COMMIT),
            datetime=top.get("datetime", NAME),
            version=top.get("version", NAME),
            context=bench.child("context").check(_CONTEXT),
            selection=bench.get("selection", OBJECT) or {},
            cases_planned=bench.get("cases_planned", COUNT),
            preflight=bench.get("preflight", OBJECT) or {},
            failed=bench.get("failed", OBJECTS) or [],
            partial=bool(bench.get("partial", BOOLEAN)),
            interrupted_by=bench.get("interrupted_by", NAME),
            sources=bench.get("sources", OBJECTS) or [],
            served=bench.get("served", OBJECTS) or [],
        )

    def bench_section(self) -> dict[str, Any]:
        """Our ``bench`` section of the pytest-benchmark JSON."""
        section: dict[str, Any] = {
            "schema": self.schema,
            "context": self.context,
            "selection": self.selection,
            "cases_planned": self.cases_planned,
            "preflight": self.preflight,
            "failed": self.failed,
            "partial": self.partial,
        }
        if self.interrupted_by is not None:
            section["interrupted_by"] = self.interrupted_by
        if self.served:
            section["served"] = self.served
        return section | {"sources": self.sources}

    def to_dict(self) -> dict[str, Any]:
        """The whole pytest-benchmark JSON again, our section included: what :meth:`from_dict` reads."""
        return {
            "machine_info": self.machine_info,
            "commit_info": self.commit_info,
            "benchmarks": [case.to_dict() for case in self.cases],
            "datetime": self.datetime,
            "version": self.version,
            "bench": self.bench_section(),
        }

    def to_json(self) -> str:
        """The record as the text of its file, the same ``bench run`` writes."""
        return json.dumps(self.to_dict(), indent=2, default=str) + "\n"

    @property
    def torch_version(self) -> str | None:
        """The torch version the run measured (a comparison must not mix versions)."""
        return (self.machine_info.get("torch") or {}).get("version")

    @property
    def gpu_names(self) -> list[str]:
        """The machine's GPUs by name, as they say what hardware the run had."""
        return [gpu["name"] for gpu in self.machine_info.get("gpus") or []]
