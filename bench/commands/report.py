"""``python -m bench report``: one report (Markdown, HTML, CSV, plots) from any number of runs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from bench import runs
from bench.commands.base import Command, results_path
from bench.errors import EXIT_OK
from bench.progress import Stream


class Report(Command):
    name = "report"
    help = "one report (Markdown, HTML, CSV, plots) from any number of runs"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders or benchmark JSON files")
        parser.add_argument(
            "--out",
            type=Path,
            default=results_path("report"),
            help=f"report folder (default: ${runs.RESULTS_ENV}/report, else results/report)",
        )
        parser.add_argument("--skip-bad", action="store_true", help="leave out unreadable files and list them")
        parser.add_argument(
            "--history", type=Path, metavar="DB", help="add trends over commits from this history store"
        )

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        from bench.report import build  # noqa: PLC0415 - pandas and matplotlib load slowly

        made = build(args.runs, args.out, args.skip_bad, args.history, terminal=Stream(sys.stdout))
        print(f"bench: report in {made}")
        return EXIT_OK
