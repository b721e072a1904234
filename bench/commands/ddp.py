"""``python -m bench ddp``: the CIFAR-10 recipes with DistributedDataParallel, N processes and one."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path

from bench.arguments import positive_int
from bench.commands.base import EPILOG, Command, add_run_options
from bench.commands.run import run_suite
from bench.console import show
from bench.runs import BENCHMARK_JSON


class Ddp(Command):
    name = "ddp"
    help = "the CIFAR-10 recipes with DistributedDataParallel: N processes and one, side by side"
    epilog = EPILOG + "; torchrun's rendezvous for several machines: see docs/"
    needs_torch = True
    takes_extra = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--nproc-per-node",
            type=positive_int,
            default=2,
            metavar="N",
            help="processes (ranks) per machine (default: 2)",
        )
        add_run_options(parser)

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        """``run`` of the data-parallel workload, with N processes per machine."""
        args.bench_workload = [*args.bench_workload, "cifar_ddp"]
        args.bench_param = [*args.bench_param, f"nproc={args.nproc_per_node}"]
        code, run_dir = run_suite(args, extra)
        if (run_dir / BENCHMARK_JSON).exists():
            show(scaling_table(run_dir))
        return code


def scaling_table(run_dir: Path) -> str:
    """The point of the run: each job of N processes against one process of the same recipe."""
    from bench.report import collect, scaling, tidy  # noqa: PLC0415 - pandas
    from bench.summary import aligned  # noqa: PLC0415

    collection = collect([run_dir], skip_bad=False)
    if not any(record.cases for _, record in collection.records):
        served = sum(len(record.served) for _, record in collection.records)
        return f"bench: no scaling table here: this node served {served} job(s) as a worker, rank 0's node has it"
    jobs = scaling(tidy(collection)).to_dict("records")
    if not jobs:
        return "bench: no job of several processes finished: no scaling table"

    def shown(value: float, form: str) -> str:
        return "-" if value is None or math.isnan(value) else format(value, form)

    rows = [("data-parallel scaling", "world", "images/s", "at 1", "efficiency", "communication", "ranks agree")]
    rows += [
        (
            f"  {job['case']} [{job['device_type']}]",
            str(job["world"]),
            shown(job["images/s"], ".0f"),
            shown(job["images/s at 1"], ".0f"),
            shown(job["efficiency"], ".0%"),
            shown(job["communication"], ".0%"),
            {True: "yes", False: "NO"}.get(job["ranks agree"], "-"),
        )
        for job in jobs
    ]
    note = "efficiency = images/s at N / (N x images/s at 1); communication: share of a step in all-reduce not hidden"
    return "\n".join(["", *aligned(rows), note])
