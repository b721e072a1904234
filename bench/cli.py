"""``python -m bench``: run the suite, show, report, compare and keep runs, reproduce accuracies.

Exit codes: 0 success; 1 a benchmark failed (compare: a regression); 2 bad input; 3 device not available.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import runs, signals
from bench.arguments import OneLineParser, positive_int
from bench.bands import DEFAULT_BANDS
from bench.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, BenchError, UsageError

EPILOG = "exit codes: 0 ok, 1 a benchmark failed, 2 bad input, 3 device not available, 130 interrupted"


def build_parser(light: bool = False) -> argparse.ArgumentParser:
    """The whole CLI; ``light``: only the commands that read records (no torch import: fast)."""
    parser = OneLineParser(prog="python -m bench", description=__doc__.splitlines()[0], epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)
    if not light:
        add_run_commands(commands)
    add_record_commands(commands)
    return parser


def add_run_commands(commands: Any) -> None:
    """Commands that run workloads: they need torch and the registry."""
    from bench.options import add_options  # noqa: PLC0415 - imports torch

    listing = commands.add_parser("list", help="list workloads (or their cases)", epilog=EPILOG)
    listing.add_argument("--family", action="append", default=[], metavar="FAMILY")
    listing.add_argument("--tag", action="append", default=[], metavar="TAG")
    listing.add_argument("--workload", action="append", default=[], metavar="NAME")
    listing.add_argument("--cases", metavar="SIZE", help="list every case of this size instead")
    listing.add_argument("--device", default="cpu", help="device type for --cases (default: cpu)")

    run = commands.add_parser(
        "run", help="run the benchmark suite into a new run folder", epilog=EPILOG + "; arguments after -- go to pytest"
    )
    add_options(run.add_argument)
    run.add_argument("--out", default=str(runs.results_root() / "runs"),
                     help=f"folder for run folders (default: ${runs.RESULTS_ENV}/runs, else results/runs)")  # fmt: skip
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression over case ids")
    run.add_argument("-m", dest="markers", metavar="EXPR", help="pytest -m expression over families and tags")

    ddp = commands.add_parser(
        "ddp", help="the CIFAR-10 recipes with DistributedDataParallel: N processes and one, side by side",
        epilog=EPILOG + "; torchrun's rendezvous for several machines: see the README",
    )  # fmt: skip
    ddp.add_argument("--nproc-per-node", type=positive_int, default=2, metavar="N",
                     help="processes (ranks) per machine (default: 2)")  # fmt: skip
    add_options(ddp.add_argument)
    ddp.add_argument("--out", default=str(runs.results_root() / "runs"), help="folder for run folders")
    ddp.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression over case ids")
    ddp.add_argument("-m", dest="markers", metavar="EXPR", help="pytest -m expression over families and tags")

    reproduce = commands.add_parser(
        "reproduce", help="train the tutorial's CIFAR-10 recipes and check the reference accuracy bands",
        epilog="exit codes: 0 every accuracy in its band, 1 a miss or no band, 2 bad input, 3 device not available",
    )  # fmt: skip
    reproduce.add_argument("--model", action="append", choices=("lenet5", "resnet18"), default=[],
                           help="model to train (repeatable; default: lenet5)")  # fmt: skip
    reproduce.add_argument("--path", choices=("tensor", "seed"), default="tensor", help="data path (default: tensor)")
    reproduce.add_argument("--epochs", type=positive_int, help="epochs (default: the recipe's 10)")
    reproduce.add_argument("--device", default="cpu")
    reproduce.add_argument("--seed", default="0")
    reproduce.add_argument("--data-source", default="auto")
    reproduce.add_argument("--data-root")
    reproduce.add_argument("--bands", type=Path, default=DEFAULT_BANDS, help="bands file (default: the committed one)")
    reproduce.add_argument("--out", default=str(runs.results_root() / "runs"))

    overhead = commands.add_parser(
        "overhead", help="harness vs torch.utils.benchmark, or sampler on vs off, on a small matmul", epilog=EPILOG
    )
    overhead.add_argument("what", nargs="?", choices=("harness", "sampler"), default="harness")
    overhead.add_argument("--device", default="cpu")
    overhead.add_argument("--n", type=positive_int, default=256, help="matrix size (default: 256)")
    overhead.add_argument("--repeats", type=positive_int, default=3, help="alternations of the two timers (default: 3)")


def add_record_commands(commands: Any) -> None:
    """Commands that read run records and the history store."""
    show = commands.add_parser("show", help="print a run's results as a table", epilog=EPILOG)
    show.add_argument("run_dir", type=Path)
    show.add_argument("--brief", action="store_true", help="one row per workload and dtype: its largest case")

    report = commands.add_parser("report", help="one report (Markdown, HTML, CSV, plots) from any number of runs",
                                 epilog=EPILOG)  # fmt: skip
    report.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders or benchmark JSON files")
    report.add_argument("--out", type=Path, default=runs.results_root() / "report",
                        help=f"report folder (default: ${runs.RESULTS_ENV}/report, else results/report)")  # fmt: skip
    report.add_argument("--skip-bad", action="store_true", help="leave out unreadable files and list them")
    report.add_argument("--history", type=Path, metavar="DB", help="add trends over commits from this history store")

    compare = commands.add_parser(
        "compare", help="compare a run with a baseline run, from per-round samples",
        epilog="exit codes: 0 no regression, 1 a regression, 2 unusable input or runs that are not comparable",
    )  # fmt: skip
    compare.add_argument("baseline", type=Path, metavar="BASELINE", help="baseline run folder or benchmark JSON")
    compare.add_argument("current", type=Path, metavar="CURRENT", help="current run folder or benchmark JSON")
    add_threshold_options(compare)
    compare.add_argument("--allow-mismatch", action="store_true",
                         help="compare runs of different hardware, devices, torch versions or determinism")  # fmt: skip
    compare.add_argument("--out", type=Path, metavar="FILE", help="also write the Markdown table here")

    history = commands.add_parser(
        "history", help="append runs to the history store, or plot each workload's trend over commits",
        epilog=EPILOG,
    )  # fmt: skip
    history.add_argument("action", nargs="?", choices=("plot", "append"), default="plot")
    history.add_argument("runs", nargs="*", type=Path, metavar="RUN", help="runs to append")
    history.add_argument("--db", type=Path, default=runs.results_root() / "history.sqlite",
                         help=f"the store (default: ${runs.RESULTS_ENV}/history.sqlite, else results/…)")  # fmt: skip
    history.add_argument("--out", type=Path, default=runs.results_root() / "history", help="folder for the plots")
    add_threshold_options(history)


def add_threshold_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="FAMILY=FRACTION",
        help="minimum effect that counts, per family or 'default' (repeatable; defaults in README)",
    )
    parser.add_argument("--confidence", type=float, default=0.99, help="confidence of the intervals (default: 0.99)")


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.compare import Thresholds, compare, markdown  # noqa: PLC0415

    thresholds = Thresholds.parse(args.threshold, args.confidence)
    result = compare(args.baseline, args.current, thresholds, args.allow_mismatch)
    for warning in [f"runs differ: {w}" for w in result.warnings] + result.doubts():
        print(f"bench: WARNING: {warning}", file=sys.stderr)
    table = markdown(result, thresholds, args.baseline, args.current)
    if args.out:
        try:
            runs.write_atomic(args.out, table)
        except OSError as error:
            raise UsageError(f"cannot write {args.out}: {error.strerror}") from None
    print(table, end="")
    return EXIT_FAILED if result.regressed else EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
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


def cmd_list(args: argparse.Namespace) -> int:
    from bench.registry import plan, select  # noqa: PLC0415 - imports torch

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


def _forwarded(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    """The run's options as the suite's pytest flags."""
    from bench.options import OPTIONS  # noqa: PLC0415 - imports torch

    forwarded = []
    for option in OPTIONS:
        value = getattr(args, option.dest)
        flag = f"--bench-{option.name}"
        if isinstance(value, list):
            forwarded += [f"{flag}={v}" for v in value]
        elif isinstance(value, bool):
            forwarded += [flag] if value else []
        elif value is not None:
            forwarded.append(f"{flag}={value}")
    selection = (["-k", args.keyword] if args.keyword else []) + (["-m", args.markers] if args.markers else [])
    return [*forwarded, *selection, *extra]


def run_suite(args: argparse.Namespace, extra: Sequence[str]) -> tuple[int, Path]:
    """Check the inputs, make the run folder, run the suite; the exit code and the folder."""
    import pytest  # noqa: PLC0415 - only running needs it

    from bench import envinfo, suite  # noqa: PLC0415 - these import torch
    from bench.context import RunContext  # noqa: PLC0415
    from bench.options import SuiteOptions  # noqa: PLC0415

    options = SuiteOptions.parse(args)
    context = RunContext(options.settings)
    cases = options.cases()
    for name, record in options.preflight(cases).items():  # data checked before anything is written
        print(f"bench: {name} data: {describe_data(record)}", flush=True)
    signals.check()
    run_dir = runs.new_run_dir(Path(args.out), f"{context.device.type}-{options.size}")
    partial = run_dir / f".{runs.BENCHMARK_JSON}.partial"
    pytest_args = suite.pytest_args(partial, _forwarded(args, extra))
    try:
        runs.write_json(
            run_dir / "command.json",
            {
                "argv": [sys.executable, "-m", "bench", *sys.argv[1:]],
                "cwd": os.getcwd(),
                "started": datetime.now(UTC).isoformat(),
                "pytest_args": pytest_args,
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
        code = pytest.main(pytest_args)
        if partial.exists():
            os.replace(partial, run_dir / runs.BENCHMARK_JSON)
    except OSError as error:  # a full disk or a folder gone: a run folder without its record is no run
        shutil.rmtree(run_dir, ignore_errors=True)
        raise UsageError(f"cannot write the run record in {run_dir} ({error.strerror or error}); none kept") from None
    except KeyboardInterrupt:  # stopped before pytest ran a case: nothing to keep
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        shutil.rmtree(run_dir)  # nothing was measured: leave no empty run behind
        raise UsageError("no case matched the -k/-m selection")
    saved = run_dir / runs.BENCHMARK_JSON
    if code == pytest.ExitCode.INTERRUPTED:
        finished = len(runs.read_json(saved)["benchmarks"]) if saved.exists() else 0
        what = f"a record marked partial with the {finished} cases that finished" if finished else "no case finished"
        print(f"bench: interrupted by {signals.received[0] if signals.received else 'SIGINT'}; {what} ({run_dir})",
              file=sys.stderr, flush=True)  # fmt: skip
        return EXIT_INTERRUPTED, run_dir
    if signals.received:
        print(f"bench: {signals.received[0]} arrived after the last case; the run is complete", flush=True)
    print(f"bench: results in {run_dir}", flush=True)
    if code == pytest.ExitCode.OK:
        return EXIT_OK, run_dir
    return (EXIT_USAGE if code == pytest.ExitCode.USAGE_ERROR else EXIT_FAILED), run_dir


def cmd_run(args: argparse.Namespace, extra: Sequence[str]) -> int:
    return run_suite(args, extra)[0]


def cmd_ddp(args: argparse.Namespace, extra: Sequence[str]) -> int:
    """``run`` of the data-parallel workload, with N processes per machine."""
    args.bench_workload = [*args.bench_workload, "cifar_ddp"]
    args.bench_param = [*args.bench_param, f"nproc={args.nproc_per_node}"]
    return run_suite(args, extra)[0]


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run the recipes at the tutorial's configuration, then check each accuracy against its band."""
    from bench.bands import judge, load_bands, table  # noqa: PLC0415
    from bench.summary import load_run  # noqa: PLC0415

    args.model = args.model or ["lenet5"]
    bands = load_bands(args.bands)
    argv = ["run", "--workload", "cifar_train", "--size", "seed", "--param", f"path={args.path}",
            "--device", args.device,
            "--seed", args.seed, "--data-source", args.data_source, "--out", args.out]  # fmt: skip
    argv += ["--param", f"epochs={args.epochs}"] if args.epochs else []
    argv += ["--data-root", args.data_root] if args.data_root else []
    argv += ["--param", f"model={args.model[0]}"] if len(set(args.model)) == 1 else []
    code, run_dir = run_suite(build_parser().parse_args(argv), ["-q"])
    if code == EXIT_INTERRUPTED:
        return code
    verdicts = judge(load_run(run_dir), bands)
    print(table(verdicts))
    if code != EXIT_OK:
        return code
    return EXIT_OK if verdicts and all(v.passed for v in verdicts) else EXIT_FAILED


def describe_data(record: dict) -> str:
    counts = f"{record.get('train_count', '?')} train / {record.get('test_count', '?')} test images"
    return f"{record.get('label', '?')} ({record.get('source', '?')}, {counts}) {record.get('path', '')}".rstrip()


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report import build  # noqa: PLC0415 - pandas and matplotlib load slowly

    print(f"bench: report in {build(args.runs, args.out, args.skip_bad, args.history)}")
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    from bench.summary import load_run, render  # noqa: PLC0415

    print(render(load_run(args.run_dir), brief=args.brief))
    return EXIT_OK


def cmd_overhead(args: argparse.Namespace) -> int:
    from bench.overhead import compare  # noqa: PLC0415

    print(compare(args.what, args.device, args.n, args.repeats))
    return EXIT_OK


RECORD_COMMANDS = ("show", "report", "compare", "history")
RUN_COMMANDS = ("run", "ddp", "reproduce")
COMMANDS = {
    "list": cmd_list,
    "show": cmd_show,
    "report": cmd_report,
    "compare": cmd_compare,
    "history": cmd_history,
    "reproduce": cmd_reproduce,
    "overhead": cmd_overhead,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    try:
        with signals.handled():
            args = build_parser(light=bool(argv) and argv[0] in RECORD_COMMANDS).parse_args(argv)
            if args.command in RUN_COMMANDS:
                signals.check()  # torch is imported; the suite arms the signals when its cases start
            else:
                signals.arm()  # the rest is Python-level work that a signal may stop at once
            if args.command in ("run", "ddp"):
                return (cmd_run if args.command == "run" else cmd_ddp)(args, extra)
            return COMMANDS[args.command](args)
    except BenchError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:  # before a run's cases started, or in a command that is not a run
        why = signals.received[0] if signals.received else "SIGINT"
        print(f"bench: interrupted by {why}; nothing half-written was left", file=sys.stderr)
        return EXIT_INTERRUPTED
