"""``python -m bench ab BASELINE CANDIDATE``: two revisions, interpreters or images, interleaved."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import runs
from bench.arguments import at_least, positive_int
from bench.commands.base import Command, add_run_options, add_threshold_options, selector
from bench.console import show
from bench.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, UsageError
from bench.progress import Stream


def without_jobs(
    keep: Callable[[dict[str, Any]], bool], workloads: Sequence[str], tags: Sequence[str], left_out: set[str]
) -> Callable[[dict[str, Any]], bool]:
    """``keep``, less the distributed jobs unless named (``--tag distributed``, ``--workload``); those left out
    are added to ``left_out``."""
    from bench.registry import DISTRIBUTED  # noqa: PLC0415 - imports torch

    def kept(case: dict[str, Any]) -> bool:
        if DISTRIBUTED in case["tags"] and DISTRIBUTED not in tags and case["workload"] not in workloads:
            left_out.add(case["id"])
            return False
        return keep(case)

    return kept


STARTED = time.perf_counter()  # this module is imported as the command starts
PAIRS = 4
CASE_TIME = 1.0
QUICK_CASE_TIME = 0.25
BLOCK_ROUNDS = 1


def pinned(threads: int) -> list[list[int]]:
    """CPU sets of ``threads`` CPUs each, one per worker pair in rotation over the CPUs this process may use.

    Both workers of a pair share one set: measured on a 2-core VM, A/A pairs left to the scheduler
    (2 threads) differed by 0.68-1.72x pair to pair, one thread each by 0.70-1.21x, pinned to the
    same CPU by 0.94-1.09x. Whatever one core suffers (other tenants, interrupts, a sibling's
    spinning threads) then falls on both sides alike.
    """
    if not hasattr(os, "sched_getaffinity"):
        return []
    allowed = sorted(os.sched_getaffinity(0))
    width = min(threads, len(allowed))
    return [[allowed[(start + i) % len(allowed)] for i in range(width)] for start in range(0, len(allowed), width)]


class Ab(Command):
    name = "ab"
    help = "measure two revisions, interpreters or images interleaved on this machine, case by case"
    epilog = "exit codes: 0 no regression, 1 a case slower, 2 bad input or a side that cannot load, 130 interrupted"
    needs_torch = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        for side, what in (("baseline", "the reference"), ("candidate", "what is judged against it")):
            parser.add_argument(
                side,
                nargs="?",
                default="current",
                help=f"{what}: current (default), rev:REVISION, python:PATH or image:NAME",
            )
        add_run_options(parser)
        parser.add_argument(
            "--pairs", type=positive_int, default=PAIRS, help=f"worker pairs, each started afresh (default: {PAIRS})"
        )
        parser.add_argument(
            "--case-time",
            type=float,
            default=None,
            help=f"seconds of blocks per case and worker pair (default: {CASE_TIME}, {QUICK_CASE_TIME} with --quick)",
        )
        parser.add_argument(
            "--block-rounds", type=at_least(1), default=BLOCK_ROUNDS, help=f"rounds per block (default: {BLOCK_ROUNDS})"
        )
        parser.add_argument(
            "--no-pin",
            dest="pin",
            action="store_false",
            help="let the system place the workers (default: both workers of a pair pinned to the same CPUs,"
            " as many as --threads, which is 1 unless given)",
        )
        add_threshold_options(parser)

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        from bench.ab.session import Plan, Session, judge  # noqa: PLC0415 - imports torch
        from bench.ab.sides import resolved  # noqa: PLC0415
        from bench.ab.store import comparison, placement, read, render, write  # noqa: PLC0415
        from bench.compare import Thresholds  # noqa: PLC0415
        from bench.distributed import encode_settings  # noqa: PLC0415
        from bench.options import SuiteOptions  # noqa: PLC0415

        options, left_out = SuiteOptions.parse(args), set[str]()
        if options.settings.threads is None:  # one thread per worker unless asked: see pinned()
            options = dataclasses.replace(options, settings=dataclasses.replace(options.settings, threads=1))
        thresholds = Thresholds.parse(args.threshold, args.confidence)
        case_time = args.case_time if args.case_time is not None else (QUICK_CASE_TIME if options.quick else CASE_TIME)
        if not 0 < case_time < 3600:
            raise UsageError(f"--case-time {case_time}: expected seconds in (0, 3600)")
        policy = options.policy()
        plan = Plan(
            settings=encode_settings(options.settings),
            # workers start in the side's own folder: a target's path must not depend on ours
            targets=[str(Path(t).resolve()) if Path(t).exists() else t for t in options.targets],
            selection={
                "size": options.size,
                "workloads": list(options.workloads),
                "families": list(options.families),
                "tags": list(options.tags),
                "dtypes": list(options.dtypes),
                "params": list(options.params),
            },
            keep=without_jobs(selector(args.keyword, args.markers), options.workloads, options.tags, left_out),
            # rounds of 10 ms at least, even --quick: a block of a few rounds must outlast the noise of a call
            policy={"round_time": max(policy.round_time, 0.01), "max_time": policy.max_time},
            pairs=args.pairs,
            case_time=case_time,
            block_rounds=args.block_rounds,
            affinity=pinned(options.settings.threads or 1) if args.pin else [],
        )
        with (
            tempfile.TemporaryDirectory(prefix="bench-ab-") as scratch,
            resolved([args.baseline, args.candidate], Path(scratch)) as sides,
        ):
            how = placement(args.pairs, options.settings.threads, plan.affinity)
            print(f"bench: ab {sides[0].spec} (baseline) vs {sides[1].spec} (candidate): {how}", flush=True)
            outcome = Session(sides, plan, Path(scratch), out=Stream(sys.stdout)).run()
        if left_out:
            print(
                f"bench: {len(left_out)} distributed job(s) left out: each block would launch a whole torchrun job"
                " (select them with --tag distributed or --workload NAME)",
                flush=True,
            )
        judge(outcome, thresholds)
        run_dir = runs.new_run_dir(Path(args.out), f"ab-{options.settings.device.split(':')[0]}-{options.size}")
        record = read(write(run_dir, outcome, plan, thresholds))
        show(render(record))
        spent = time.perf_counter() - STARTED
        rest = spent - sum(outcome.seconds.values())
        parts = [f"{name} {seconds:.0f} s" for name, seconds in outcome.seconds.items()]
        parts.append(f"the rest {rest:.0f} s (imports, checking the sides, judging)")
        print(f"bench: time: {spent:.0f} s since start: {', '.join(parts)}")
        print(f"bench: head-to-head record in {run_dir}")
        if outcome.partial:
            print(
                f"bench: interrupted by {outcome.interrupted_by}; what was measured is kept, marked partial",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
        return EXIT_FAILED if comparison(record).regressed else EXIT_OK
