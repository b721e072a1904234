"""``python -m bench peak``: this machine's best matmul FLOP/s per precision and copy GB/s, against the datasheet."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import peak_cache
from bench.arguments import positive_int
from bench.commands.base import Command
from bench.datasheets import BANDWIDTH, lookup, share
from bench.errors import EXIT_OK


def rate_text(value: float, unit: str) -> str:
    return f"{value:9.1f} {unit:<7}"


def flops_text(gflops: float, device_type: str) -> str:
    """GFLOP/s on the CPU, TFLOP/s on a GPU: a few digits before the point either way."""
    return rate_text(gflops / 1000, "TFLOP/s") if device_type == "cuda" else rate_text(gflops, "GFLOP/s")


def done_line(what: str, entry: dict[str, Any], seconds: float, device_type: str) -> str:
    """One plain line as a precision's sweep, or the copies, finish."""
    if what == "copy":
        best, at = rate_text(entry["best_gbps"], "GB/s"), f"{entry['best_mib']} MiB"
    else:
        best, at = flops_text(entry["best_gflops"], device_type), f"n={entry['best_n']}"
    return f"{what:<9}{best} at {at} ({len(entry['sweep'])} sizes, {seconds:.1f} s)"


def table(result: dict[str, Any], measured_now: bool, file: Path) -> str:
    """The result in at most 120 columns: per precision the best rate and its n, the copy rate,
    the datasheet's peaks and the share of them where the card has an entry, and where it came from."""
    print_ = result["fingerprint"]
    kind = print_["device_type"]
    sheet = lookup(print_["device_name"]) if kind == "cuda" else None
    rows = [(f"{'':<12} {'best':>9} {'':<7}  {'at':<9}", f" {'datasheet':>9} {'(dense)':<7} {'of it':>6}")]
    for precision, entry in result["matmul"].items():
        on_paper = ""
        if sheet and precision in sheet.tflops:
            of = share(entry["best_gflops"], precision, sheet=sheet).of_datasheet
            on_paper = f" {flops_text(1000 * sheet.tflops[precision], kind)} {of:4.0f} %"
        rows.append((f"mm {precision:<9} {flops_text(entry['best_gflops'], kind)}  n={entry['best_n']:<7}", on_paper))
    copy = result["copy"]
    on_paper = ""
    if sheet:
        of = share(copy["best_gbps"], BANDWIDTH, sheet=sheet).of_datasheet
        on_paper = f" {rate_text(sheet.bandwidth_gbs, 'GB/s')} {of:4.0f} %"
    rows.append((f"{'copy':<12} {rate_text(copy['best_gbps'], 'GB/s')}  {str(copy['best_mib']) + ' MiB':<9}", on_paper))
    lines = [
        f"{result['device']}: {print_['device_name']}, {print_['cpu_count']} CPUs, "
        f"{result['threads']} threads, torch {print_['torch']}",
        *((mine + (paper if sheet else "")).rstrip() for mine, paper in rows),
    ]
    if sheet:
        lines.append(f"datasheet: {sheet.card}, {sheet.source}")
    if measured_now:
        lines.append(f"measured now in {result['probe_s']:.1f} s; cached in {file}")
    else:
        lines.append(f"read from {file}, measured {result['measured_at']} in {result['probe_s']:.1f} s (--again: anew)")
    return "\n".join(lines)


class Peak(Command):
    name = "peak"
    help = "this machine's best matmul FLOP/s per precision and copy GB/s (cached), against the GPU's datasheet"
    needs_torch = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
        parser.add_argument(
            "--max-n",
            type=positive_int,
            metavar="N",
            help="largest matrix size of the matmul sweep (default: 2048 on the CPU, 8192 on a GPU)",
        )
        parser.add_argument("--again", action="store_true", help="measure even where a cached result exists")
        parser.add_argument("--json", action="store_true", help="print the result as JSON (progress goes to stderr)")

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        from bench import peak  # noqa: PLC0415 - imports torch

        progress = sys.stderr if args.json else sys.stdout

        def on_done(what: str, entry: dict[str, Any], seconds: float) -> None:
            print(done_line(what, entry, seconds, args.device.split(":")[0]), file=progress, flush=True)

        result, measured_now = peak.peak(args.device, args.max_n, args.again, on_done=on_done)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(table(result, measured_now, peak_cache.cache_file(result["fingerprint"])))
        return EXIT_OK
