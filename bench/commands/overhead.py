"""``python -m bench overhead``: what the harness and the telemetry sampler cost on a small matmul."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bench.arguments import positive_int
from bench.commands.base import Command
from bench.errors import EXIT_OK


class Overhead(Command):
    name = "overhead"
    help = "harness vs torch.utils.benchmark, or sampler on vs off, on a small matmul"
    needs_torch = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("what", nargs="?", choices=("harness", "sampler"), default="harness")
        parser.add_argument("--device", default="cpu")
        parser.add_argument("--n", type=positive_int, default=256, help="matrix size (default: 256)")
        parser.add_argument(
            "--repeats", type=positive_int, default=3, help="alternations of the two timers (default: 3)"
        )

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        from bench.overhead import compare  # noqa: PLC0415 - imports torch

        print(compare(args.what, args.device, args.n, args.repeats))
        return EXIT_OK
