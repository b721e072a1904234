"""Data-parallel jobs on torch's own launcher: torchrun (``torch.distributed.run``).

The harness side (:func:`launch`) starts one job of ``nproc`` processes and waits for it with a
time limit; the worker side (:func:`join`) puts each process in the job's process group on its
device (gloo on the CPU, NCCL on CUDA), with the run's seeds and determinism, and a timeout on
every collective so that a lost peer ends the job instead of hanging it. Rank 0 writes the job's
result; if any rank fails, torchrun stops the others and the job fails as a whole.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from bench.context import DataSettings, RunContext, RunSettings
from bench.errors import EXIT_FAILED, BenchError

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
    """torchrun's root cause (the first rank to fail), in one line, with that rank's last error."""
    cause = output.partition("Root Cause")[2]
    rank = re.search(r"^\s*rank\s*:\s*(\d+)", cause, re.M)
    exitcode = re.search(r"^\s*exitcode\s*:\s*(-?\d+)[^\n]*?(?:\((SIG\w+)\))?\s*$", cause, re.M)
    if not (rank and exitcode):
        return f"torchrun exited with status {code}"
    how = f"exit code {exitcode.group(1)}" + (f", {exitcode.group(2)}" if exitcode.group(2) else "")
    errors = [
        line.strip()
        for line in output.partition("Root Cause")[0].splitlines()
        if re.match(r"^[\w.]*(Error|Exception)\b.*:|^\S+\.py: error:", line.strip()) and "ChildFailedError" not in line
    ]
    return f"rank {rank.group(1)} failed ({how})" + (f": {errors[-1]}" if errors else "")


def launch(module: str, arguments: list[str], nproc: int, result: Path, timeout_s: float) -> dict[str, Any] | None:
    """Run the job; rank 0's result (None on a node other than the first, which has no rank 0),
    or :class:`JobFailed` naming the failed rank (or the timeout)."""
    command = torchrun_command(module, arguments, nproc)
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    ) as job:
        try:
            output, _ = job.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)  # torchrun and every rank it started
            job.communicate()
            raise JobFailed(f"distributed job of {nproc} processes did not finish within {timeout_s:.0f} s") from None
        except BaseException:
            os.killpg(job.pid, signal.SIGKILL)
            raise
    if job.returncode != 0:
        raise JobFailed(f"distributed job of {nproc} processes failed: {_failure(output, job.returncode)}")
    if os.environ.get("BENCH_NODE_RANK", "0") != "0":
        return None
    try:
        return json.loads(result.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise JobFailed(f"distributed job finished but rank 0 left no result in {result}: {error}") from None


@dataclass(frozen=True)
class Rank:
    rank: int
    world: int
    local_rank: int
    context: RunContext

    @property
    def leader(self) -> bool:
        return self.rank == 0


def join(settings: RunSettings) -> Rank:
    """This process's place in the job torchrun started: process group, device, seeds."""
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
    return Rank(rank, world, local_rank, context)


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
