"""Data-parallel jobs on torch's own launcher: torchrun (``torch.distributed.run``).

The harness side keeps a :class:`Pool`: one torchrun launch of ``nproc`` processes that serves
several jobs in turn (a run's DDP cases of one world size), so torchrun, the interpreters, torch's
import, the process group and the data set are paid for once, while the pool starts — outside any
case's timing — and not once a job. The worker side (:func:`serve`) puts each process in the
job's process group on its device (gloo on the CPU, NCCL on CUDA), with the run's seeds and
determinism and a timeout on every collective, so that a lost peer ends the job instead of
hanging it; each job starts from the run's seed, as a fresh launch would. Rank 0 writes each
job's result; if any rank fails, torchrun stops the others and the job fails as a whole, and the
next job starts a new pool. Across machines (``BENCH_RDZV_ENDPOINT`` set) every job gets a launch
of its own, as the nodes' rendezvous is per launch; the node that got rank 0 (torchrun's c10d
rendezvous orders nodes by host name, then process id) records the job's numbers, and every other
node records that it served the job (:class:`~bench.errors.ServedElsewhere`), so a report over
all the nodes' records counts the job once.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from bench.context import DataSettings, RunContext, RunSettings
from bench.errors import EXIT_FAILED, BenchError, ServedElsewhere
from bench.runs import write_json

POLL_S = 0.02  # how often the harness and rank 0 look for the files they wait on
COLLECTIVE_TIMEOUT_S = 120  # a peer silent this long is lost: the job fails rather than hangs
# torchrun's options for jobs across machines, taken from the environment of the launching command
RENDEZVOUS_ENV = {
    "BENCH_NNODES": "--nnodes",
    "BENCH_NODE_RANK": "--node-rank",
    "BENCH_RDZV_BACKEND": "--rdzv-backend",
    "BENCH_RDZV_ENDPOINT": "--rdzv-endpoint",
    "BENCH_RDZV_ID": "--rdzv-id",
}


class JobFailed(BenchError):
    """A distributed job that did not finish: one line saying which rank failed and how."""

    exit_code = EXIT_FAILED


def encode_settings(settings: RunSettings) -> str:
    return json.dumps(asdict(settings))


def decode_settings(text: str) -> RunSettings:
    fields = json.loads(text)
    return RunSettings(**{**fields, "data": DataSettings(**fields["data"])})


def torchrun_command(module: str, arguments: list[str], nproc: int) -> list[str]:
    """``python -m torch.distributed.run … -m module arguments``: one job, no restarts."""
    options = ["--nproc-per-node", str(nproc), "--max-restarts", "0"]
    for variable, flag in RENDEZVOUS_ENV.items():
        if os.environ.get(variable):
            options += [flag, os.environ[variable]]
    if not os.environ.get("BENCH_RDZV_ENDPOINT"):
        options.append("--standalone")  # one machine: a private rendezvous on a free port
    return [sys.executable, "-m", "torch.distributed.run", *options, "-m", module, *arguments]


def _failure(output: str, code: int) -> str:
    """torchrun's root cause (the first rank to fail), in one line, with that rank's last error; or,
    where no rank failed (the agent itself did: a lost rendezvous), the agent's last error."""
    before, _, cause = output.partition("Root Cause")
    errors = [
        line.strip()
        for line in before.splitlines()
        if re.match(r"^[\w.]*(Error|Exception)\b.*:|^\S+\.py: error:", line.strip()) and "ChildFailedError" not in line
    ]
    last = f": {errors[-1]}" if errors else ""
    rank = re.search(r"^\s*rank\s*:\s*(\d+)", cause, re.M)
    exitcode = re.search(r"^\s*exitcode\s*:\s*(-?\d+)[^\n]*?(?:\((SIG\w+)\))?\s*$", cause, re.M)
    if not (rank and exitcode):
        return f"torchrun exited with status {code}{last}"
    how = f"exit code {exitcode.group(1)}" + (f", {exitcode.group(2)}" if exitcode.group(2) else "")
    return f"rank {rank.group(1)} failed ({how}){last}"


def _across_machines() -> bool:
    return bool(os.environ.get("BENCH_RDZV_ENDPOINT"))


class Pool:
    """One torchrun launch serving jobs of ``module`` (which calls :func:`serve`) in turn.

    Jobs and results are files in ``folder``: ``job-N.json`` written by the harness, read by rank
    0 and broadcast; ``result-N.json`` written by rank 0 (by each other machine's first process, a
    note that it has no rank 0); ``stop`` ends the pool. torchrun's output goes to ``torchrun.log``,
    read to say which rank failed and how."""

    def __init__(self, module: str, settings: RunSettings, nproc: int, folder: Path, timeout_s: float = 300) -> None:
        self.nproc, self.folder, self.jobs = nproc, folder, 0
        folder.mkdir(parents=True, exist_ok=True)
        arguments = ["--settings", encode_settings(settings), "--jobs", str(folder), "--owner", str(os.getpid())]
        with (folder / "torchrun.log").open("w") as log:
            self.process = subprocess.Popen(
                torchrun_command(module, arguments, nproc), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self._wait_for(folder / "ready", timeout_s, "start")

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def _wait_for(self, path: Path, timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while not path.exists():
            if not self.alive:
                output = (self.folder / "torchrun.log").read_text(errors="replace")
                raise JobFailed(
                    f"distributed job of {self.nproc} processes failed: {_failure(output, self.process.returncode)}"
                )
            if time.monotonic() > deadline:
                self.kill()
                raise JobFailed(f"distributed job of {self.nproc} processes did not {what} within {timeout_s:.0f} s")
            time.sleep(POLL_S)

    def submit(self, request: dict[str, Any], timeout_s: float) -> dict[str, Any] | None:
        """Run one job; rank 0's result, or :class:`JobFailed` naming the failed rank (or the time
        limit), the pool then stopped. On a machine without rank 0, :class:`ServedElsewhere`."""
        number, self.jobs = self.jobs, self.jobs + 1
        result = self.folder / f"result-{number}.json"
        try:
            write_json(self.folder / f"job-{number}.json", request)
            self._wait_for(result, timeout_s, "finish")
            written = json.loads(result.read_text())
        except BaseException:
            self.kill()
            raise
        if written.get("served"):
            raise ServedElsewhere(written["served"])
        return written.get("result")

    def kill(self) -> None:
        """torchrun and every rank it started, at once."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self, grace_s: float = 30) -> None:
        """Ask the ranks to leave; kill them if they do not within ``grace_s``."""
        if self.alive:
            (self.folder / "stop").touch()
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


_POOLS: dict[tuple[str, str, int], Pool] = {}


def pool(module: str, settings: RunSettings, nproc: int) -> Pool:
    """The run's pool for jobs of ``module`` on ``nproc`` processes with ``settings``, started here
    if none is alive (a failed job leaves none); across machines, a new launch for each job."""
    key = (module, encode_settings(settings), nproc)
    found = _POOLS.pop(key, None)
    if found is not None and found.alive and not _across_machines():
        _POOLS[key] = found
        return found
    if found is not None:
        found.close()
    _POOLS[key] = Pool(module, settings, nproc, Path(tempfile.mkdtemp(prefix="bench-ddp-")))
    return _POOLS[key]


@atexit.register
def close_pools() -> None:
    while _POOLS:
        _POOLS.popitem()[1].close()


def _next_job(folder: Path, number: int, owner: int) -> dict[str, Any] | None:
    """Rank 0: the next job's request, or None once the pool is to stop (asked, or its owner gone)."""
    while True:
        job = folder / f"job-{number}.json"
        if job.exists():
            return json.loads(job.read_text())
        if (folder / "stop").exists() or not _running(owner):
            return None
        time.sleep(POLL_S)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def serve(
    job: Callable[[Rank, Any, dict[str, Any]], dict[str, Any] | None], prepare: Callable[[RunContext], Any]
) -> None:
    """What every rank of a :class:`Pool` runs: join the process group, ``prepare`` what all jobs
    share (the data set), then run each job the harness asks for — seeded afresh — until told to stop."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", required=True)
    parser.add_argument("--jobs", type=Path, required=True)
    parser.add_argument("--owner", type=int, required=True)
    args = parser.parse_args()
    _die_with_the_agent()
    rank = join(decode_settings(args.settings))
    shared = prepare(rank.context)
    # waits between jobs last as long as the cases between them: not bounded by the collective timeout
    control = dist.new_group(backend="gloo", timeout=timedelta(days=7))
    dist.barrier()
    if rank.local_rank == 0:
        (args.jobs / "ready").touch()
    for number in itertools.count():
        request = [_next_job(args.jobs, number, args.owner) if rank.leader else None]
        dist.broadcast_object_list(request, src=0, group=control)
        if request[0] is None:
            break
        rank.context.seed_everything()
        outcome = job(rank, shared, request[0])
        if rank.local_rank == 0:
            written = {"result": outcome} if rank.leader else {"result": None, "served": rank.served()}
            write_json(args.jobs / f"result-{number}.json", written)
    leave()


PR_SET_PDEATHSIG = 1  # Linux prctl(2): a signal for this process when the thread that made it ends


def _die_with_the_agent() -> None:
    """This rank ends when the torchrun agent that started it does, however the agent ends (the
    pool's kill, a node lost, the OOM killer): torchrun starts every rank in a session of its own,
    which a kill of the agent's process group does not reach, and an orphaned rank would train on
    (found by the two-node kill test). Linux only; elsewhere the collective timeout ends it."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass(frozen=True)
class Rank:
    rank: int
    world: int
    local_rank: int
    context: RunContext
    node: int = 0  # torchrun's node (group) rank: its place in the rendezvous
    nodes: int = 1  # the nodes in the rendezvous
    hosts: tuple[str, ...] = ()  # every rank's host, by rank

    @property
    def leader(self) -> bool:
        return self.rank == 0

    def served(self) -> dict[str, Any]:
        """What a node without rank 0 records of a job: which node of how many, and where the numbers are."""
        return {
            "node": self.node,
            "nodes": self.nodes,
            "world_size": self.world,
            "job": os.environ.get("TORCHELASTIC_RUN_ID", "?"),
            "leader_host": self.hosts[0] if self.hosts else "?",
        }


def join(settings: RunSettings) -> Rank:
    """This process's place in the job torchrun started: process group, device, seeds, and where
    every rank runs."""
    rank, world, local_rank = (int(os.environ[name]) for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    cuda = settings.device.startswith("cuda")
    if cuda:
        settings = replace(settings, device=f"cuda:{local_rank}")
    context = RunContext(settings)
    context.apply()
    dist.init_process_group(
        "nccl" if cuda else "gloo",
        timeout=timedelta(seconds=COLLECTIVE_TIMEOUT_S),
        **({"device_id": context.device} if cuda else {}),
    )
    hosts = tuple(gather(socket.gethostname()))
    node, nodes = (
        int(os.environ.get(name, default)) for name, default in (("GROUP_RANK", "0"), ("GROUP_WORLD_SIZE", "1"))
    )
    return Rank(rank, world, local_rank, context, node, nodes, hosts)


def gather(value: Any) -> list[Any]:
    """Every rank's ``value``, on every rank."""
    values: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(values, value)
    return values


def leave() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def device_ids(rank: Rank) -> list[int] | None:
    """DistributedDataParallel's ``device_ids``: the rank's GPU, or None on the CPU."""
    device = rank.context.device
    if device.type != "cuda":
        return None
    return [device.index if device.index is not None else torch.cuda.current_device()]
