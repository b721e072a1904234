"""``python -m bench show``: a run as a table."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from bench.commands.base import Command
from bench.console import show
from bench.errors import EXIT_OK


class Show(Command):
    name = "show"
    help = "print a run's results as a table"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("run_dir", type=Path)
        parser.add_argument("--brief", action="store_true", help="one row per workload and dtype: its largest case")
        parser.add_argument("--full", action="store_true", help="full case ids instead of short labels")

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        from bench.ab import store  # noqa: PLC0415
        from bench.record import RunRecord  # noqa: PLC0415
        from bench.summary import render  # noqa: PLC0415

        if store.is_head_to_head(args.run_dir):
            show(store.render(store.read(args.run_dir), full=args.full))
        else:
            show(render(RunRecord.from_json(args.run_dir), brief=args.brief, full=args.full))
        return EXIT_OK
