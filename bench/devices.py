"""Every GPU of a node: ``bench run --device cuda:all`` (or a list, ``cuda:0,cuda:2``).

The same selection runs on each device in a worker of its own — a ``bench run`` process on that
one device, so that no device's state (CUDA context, caches, allocator) touches another's — one
after the other by default, or all at once with ``--concurrent`` (to see power and thermal coupling:
the devices share a chassis, its power and its cooling). The workers' records are merged into one
record of the run: each result placed on its device (``placement``; its id ends in ``@cuda:N`` so
every result's is unique), each failure named with its device, and a worker that left no record
listed as failed with its exit code. ``bench report`` puts the devices side by side to find the
one slower than its peers (docs/reports.md).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import runs, signals
from bench.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, DeviceUnavailable, UsageError
from bench.record import placed_id

ALL = "all"
POLL_S = 0.2  # how often the parent looks at its workers
GRACE_S = 60  # a worker told to stop saves its partial record within this


def visible_gpus() -> int:
    import torch  # noqa: PLC0415 - only a device list needs it

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def expand(spec: str, visible: Callable[[], int] | None = None) -> list[str] | None:
    """The devices ``spec`` names when it names several (``cuda:all``, ``cuda:0,cuda:2``), each
    checked against the GPUs visible here; None for one device (``cpu``, ``cuda``, ``cuda:1``)."""
    if spec != f"cuda:{ALL}" and "," not in spec:
        return None
    count = (visible or visible_gpus)()
    if spec == f"cuda:{ALL}":
        if not count:
            raise DeviceUnavailable(f"device {spec!r} requested but no CUDA GPU is available on this machine")
        return [f"cuda:{index}" for index in range(count)]
    devices = [name.strip() for name in spec.split(",")]
    for name in devices:  # the list's words first (a usage error), then what this machine has
        kind, _, index = name.partition(":")
        if kind != "cuda" or not index.isdigit():
            raise UsageError(f"a device list names GPUs as cuda:N, not {name!r} (or use --device cuda:all)")
    if len(set(devices)) != len(devices):
        raise UsageError(f"device list {spec!r} names a device twice")
    for name in devices:
        if int(name.partition(":")[2]) >= count:
            raise DeviceUnavailable(f"device {name!r} requested but only {count} GPU(s) are visible")
    return devices


@dataclass
class Worker:
    """One device's ``bench run``: its process, its output folder and, run concurrently, its log."""

    device: str
    folder: Path
    process: subprocess.Popen[bytes] | None = None
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    @property
    def log(self) -> Path:
        return self.folder.with_suffix(".log")


class DeviceRun:
    """``command`` (a ``bench run`` command line, without ``--``) on each of ``devices``, into one
    record in a new run folder under ``out``."""

    def __init__(
        self, command: Sequence[str], extra: Sequence[str], devices: list[str], concurrent: bool, out: Path
    ) -> None:
        self.command, self.extra, self.devices, self.concurrent = list(command), list(extra), devices, concurrent
        self.run_dir = runs.new_run_dir(out, f"cuda-{len(devices)}gpus")
        self.workers = [Worker(device, self.run_dir / "devices" / device.replace(":", "")) for device in devices]

    def worker_command(self, worker: Worker) -> list[str]:
        """The worker's ``bench run``: the same command line, its device and its folder last (they win)."""
        own = ["--device", worker.device, "--out", str(worker.folder)]
        return [sys.executable, "-m", "bench", *self.command, *own, *(["--", *self.extra] if self.extra else [])]

    def run(self) -> int:
        """Every worker to its end (or to a signal, passed on to them), then the merged record; the exit code."""
        how = "at once" if self.concurrent else "one after the other"
        print(f"bench: {len(self.devices)} devices ({', '.join(self.devices)}), {how} -> {self.run_dir}", flush=True)
        try:
            if self.concurrent:
                for worker in self.workers:
                    self._start(worker, quiet=True)
                self._wait(self.workers)
            else:
                for number, worker in enumerate(self.workers, 1):
                    print(f"bench: device {worker.device} ({number} of {len(self.workers)})", flush=True)
                    self._start(worker, quiet=False)
                    self._wait([worker])
        except KeyboardInterrupt:
            self._stop()
        records = [_worker_record(worker) for worker in self.workers]
        failures = [
            (w.device, found, _worker_failure(w, found)) for w, found in zip(self.workers, records, strict=True)
        ]
        record = merge(failures, self.concurrent)
        if record is None:  # no run folder without its record: the reasons go into the one line instead
            shutil.rmtree(self.run_dir, ignore_errors=True)
            raise UsageError("no device's worker left a record: " + "; ".join(why or "?" for _, _, why in failures))
        runs.write_json(self.run_dir / runs.BENCHMARK_JSON, record)
        return self._exit_code(record)

    def _start(self, worker: Worker, quiet: bool) -> None:
        signals.check()
        worker.folder.mkdir(parents=True)
        output = worker.log.open("wb") if quiet else None
        with output or contextlib.nullcontext():
            worker.process = subprocess.Popen(
                self.worker_command(worker), stdout=output, stderr=subprocess.STDOUT if quiet else None
            )
        worker.started = time.monotonic()

    def _wait(self, workers: list[Worker]) -> None:
        """Until every one of ``workers`` has ended, each end told as it comes (run at once)."""
        waiting = list(workers)
        while waiting:
            signals.check()
            for worker in list(waiting):
                if worker.process is not None and worker.process.poll() is not None:
                    worker.ended = time.monotonic()
                    waiting.remove(worker)
                    if self.concurrent:
                        self._told(worker)
            time.sleep(POLL_S)

    @staticmethod
    def _told(worker: Worker) -> None:
        code, took = worker.process.returncode if worker.process else None, (worker.ended or 0) - worker.started
        print(f"bench: {worker.device} done in {took:.0f} s (exit {code}; its output in {worker.log})", flush=True)

    def _stop(self) -> None:
        """A signal reached this process: each running worker is told (SIGTERM) and saves its
        partial record; one that does not within ``GRACE_S`` is killed."""
        running = [w.process for w in self.workers if w.process is not None and w.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        for process in running:
            try:
                process.wait(GRACE_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _exit_code(self, record: dict[str, Any]) -> int:
        if signals.received or record["bench"]["partial"]:
            return EXIT_INTERRUPTED
        return EXIT_FAILED if record["bench"]["failed"] else EXIT_OK


def _worker_record(worker: Worker) -> dict[str, Any] | None:
    """The record the worker's ``bench run`` wrote in its folder; None where it wrote none."""
    found = sorted(worker.folder.glob(f"*/{runs.BENCHMARK_JSON}"))
    return runs.read_json(found[-1]) if found else None


def _worker_failure(worker: Worker, record: dict[str, Any] | None) -> str | None:
    """Why a worker ended badly, in one line (its last line of output where it was kept); None if it ended well."""
    code = worker.process.returncode if worker.process is not None else None
    if code in (EXIT_OK, None):
        return None
    if code in (EXIT_FAILED, EXIT_INTERRUPTED) and record is not None:
        return None  # its record says which cases failed, or that it was stopped (partial)
    last = ""
    if worker.log.exists():
        lines = worker.log.read_text(errors="replace").strip().splitlines()
        last = f": {lines[-1].strip()}" if lines else ""
    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
    return f"the worker on {worker.device} ended with {how}{last}"[:300]


def merge(workers: list[tuple[str, dict[str, Any] | None, str | None]], concurrent: bool) -> dict[str, Any] | None:
    """One record from each device's (device, record or None, failure or None): the first record's
    machine, commit and context (its device now the list), every result placed on its device, every
    failure named with it; None where no worker left a record."""
    found = [(device, record) for device, record, _ in workers if record is not None]
    if not found:
        return None
    devices = [device for device, _, _ in workers]
    first = found[0][1]
    merged = {key: value for key, value in first.items() if key not in ("benchmarks", "bench")}
    bench = json.loads(json.dumps(first["bench"]))  # a copy: the context is changed below
    bench["context"] |= {"device": ",".join(devices), "devices": devices, "concurrent": concurrent}
    bench["failed"], bench["cases_planned"], bench["partial"] = [], 0, False
    merged["benchmarks"] = []
    for device, record in found:
        for entry in record["benchmarks"]:
            merged["benchmarks"].append(_placed(entry, device, devices, concurrent))
        own = record["bench"]
        bench["failed"] += [{**failure, "id": placed_id(failure["id"], device)} for failure in own.get("failed", [])]
        bench["cases_planned"] += own.get("cases_planned") or 0
        bench["partial"] = bench["partial"] or own.get("partial", False)
        if own.get("interrupted_by"):
            bench["interrupted_by"] = own["interrupted_by"]
    bench["failed"] += [{"id": placed_id("(every case)", device), "error": why} for device, _, why in workers if why]
    merged["bench"] = bench
    return merged


def _placed(entry: dict[str, Any], device: str, devices: list[str], concurrent: bool) -> dict[str, Any]:
    """A worker's result as the merged record holds it: its id ends in its device, and it says where it ran."""
    case = entry.get("param") or entry.get("name") or "?"
    info = entry.get("extra_info") or {}
    placement = {"device": device, "devices": devices, "concurrent": concurrent, "case": case}
    return {
        **entry,
        "name": placed_id(entry.get("name", case), device),
        "fullname": placed_id(entry.get("fullname", case), device),
        "param": placed_id(case, device),
        "extra_info": {**info, "placement": placement},
    }
