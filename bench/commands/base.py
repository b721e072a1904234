"""What every command is, and the options several commands share (declared here, once)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from bench import runs
from bench.errors import UsageError

EPILOG = "exit codes: 0 ok, 1 a benchmark failed, 2 bad input, 3 device not available, 130 interrupted"


class Command:
    """One ``python -m bench`` command."""

    name: ClassVar[str]
    help: ClassVar[str]
    epilog: ClassVar[str] = EPILOG
    needs_torch: ClassVar[bool] = False  # False: it reads records only, and must never import torch
    takes_extra: ClassVar[bool] = False  # True: arguments after ``--`` are its own (they go to pytest)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's arguments."""

    def run(self, args: argparse.Namespace, extra: Sequence[str]) -> int:
        """Do the work; the exit code."""
        raise NotImplementedError


def add_runs_out(parser: argparse.ArgumentParser) -> None:
    """``--out``: the folder that receives run folders."""
    parser.add_argument(
        "--out",
        default=str(runs.results_root() / "runs"),
        help=f"folder for run folders (default: ${runs.RESULTS_ENV}/runs, else results/runs)",
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Everything that selects and configures a suite run: the suite's options, ``--out``, ``-k``, ``-m``."""
    from bench.options import add_options  # noqa: PLC0415 - imports torch

    add_options(parser.add_argument)
    add_runs_out(parser)
    parser.add_argument("-k", dest="keyword", metavar="EXPR", help="pytest -k expression over case ids")
    parser.add_argument("-m", dest="markers", metavar="EXPR", help="pytest -m expression over families and tags")
    parser.add_argument(
        "--pytest-table",
        action="store_true",
        help="also print pytest-benchmark's own table (full ids, every column); the suite's summary is printed anyway",
    )


def add_threshold_options(parser: argparse.ArgumentParser) -> None:
    """The minimum effects and confidence of regression verdicts (``compare``, ``history``)."""
    parser.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="FAMILY=FRACTION",
        help="minimum effect that counts, per family or 'default' (repeatable; defaults in docs/regressions.md)",
    )
    parser.add_argument("--confidence", type=float, default=0.99, help="confidence of the intervals (default: 0.99)")


def results_path(name: str) -> Path:
    """A default path under the results root (``$BENCH_RESULTS``, else ./results)."""
    return runs.results_root() / name


def describe_data(record: dict[str, Any]) -> str:
    """A data set's record in one line: label, source, image counts, where."""
    counts = f"{record.get('train_count', '?')} train / {record.get('test_count', '?')} test images"
    return f"{record.get('label', '?')} ({record.get('source', '?')}, {counts}) {record.get('path', '')}".rstrip()


def selector(keyword: str | None, markers: str | None) -> Callable[[dict[str, Any]], bool]:
    """pytest's -k (over case ids) and -m (over families and tags) expressions, applied to planned cases."""
    if not keyword and not markers:
        return lambda case: True
    from _pytest.mark.expression import Expression  # noqa: PLC0415 - pytest's own -k/-m syntax

    try:
        by_id = Expression.compile(keyword) if keyword else None
        by_mark = Expression.compile(markers) if markers else None
    except Exception as error:  # noqa: BLE001 - ParseError in older pytest, SyntaxError in newer ones
        raise UsageError(f"bad -k/-m expression: {getattr(error, 'msg', None) or error}") from None

    def keep(case: dict[str, Any]) -> bool:
        marks = {case["family"], *case["tags"]}
        return (by_id is None or by_id.evaluate(lambda name: name.lower() in case["id"].lower())) and (
            by_mark is None or by_mark.evaluate(lambda name: name in marks)
        )

    return keep
