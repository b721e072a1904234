"""``python -m bench ddp``: the CIFAR-10 recipes with DistributedDataParallel, N processes and one."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bench.arguments import positive_int
from bench.commands.base import EPILOG, Command, add_run_options
from bench.commands.run import run_suite


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
        return run_suite(args, extra)[0]
