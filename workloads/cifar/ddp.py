"""The CIFAR-10 recipes data-parallel: DistributedDataParallel over torchrun's processes.

One case is one job of ``world`` processes (``ranks=one``: a single process, ``ranks=all``:
``nproc``), each training on its DistributedSampler share of every epoch with the recipe's batch
(so the global batch is batch x world). Run side by side, the two give the scaling efficiency:
images/s at N / (N x images/s at 1). :func:`worker` is what every rank runs (torchrun starts
``python -m workloads.cifar.ddp_rank``): one launch serves the run's jobs of one world size
(bench/distributed.py), each timed from its request to its result.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from bench.api import Prepared, RunContext, Work, distributed, workload
from workloads.cifar import data as cifar_data
from workloads.cifar.loaders import PATHS
from workloads.cifar.train import Training, preflight, weights_digest

RECIPE = {"epochs": 1, "batch": 64, "lr": 0.001, "target_accuracy": 0.0, "nproc": 2}
PROBE_STEPS = 5  # training steps timed with and without gradient all-reduce
RANK_MODULE = "workloads.cifar.ddp_rank"
SECONDS_PER_IMAGE = 0.01  # a generous bound of one image's training step on a slow CPU: the job's time limit


def exposed_communication(training: Training, steps: int = PROBE_STEPS) -> dict[str, float]:
    """Step time with DDP's gradient all-reduce and without it (``no_sync``), on one batch.

    The difference is the communication that backward does not hide; DDP overlaps the rest.
    Only forward and backward run (no optimizer step), so the trained weights do not change.
    """
    net, ctx, criterion = training.net, training.ctx, nn.CrossEntropyLoss()
    images, labels = next(iter(training.train_batches))

    def seconds_per_step(sync: bool) -> float:
        dist.barrier()
        ctx.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            with contextlib.nullcontext() if sync else net.no_sync():
                net.zero_grad(set_to_none=True)
                criterion(net(images), labels).backward()
        ctx.synchronize()
        return (time.perf_counter() - start) / steps

    seconds_per_step(True)  # warm-up
    synced, local = seconds_per_step(True), seconds_per_step(False)
    exposed = max(0.0, synced - local)
    return {
        "step_seconds": synced,
        "step_seconds_without_allreduce": local,
        "communication_seconds": exposed,
        "communication_fraction": exposed / synced if synced else 0.0,
    }


def job(rank: distributed.Rank, data: cifar_data.CifarData, request: dict[str, Any]) -> dict[str, Any] | None:
    """One job on one rank: train, probe communication, check the ranks agree; rank 0's result."""
    params, ctx = request["params"], rank.context
    training = Training(
        ctx,
        cifar_data.subset(data, params["train_images"], params["test_images"], ctx.settings.seed),
        params["model"],
        params["path"],
        params["epochs"],
        params["batch"],
        params["lr"],
        params["target_accuracy"],
        shard=(rank.rank, rank.world),
        wrap=lambda model: DistributedDataParallel(model, device_ids=distributed.device_ids(rank)),
    )
    dist.barrier()
    training.run()
    summary = training.summary()
    probe = exposed_communication(training)
    ranks = distributed.gather(
        {
            "rank": rank.rank,
            "node": rank.node,
            "host": rank.hosts[rank.rank],
            "digest": weights_digest(training.model, parameters_only=True),
            "images": training.train_batches.count,
            "train_seconds": sum(e.seconds for e in training.history),
            "images_per_s": summary["images_per_s"],
            "threads": torch.get_num_threads(),
            "probe": probe,
        }
    )
    if not rank.leader:
        return None
    if request.get("save_weights"):
        torch.save(training.model.state_dict(), request["save_weights"])
    return {"summary": summary, "computed": training.computed(), "ranks": ranks}


def worker() -> None:
    """What torchrun starts on every rank: the data set loaded once, then the jobs asked for."""
    distributed.serve(job, prepare=lambda ctx: cifar_data.load(ctx.settings.data))


def job_metrics(outcome: dict[str, Any], batch: int, nproc: int) -> dict[str, Any]:
    """The job as one result: rank 0's training summary plus what only the whole job knows."""
    ranks = outcome["ranks"]
    world = len(ranks)
    images = sum(r["images"] for r in ranks) * len(outcome["summary"]["epochs"])
    slowest = max(r["train_seconds"] for r in ranks)  # the job trains as fast as its slowest rank
    probes = [r["probe"] for r in ranks]
    return {
        **outcome["summary"],
        "world_size": world,
        "nodes": len({r["node"] for r in ranks}),
        "hosts_per_rank": [r["host"] for r in ranks],
        "nproc": nproc,
        "per_rank_batch": batch,
        "global_batch": batch * world,
        "images_per_s": images / slowest,
        "images_per_s_per_rank": [r["images_per_s"] for r in ranks],
        "threads_per_rank": [r["threads"] for r in ranks],
        # parameters only: batch norm's running statistics stay each rank's own between forwards
        # (DDP broadcasts rank 0's at the start of each one), so they differ after the last step
        "weights_identical_across_ranks": len({r["digest"] for r in ranks}) == 1,
        "parameters_sha256_per_rank": [r["digest"] for r in ranks],
        "communication_fraction": max(p["communication_fraction"] for p in probes),
        "communication_probe": probes,
    }


def job_result(outcome: dict[str, Any]) -> dict[str, Any]:
    """What the job computed, without its timings: rank 0's losses, accuracies and weights, and
    every rank's parameters."""
    return {**outcome["computed"], "parameters_sha256_per_rank": [r["digest"] for r in outcome["ranks"]]}


@workload(
    family="cifar10",
    tags=("training", "distributed"),
    sizes={
        # the tutorial's recipe per rank (batch 64, SGD lr 0.001), one epoch of all of CIFAR-10
        "seed": dict(RECIPE, train_images=50_000, test_images=10_000),
        "smoke": dict(RECIPE, train_images=512, test_images=256),
        "full": dict(RECIPE, train_images=50_000, test_images=10_000),
    },
    variants={"model": ("resnet18", "lenet5"), "path": PATHS, "ranks": ("one", "all")},
    items=lambda epochs, train_images, **_: epochs * train_images,
    timed_once=True,
    preflight=preflight,
)
def cifar_ddp(
    ctx: RunContext,
    epochs: int,
    batch: int,
    lr: float,
    train_images: int,
    test_images: int,
    target_accuracy: float,
    nproc: int,
    model: str,
    path: str,
    ranks: str,
    dtype: torch.dtype,
) -> Prepared:
    """Train `model` with DistributedDataParallel on `nproc` processes (ranks=all) or one; items: images trained."""
    world = nproc if ranks == "all" else 1
    params = {
        "epochs": epochs,
        "batch": batch,
        "lr": lr,
        "train_images": train_images,
        "test_images": test_images,
        "target_accuracy": target_accuracy,
        "model": model,
        "path": path,
    }
    limit = 300 + epochs * train_images * SECONDS_PER_IMAGE * (4 if model == "resnet18" else 1)
    jobs = distributed.pool(RANK_MODULE, ctx.settings, world)  # started here, before the case is timed
    outcome: dict[str, Any] = {}

    def call() -> None:
        outcome.clear()
        outcome.update(jobs.submit({"params": params}, limit) or {})

    metrics = lambda: job_metrics(outcome, batch, nproc)  # noqa: E731
    return Prepared(call, metrics, work=Work(items=float(epochs * train_images)), result=lambda _: job_result(outcome))
