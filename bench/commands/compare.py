"""``python -m bench compare``: did anything get slower, judged from per-round samples."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import runs
from bench.commands.base import Command, add_threshold_options
from bench.console import show
from bench.errors import EXIT_FAILED, EXIT_OK, file_errors


class Compare(Command):
    name = "compare"
    help = "compare a run with a baseline run, from per-round samples"
    epilog = "exit codes: 0 no regression, 1 a regression, 2 unusable input or runs that are not comparable"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("baseline", type=Path, metavar="BASELINE", help="baseline run folder or benchmark JSON")
        parser.add_argument("current", type=Path, metavar="CURRENT", help="current run folder or benchmark JSON")
        add_threshold_options(parser)
        parser.add_argument(
            "--allow-mismatch",
            action="store_true",
            help="compare runs of different hardware, devices, torch versions or determinism",
        )
        parser.add_argument("--out", type=Path, metavar="FILE", help="also write the Markdown table here")
        parser.add_argument("--full", action="store_true", help="full case ids instead of short labels")

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        from bench.compare import Thresholds, compare, markdown  # noqa: PLC0415

        thresholds = Thresholds.parse(args.threshold, args.confidence)
        result = compare(args.baseline, args.current, thresholds, args.allow_mismatch)
        for warning in [f"runs differ: {w}" for w in result.warnings] + result.doubts(args.full):
            print(f"bench: WARNING: {warning}", file=sys.stderr)
        table = markdown(result, thresholds, args.baseline.name, args.current.name, full=args.full)
        if args.out:
            with file_errors(f"cannot write {args.out}"):
                runs.write_atomic(args.out, table)
        show(table.rstrip("\n"))
        return EXIT_FAILED if result.regressed else EXIT_OK
