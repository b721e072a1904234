"""``python -m bench``: list workloads, run the suite, show a run, reproduce accuracies, measure overhead.

Exit codes: 0 success; 1 a benchmark failed; 2 bad input; 3 device not available.
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

from bench import envinfo, runs, suite
from bench.bands import DEFAULT_BANDS
from bench.context import RunContext
from bench.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, BenchError, UsageError
from bench.options import OPTIONS, OneLineParser, SuiteOptions, add_options, positive_int
from bench.registry import plan, select

EPILOG = "exit codes: 0 ok, 1 a benchmark failed, 2 bad input, 3 device not available"


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="python -m bench", description=__doc__.splitlines()[0], epilog=EPILOG)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

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

    show = commands.add_parser("show", help="print a run's results as a table", epilog=EPILOG)
    show.add_argument("run_dir", type=Path)
    show.add_argument("--brief", action="store_true", help="one row per workload and dtype: its largest case")

    report = commands.add_parser("report", help="one report (Markdown, HTML, CSV, plots) from any number of runs",
                                 epilog=EPILOG)  # fmt: skip
    report.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders or benchmark JSON files")
    report.add_argument("--out", type=Path, default=runs.results_root() / "report",
                        help=f"report folder (default: ${runs.RESULTS_ENV}/report, else results/report)")  # fmt: skip
    report.add_argument("--skip-bad", action="store_true", help="leave out unreadable files and list them")

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
    return parser


def cmd_list(args: argparse.Namespace) -> int:
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

    options = SuiteOptions.parse(args)
    context = RunContext(options.settings)
    cases = options.cases()
    for name, record in options.preflight(cases).items():  # data checked before anything is written
        print(f"bench: {name} data: {describe_data(record)}", flush=True)
    run_dir = runs.new_run_dir(Path(args.out), f"{context.device.type}-{options.size}")
    partial = run_dir / f".{runs.BENCHMARK_JSON}.partial"
    pytest_args = suite.pytest_args(partial, _forwarded(args, extra))
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
    code = pytest.main(pytest_args)
    if partial.exists():
        os.replace(partial, run_dir / runs.BENCHMARK_JSON)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        shutil.rmtree(run_dir)  # nothing was measured: leave no empty run behind
        raise UsageError("no case matched the -k/-m selection")
    print(f"bench: results in {run_dir}", flush=True)
    if code == pytest.ExitCode.OK:
        return EXIT_OK, run_dir
    return (EXIT_USAGE if code == pytest.ExitCode.USAGE_ERROR else EXIT_FAILED), run_dir


def cmd_run(args: argparse.Namespace, extra: Sequence[str]) -> int:
    return run_suite(args, extra)[0]


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Run the recipes at the tutorial's configuration, then check each accuracy against its band."""
    from bench.bands import judge, load_bands, table  # noqa: PLC0415
    from bench.summary import load_run  # noqa: PLC0415

    bands = load_bands(args.bands)
    argv = ["run", "--workload", "cifar_train", "--size", "seed", "--param", f"path={args.path}",
            "--device", args.device,
            "--seed", args.seed, "--data-source", args.data_source, "--out", args.out]  # fmt: skip
    argv += ["--param", f"epochs={args.epochs}"] if args.epochs else []
    argv += ["--data-root", args.data_root] if args.data_root else []
    argv += ["--param", f"model={args.model[0]}"] if len(set(args.model)) == 1 else []
    code, run_dir = run_suite(build_parser().parse_args(argv), ["-q"])
    verdicts = judge(load_run(run_dir), bands)
    print(table(verdicts))
    if code != EXIT_OK:
        return code
    return EXIT_OK if verdicts and all(v.passed for v in verdicts) else EXIT_FAILED


def describe_data(record: dict) -> str:
    counts = f"{record.get('train_count', '?')} train / {record.get('test_count', '?')} test images"
    return f"{record.get('label', '?')} ({record.get('source', '?')}, {counts}) {record.get('path', '')}".rstrip()


def cmd_show(args: argparse.Namespace) -> int:
    from bench.summary import load_run, render  # noqa: PLC0415

    print(render(load_run(args.run_dir), brief=args.brief))
    return EXIT_OK


def cmd_overhead(args: argparse.Namespace) -> int:
    from bench.overhead import compare  # noqa: PLC0415

    print(compare(args.what, args.device, args.n, args.repeats))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    args = build_parser().parse_args(argv)
    try:
        if args.command == "list":
            return cmd_list(args)
        if args.command == "run":
            return cmd_run(args, extra)
        if args.command == "show":
            return cmd_show(args)
        if args.command == "report":
            from bench.report import build  # noqa: PLC0415 - pandas and matplotlib load slowly

            print(f"bench: report in {build(args.runs, args.out, args.skip_bad)}")
            return EXIT_OK
        if args.command == "reproduce":
            args.model = args.model or ["lenet5"]
            return cmd_reproduce(args)
        return cmd_overhead(args)
    except BenchError as error:
        print(f"bench: error: {error}", file=sys.stderr)
        return error.exit_code
