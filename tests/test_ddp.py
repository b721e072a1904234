"""Data-parallel training on the CPU: 2 processes over gloo, started by torchrun, on a tiny subset.

Each test runs real torchrun jobs (a few seconds each). What they show: one launch serves
several jobs, each seeded afresh; the ranks end with identical weights; DDP with the same global
batch and seed matches a single process within a stated tolerance; a rank that dies fails the
whole job with one line, and fast (no hang).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from processes import run_python

from bench import distributed
from bench.context import DataSettings, RunSettings
from workloads.cifar.ddp import RANK_MODULE, job_metrics, job_result

pytestmark = pytest.mark.slow  # each test runs the suite, torchrun or nox in subprocesses

SETTINGS = RunSettings(device="cpu", seed=0, data=DataSettings(source="synthetic"), telemetry_hz=0)
RECIPE = {"epochs": 1, "lr": 0.01, "train_images": 192, "test_images": 64, "target_accuracy": 0.0}
# float32 sums in another order (gloo's all-reduce of two half-batch means, vs one mean over the
# batch) leave DDP and one process apart by rounding only: measured max |difference| 7.5e-9 here.
TOLERANCE = 1e-5


def run_job(
    tmp_path: Path, world: int, batch: int, path: str = "tensor", model: str = "lenet5", timeout: float = 120
) -> tuple[dict, Path]:
    """One job in a pool of its own, as across machines; the pool closed after it, which ends its
    processes and removes its folder."""
    jobs = distributed.Pool(RANK_MODULE, SETTINGS, world, tmp_path / f"pool-{world}")
    try:
        done = submit(jobs, tmp_path, batch, path, model, timeout)
    finally:
        jobs.close()
    assert not jobs.alive and not jobs.folder.exists()
    assert all(_rank_processes(rank, tmp_path) == [] for rank in range(world)), "ranks outlived their pool"
    return done


def submit(
    jobs: distributed.Pool, folder: Path, batch: int, path: str = "tensor", model: str = "lenet5", timeout: float = 120
) -> tuple[dict, Path]:
    """A job of ``RECIPE`` in ``jobs``; its outcome and the file in ``folder`` its final weights went to."""
    weights = folder / f"weights-{jobs.nproc}-{model}-{path}-{batch}.pt"
    params = {**RECIPE, "batch": batch, "path": path, "model": model}
    outcome = jobs.submit({"params": params, "save_weights": str(weights)}, timeout)
    assert outcome is not None, "the pool ended before the job did"
    return outcome, weights


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[distributed.Pool, Path]]:
    """One launch of 2 ranks for the module's jobs (a launch costs each rank its start-up: about 5 s
    of CPU here); the tests that kill a launch or a rank start their own."""
    folder = tmp_path_factory.mktemp("two-ranks")
    jobs = distributed.Pool(RANK_MODULE, SETTINGS, 2, folder / "pool")
    try:
        yield jobs, folder
    finally:
        jobs.close()


@pytest.fixture(scope="module")
def lenet5_job(two_ranks: tuple[distributed.Pool, Path]) -> tuple[dict, Path]:
    """LeNet5 on the tensor path, 2 ranks x 32 images: the job several tests read."""
    return submit(*two_ranks, batch=32)


def test_one_launch_serves_several_jobs_each_seeded_afresh(two_ranks, lenet5_job, tmp_path: Path) -> None:
    """A job after another in the same launch computes the same: each starts from the run's seed, as a
    fresh launch would (run_job checks what closing a pool does)."""
    jobs, folder = two_ranks
    again, _ = submit(jobs, tmp_path, batch=32)
    assert jobs.alive and _rank_processes(0, folder) and _rank_processes(1, folder)
    assert job_result(lenet5_job[0]) == job_result(again)


def test_killing_a_launch_takes_its_ranks_with_it(tmp_path: Path) -> None:
    """torchrun starts each rank in a session of its own, out of reach of a kill of torchrun's
    process group (the pool's kill: a time limit, Ctrl-C): each rank dies with its agent instead."""
    jobs = distributed.Pool(RANK_MODULE, SETTINGS, 2, tmp_path / "pool")
    ranks = _rank_processes(0, tmp_path) + _rank_processes(1, tmp_path)
    assert len(ranks) == 2
    jobs.kill()
    deadline = time.monotonic() + 10
    while (_rank_processes(0, tmp_path) or _rank_processes(1, tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _rank_processes(0, tmp_path) == [] and _rank_processes(1, tmp_path) == [], "ranks outlived their agent"


def test_rank_zero_stops_waiting_once_the_pool_is_told_or_its_owner_is_gone(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    assert distributed._next_job(tmp_path, 0, owner=gone.pid) is None
    (tmp_path / "stop").touch()
    assert distributed._next_job(tmp_path, 0, owner=os.getpid()) is None
    (tmp_path / "job-0.json").write_text('{"params": {}}')
    assert distributed._next_job(tmp_path, 0, owner=os.getpid()) == {"params": {}}


@pytest.mark.parametrize(("model", "path"), [("lenet5", "tensor"), ("lenet5", "seed"), ("resnet18", "tensor")])
def test_two_ranks_end_with_identical_weights_and_a_job_record(
    two_ranks, lenet5_job, model: str, path: str, tmp_path: Path
) -> None:
    outcome, _ = lenet5_job if (model, path) == ("lenet5", "tensor") else submit(*two_ranks, 32, path, model)
    metrics = job_metrics(outcome, batch=32, nproc=2)
    assert metrics["weights_identical_across_ranks"] and len(set(metrics["parameters_sha256_per_rank"])) == 1
    assert [r["rank"] for r in outcome["ranks"]] == [0, 1]
    assert [r["images"] for r in outcome["ranks"]] == [RECIPE["train_images"] // 2] * 2
    assert metrics["world_size"] == 2 and metrics["global_batch"] == 64 and metrics["per_rank_batch"] == 32
    assert metrics["images_per_s"] > 0 and len(metrics["images_per_s_per_rank"]) == 2
    assert 0 <= metrics["communication_fraction"] < 1 and metrics["data_label"] == "synthetic"


def test_ddp_matches_one_process_with_the_same_global_batch(lenet5_job, tmp_path: Path) -> None:
    """2 ranks x 32 images against 1 process x 64: DistributedSampler's rank r takes every 2nd index
    of the seeded epoch order, so global batch k is the same 64 images in both; LeNet5 has no
    batch norm and this path no augmentation, so only float rounding may differ."""
    _, single_weights = run_job(tmp_path, world=1, batch=64)
    ddp, single = torch.load(lenet5_job[1]), torch.load(single_weights)
    worst = max((ddp[name] - single[name]).abs().max().item() for name in ddp)
    print(f"\nmax |DDP - single process| over LeNet5's weights after one epoch: {worst:.3g}")
    assert worst <= TOLERANCE
    assert any(not torch.equal(ddp[name], torch.zeros_like(ddp[name])) for name in ddp)


def _rank_processes(rank: int, job: Path) -> list[int]:
    """pids of rank ``rank`` of the job writing into ``job``: found in /proc by the entry module, the
    job's folder on the command line (other jobs may run beside the tests) and torchrun's RANK."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        mine = b"workloads.cifar.ddp_rank" in command and str(job).encode() in command
        if mine and f"RANK={rank}".encode() in environment:
            found.append(int(entry.name))
    return found


def test_a_rank_that_dies_fails_the_whole_job_quickly(tmp_path: Path) -> None:
    killed: list[int] = []

    def kill_rank_one() -> None:
        deadline = time.monotonic() + 60
        while not killed and time.monotonic() < deadline:
            for pid in _rank_processes(1, tmp_path):
                time.sleep(1.0)  # let it get into the process group and its training
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_rank_one)
    killer.start()
    start = time.monotonic()
    with pytest.raises(distributed.JobFailed) as failure:
        run_job(tmp_path, world=2, batch=32, timeout=150)
    elapsed = time.monotonic() - start
    killer.join()
    assert killed, "rank 1 was never found to kill"
    message = str(failure.value)
    assert "\n" not in message and "rank 1 failed (exit code -9, SIGKILL)" in message, message
    assert elapsed < 100, f"the job took {elapsed:.0f} s to fail"
    assert _rank_processes(0, tmp_path) == [] and _rank_processes(1, tmp_path) == [], "ranks left running"


def test_bench_ddp_ends_with_the_scaling_table(tmp_path: Path) -> None:
    """The command as a user runs it: one job of 2 ranks and its single process, then the table."""
    argv = ["-m", "bench", "ddp", "--quick", "--data-source", "synthetic", "--telemetry-hz", "0"]
    argv += ["--param", "train_images=256", "--param", "test_images=64", "--out", str(tmp_path / "runs")]
    done = run_python(*argv, "-k", "lenet5 and tensor", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = done.stdout[done.stdout.index("data-parallel scaling") :].splitlines()
    assert "images/s" in table[0] and "efficiency" in table[0] and "communication" in table[0]
    (job,) = table[1:-1]
    assert job.split()[:3] == ["cifar_ddp[ranks=all]", "[cpu]", "2"]  # only ranks differs in this run
    assert job.split()[-1] == "yes" and "%" in job and table[-1].startswith("efficiency = ")
    assert len(max(table, key=len)) <= 120
