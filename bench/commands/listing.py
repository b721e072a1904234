"""``python -m bench list``: the workloads, or every case of a size."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bench.commands.base import Command
from bench.errors import EXIT_OK


class List(Command):
    name = "list"
    help = "list workloads (or their cases)"
    needs_torch = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--workloads",
            action="append",
            default=[],
            metavar="TARGET",
            help="also load the workloads of this module, .py file or folder (repeatable)",
        )
        parser.add_argument("--family", action="append", default=[], metavar="FAMILY")
        parser.add_argument("--tag", action="append", default=[], metavar="TAG")
        parser.add_argument("--workload", action="append", default=[], metavar="NAME")
        parser.add_argument("--cases", metavar="SIZE", help="list every case of this size instead")
        parser.add_argument("--device", default="cpu", help="device type for --cases (default: cpu)")

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        from bench.registry import all_workloads, plan, select  # noqa: PLC0415 - imports torch

        all_workloads(args.workloads)
        chosen = select(args.workload, args.family, args.tag)
        if args.cases:
            for case in plan(chosen, args.cases, args.device):
                print(case.id)
            return EXIT_OK
        rows = [("name", "family", "sizes (cases)", "devices", "tags", "what one call does")]
        for w in chosen:
            sizes = " ".join(f"{s}({len(w.cases(s, 'cpu')) or len(w.cases(s, 'cuda'))})" for s in w.sizes)
            devices = " ".join(f"{d}:{'/'.join(t)}" for d, t in w.dtypes.items())
            rows.append((w.name, w.family, sizes, devices, ",".join(sorted(w.tags)), w.description))
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        for row in rows:
            print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
        total = sum(len(w.cases("full", "cpu")) for w in chosen)
        print(f"\n{len(chosen)} workloads; {total} full-size cases on cpu")
        return EXIT_OK
