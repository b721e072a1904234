"""``python -m bench run``: the suite into a new run folder."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from bench import runs, signals
from bench.commands.base import EPILOG, Command, add_run_options, describe_data, selector
from bench.console import show
from bench.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, FileError, UsageError, file_errors

if TYPE_CHECKING:
    from bench.options import SuiteOptions
    from bench.registry import Case


def check_run(args: argparse.Namespace, extra: Sequence[str]) -> tuple[SuiteOptions, list[Case]]:
    """The run's options and cases, every input checked: a bad one is one line, before any folder is made."""
    from bench import suite  # noqa: PLC0415 - imports torch
    from bench.context import resolve_device  # noqa: PLC0415
    from bench.options import SuiteOptions  # noqa: PLC0415

    options = SuiteOptions.parse(args)
    resolve_device(options.settings.device)  # a device this machine lacks: exit 3, before anything else
    selector(args.keyword, args.markers)
    suite.refuse_writers(extra)
    return options, options.cases()


def summary_of(run_dir: Path) -> str:
    from bench import summary  # noqa: PLC0415 - imports torch
    from bench.record import RunRecord  # noqa: PLC0415

    return summary.render(RunRecord.from_json(run_dir))


def run_suite(args: argparse.Namespace, extra: Sequence[str]) -> tuple[int, Path]:
    """Check the inputs, make the run folder, run the suite under pytest; the exit code and the folder.

    The options reach the suite typed (a plugin object), not as ``--bench-*`` strings; pytest gets
    only its own arguments: the ``-k``/``-m`` selection and what followed ``--``.
    """
    import pytest  # noqa: PLC0415 - only running needs it

    from bench import envinfo, suite  # noqa: PLC0415 - these import torch
    from bench.context import RunContext  # noqa: PLC0415
    from bench.suite.conftest import Given  # noqa: PLC0415

    options, cases = check_run(args, extra)
    context = RunContext(options.settings)
    if skipped := len(options.left_out()):
        print(
            f"bench: --quick leaves out the {skipped} distributed job(s), each a torchrun launch of 15-45 s;\n"
            "bench: `python -m bench ddp --quick` runs them (or --tag distributed here)",
            flush=True,
        )
    if skipped_modes := options.skipped():
        reasons = "; ".join(sorted({entry["reason"] for entry in skipped_modes}))
        print(f"bench: {len(skipped_modes)} case(s) skipped, their mode cannot run here: {reasons}", flush=True)
    if eager_only := options.modes_not_taken():
        print(f"bench: reference mode only (the axes they do not take): {'; '.join(eager_only)}", flush=True)
    for name, record in options.preflight(cases).items():  # data checked before anything is written
        print(f"bench: {name} data: {describe_data(record)}", flush=True)
    signals.check()
    run_dir = runs.new_run_dir(Path(args.out), f"{context.device.type}-{options.size}")
    partial = run_dir / f".{runs.BENCHMARK_JSON}.partial"
    selection = (["-k", args.keyword] if args.keyword else []) + (["-m", args.markers] if args.markers else [])
    pytest_args = suite.pytest_args(partial, [*selection, *extra], table=args.pytest_table)
    try:
        with file_errors(f"cannot write the run record in {run_dir}; none kept"):
            runs.write_json(
                run_dir / "command.json",
                {
                    "argv": [sys.executable, "-m", "bench", *sys.argv[1:]],
                    "cwd": os.getcwd(),
                    "started": datetime.now(UTC).isoformat(),
                    "pytest_args": pytest_args,
                    "options": options.record(),
                    "cases_planned": len(cases),
                },
            )
            runs.write_json(
                run_dir / "environment.json",
                {
                    **envinfo.collect(),
                    "installed": sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()),
                },
            )
            print(f"bench: {len(cases)} cases on {context.device} ({options.size}) -> {run_dir}", flush=True)
            signals.check()
            code = pytest.main(pytest_args, plugins=[Given(options)])
            if partial.exists():
                os.replace(partial, run_dir / runs.BENCHMARK_JSON)
    except (FileError, KeyboardInterrupt):  # a full disk, a folder gone, or stopped before any case ran:
        # a run folder without its record is no run
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        shutil.rmtree(run_dir)  # nothing was measured: leave no empty run behind
        raise UsageError("no case matched the -k/-m selection")
    if code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR) and not partial.exists():
        shutil.rmtree(run_dir)  # pytest refused to run: no folder without its record
        raise UsageError("pytest refused the arguments after -- (its message is above); nothing kept")
    saved = run_dir / runs.BENCHMARK_JSON
    if code == pytest.ExitCode.INTERRUPTED:
        finished = len(runs.read_json(saved)["benchmarks"]) if saved.exists() else 0
        what = f"a record marked partial with the {finished} cases that finished" if finished else "no case finished"
        why = signals.received[0] if signals.received else "SIGINT"
        print(f"bench: interrupted by {why}; {what} ({run_dir})", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED, run_dir
    if signals.received:
        print(f"bench: {signals.received[0]} arrived after the last case; the run is complete", flush=True)
    if saved.exists():
        show(summary_of(run_dir))
    print(f"bench: results in {run_dir}", flush=True)
    if code == pytest.ExitCode.OK:
        return EXIT_OK, run_dir
    return (EXIT_USAGE if code == pytest.ExitCode.USAGE_ERROR else EXIT_FAILED), run_dir


class Run(Command):
    name = "run"
    help = "run the benchmark suite into a new run folder"
    epilog = EPILOG + "; arguments after -- go to pytest"
    needs_torch = True
    takes_extra = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_run_options(parser)
        parser.add_argument(
            "--concurrent",
            action="store_true",
            help="with several devices (--device cuda:all or cuda:0,cuda:2): all at once, not one after the other",
        )

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        from bench.devices import DeviceRun, expand  # noqa: PLC0415 - imports torch

        devices = expand(args.bench_device)
        if devices is None:
            if args.concurrent:
                raise UsageError("--concurrent runs several devices at once: name them (--device cuda:all)")
            return run_suite(args, extra)[0]
        check_run(argparse.Namespace(**{**vars(args), "bench_device": devices[0]}), extra)
        devices_run = DeviceRun(args.command_line, extra, devices, args.concurrent, Path(args.out))
        code = devices_run.run()
        show(summary_of(devices_run.run_dir))
        print(f"bench: results in {devices_run.run_dir}", flush=True)
        return code
