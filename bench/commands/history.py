"""``python -m bench history``: append runs to the history store, or plot each workload's trend."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bench import runs
from bench.commands.base import Command, add_threshold_options, results_path
from bench.errors import EXIT_OK, UsageError


class History(Command):
    name = "history"
    help = "append runs to the history store, or plot each workload's trend over commits"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("action", nargs="?", choices=("plot", "append"), default="plot")
        parser.add_argument("runs", nargs="*", type=Path, metavar="RUN", help="runs to append")
        parser.add_argument(
            "--db",
            type=Path,
            default=results_path("history.sqlite"),
            help=f"the store (default: ${runs.RESULTS_ENV}/history.sqlite, else results/…)",
        )
        parser.add_argument("--out", type=Path, default=results_path("history"), help="folder for the plots")
        add_threshold_options(parser)

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        from bench import history  # noqa: PLC0415
        from bench.compare import Thresholds  # noqa: PLC0415

        if args.action == "append":
            if not args.runs:
                raise UsageError("history append: name the run folders to append")
            for run in args.runs:
                print(f"bench: {history.append(args.db, run)}")
            return EXIT_OK
        if args.runs:
            raise UsageError("history plot takes no runs (to add runs: history append RUN...)")
        frame = history.load(args.db)
        found = history.steps(frame, Thresholds.parse(args.threshold, args.confidence))
        with runs.staged_folder(args.out) as staging:
            images = history.plot(frame, found, staging)
        print("\n".join(history.describe(found)))
        print(f"bench: {len(images)} trend plots in {args.out}")
        return EXIT_OK
