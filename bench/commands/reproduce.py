"""``python -m bench reproduce``: train the tutorial's CIFAR-10 recipes and check their accuracy bands."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bench.arguments import positive_int
from bench.bands import DEFAULT_BANDS
from bench.commands.base import Command, add_runs_out
from bench.console import show
from bench.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK


class Reproduce(Command):
    name = "reproduce"
    help = "train the tutorial's CIFAR-10 recipes and check the reference accuracy bands"
    epilog = "exit codes: 0 every accuracy in its band, 1 a miss or no band, 2 bad input, 3 device not available"
    needs_torch = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--model",
            action="append",
            choices=("lenet5", "resnet18"),
            default=[],
            help="model to train (repeatable; default: lenet5)",
        )
        parser.add_argument("--path", choices=("tensor", "seed"), default="tensor", help="data path (default: tensor)")
        parser.add_argument("--epochs", type=positive_int, help="epochs (default: the recipe's 10)")
        parser.add_argument("--device", default="cpu")
        parser.add_argument("--seed", default="0")
        parser.add_argument("--data-source", default="auto")
        parser.add_argument("--data-root")
        parser.add_argument("--bands", type=Path, default=DEFAULT_BANDS, help="bands file (default: the committed one)")
        add_runs_out(parser)

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        """Run the recipes at the tutorial's configuration, then check each accuracy against its band."""
        from bench.bands import judge, load_bands, table  # noqa: PLC0415
        from bench.commands.run import run_suite  # noqa: PLC0415
        from bench.options import suite_namespace  # noqa: PLC0415 - imports torch
        from bench.record import RunRecord  # noqa: PLC0415

        models = sorted(set(args.model or ["lenet5"]))
        bands = load_bands(args.bands)
        params = [f"path={args.path}", *([f"epochs={args.epochs}"] if args.epochs else [])]
        params += [f"model={models[0]}"] if len(models) == 1 else []
        suite = suite_namespace(
            bench_workload=["cifar_train"],
            bench_size="seed",
            bench_param=params,
            bench_device=args.device,
            bench_seed=args.seed,
            bench_data_source=args.data_source,
            bench_data_root=args.data_root,
            out=args.out,
            keyword=None,
            markers=None,
            pytest_table=False,
        )
        code, run_dir = run_suite(suite, ["-q"])
        if code == EXIT_INTERRUPTED:
            return code
        verdicts = judge(RunRecord.from_json(run_dir), bands)
        show(table(verdicts))
        if code != EXIT_OK:
            return code
        return EXIT_OK if verdicts and all(v.passed for v in verdicts) else EXIT_FAILED
