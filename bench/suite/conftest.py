"""pytest hooks of the suite: options, one test per case, markers, progress, run records.

``python -m bench run`` hands its options over typed (a :class:`Given` plugin); run directly
(``pytest bench/suite --bench-device cuda``), the suite parses its ``--bench-*`` options.
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bench import distributed, envinfo, signals
from bench.context import EpochDone, RunContext
from bench.errors import BenchError, ServedElsewhere
from bench.labels import Described, short_labels
from bench.options import SuiteOptions, add_options
from bench.progress import Progress
from bench.record import RunRecord
from bench.registry import Case, all_workloads
from bench.runner import failure_line
from bench.summary import duration
from bench.timing import RoundPolicy

if TYPE_CHECKING:
    from _pytest._code.code import TracebackEntry

_OPTIONS = pytest.StashKey[SuiteOptions]()
_CONTEXT = pytest.StashKey[RunContext]()
_CASES = pytest.StashKey[list[Case]]()
_FAILED = pytest.StashKey[list[dict[str, str]]]()
_SERVED = pytest.StashKey[list[dict[str, Any]]]()  # jobs run as a worker node of a job across machines
_PREFLIGHT = pytest.StashKey[dict[str, dict[str, Any]]]()
_SESSION = pytest.StashKey[pytest.Session]()
_SIGNALS = pytest.StashKey[contextlib.ExitStack]()  # Ctrl-C and SIGTERM handled until unconfigure
_PROGRESS = pytest.StashKey[Progress]()
_INDEX = pytest.StashKey[dict[str, int]]()  # a selected case's place in the run, by pytest node id


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser.getgroup("bench", "benchmark suite").addoption, prefix="bench-")


@dataclass(frozen=True)
class Given:
    """The run's options, already parsed and checked by the CLI: ``pytest.main(args, plugins=[Given(options)])``."""

    options: SuiteOptions


def _options(config: pytest.Config) -> SuiteOptions:
    given = [plugin for plugin in config.pluginmanager.get_plugins() if isinstance(plugin, Given)]
    return given[0].options if given else SuiteOptions.parse(config.option)


def pytest_configure(config: pytest.Config) -> None:
    try:
        options = _options(config)
        json_option = config.getoption("benchmark_json", None)  # a path, or (older pytest-benchmark) an open file
        if json_option is not None and not isinstance(json_option, str | os.PathLike):
            json_option = json_option.name  # the open file's path
        json_path = Path(json_option) if json_option else None
        context = RunContext(options.settings, artifacts=json_path.parent if json_path else None)
        cases = options.cases()
        preflight = options.preflight(cases)
    except BenchError as error:
        raise pytest.UsageError(str(error)) from None
    context.apply()
    config.stash[_OPTIONS], config.stash[_CONTEXT], config.stash[_CASES] = options, context, cases
    config.stash[_PREFLIGHT], config.stash[_FAILED], config.stash[_SERVED] = preflight, [], []
    config.stash[_SIGNALS] = contextlib.ExitStack()
    config.stash[_SIGNALS].enter_context(signals.handled())  # under `bench run`, the CLI already handles them
    for workload in all_workloads(options.targets).values():
        for marker in (workload.family, *workload.tags):
            config.addinivalue_line("markers", f"{marker}: workloads of family or tag {marker!r}")


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_SESSION] = session


def pytest_collection_finish(session: pytest.Session) -> None:
    """Progress over the cases selected (after -k/-m), labelled among themselves."""
    terminal = session.config.pluginmanager.get_plugin("terminalreporter")
    cases = [item.callspec.params["bench_case"] for item in session.items if hasattr(item, "callspec")]
    if terminal is None or len(cases) != len(session.items):
        return
    labels = short_labels([Described(c.workload.name, c.params, list(c.workload.variants), c.dtype) for c in cases])
    progress = session.config.stash[_PROGRESS] = Progress(labels, terminal)
    session.config.stash[_INDEX] = {item.nodeid: i for i, item in enumerate(session.items)}
    session.config.stash[_CONTEXT].on_epoch = _shown_epochs(session.config, progress)


def _shown_epochs(config: pytest.Config, progress: Progress) -> Callable[[EpochDone], None]:
    """A training case's epochs into the progress line. They come during the case's call, whose
    output pytest captures: written past the capture, as pytest's live logging does."""
    capture = config.pluginmanager.get_plugin("capturemanager")

    def show(epoch: EpochDone) -> None:
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            progress.step(epoch.epoch / epoch.epochs, str(epoch))

    return show


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> None:
    """Before the case, outside output capture (which setup is inside of)."""
    if _PROGRESS in item.config.stash:
        item.config.stash[_PROGRESS].start(item.config.stash[_INDEX][item.nodeid])


def pytest_report_teststatus(report: pytest.TestReport, config: pytest.Config) -> tuple[str, str, str] | None:
    """No dots: the progress lines say how each case went."""
    if _PROGRESS not in config.stash:
        return None
    if report.when == "call" or report.failed:
        return ("error" if report.failed and report.when != "call" else report.outcome), "", report.outcome.upper()
    return "", "", ""


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Any:
    # What is alive before the first case (torch, the plan: some 300k objects) lives all run long:
    # frozen, the collection after each case skips it (0.2 s a case on a 2-core VM; a quick run of
    # the matrix and layers families took half the time) and so do the collections within rounds.
    gc.freeze()
    try:
        signals.arm()  # a signal noted while pytest started stops the run here; from now on, at once
        return (yield)
    finally:
        signals.defer()  # the cases are over: a signal now must not cut the record off
        gc.unfreeze()
        if _PROGRESS in session.config.stash:
            session.config.stash[_PROGRESS].close()


def has_a_line(entry: TracebackEntry) -> bool:
    try:
        entry.lineno  # noqa: B018 - pytest computes it, and fails where Python knows none
    except TypeError:
        return False
    return True


@pytest.hookimpl(tryfirst=True)
def pytest_keyboard_interrupt(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """A signal can land on an instruction that has no line (Python 3.11+: ``tb_lineno`` is None).
    Formatting that traceback, pytest's terminal raised TypeError, and a stopped run ended in a
    traceback and exit 1 instead of its record marked partial (1 stop in 20 here): such frames go."""
    excinfo.traceback = excinfo.traceback.filter(has_a_line)


def pytest_unconfigure(config: pytest.Config) -> None:
    distributed.close_pools()  # the data-parallel jobs' launches end with the run
    context = config.stash.get(_CONTEXT, None)
    if context is not None:
        context.close()
    if _SIGNALS in config.stash:
        config.stash[_SIGNALS].close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bench_case" not in metafunc.fixturenames:
        return
    params = [
        pytest.param(
            case, id=case.id, marks=[getattr(pytest.mark, m) for m in (case.workload.family, *case.workload.tags)]
        )
        for case in metafunc.config.stash[_CASES]
    ]
    metafunc.parametrize("bench_case", params)


@pytest.fixture(scope="session")
def bench_context(pytestconfig: pytest.Config) -> RunContext:
    return pytestconfig.stash[_CONTEXT]


@pytest.fixture(scope="session")
def bench_policy(pytestconfig: pytest.Config) -> RoundPolicy:
    return pytestconfig.stash[_OPTIONS].policy()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Remember each failed case with a one-line reason, for the run record; report its progress. A
    case served as a worker node of a job across machines is reported skipped, and remembered."""
    report = yield
    case = getattr(item, "callspec", None) and item.callspec.params.get("bench_case")
    error = call.excinfo.value if call.excinfo is not None else None
    if case is not None and isinstance(error, ServedElsewhere):
        item.config.stash[_SERVED].append({"id": case.id, **error.served})
        report.outcome, report.longrepr = "skipped", (str(item.path), 0, f"Skipped: {error}")
    elif case is not None and error is not None and call.when in ("setup", "call"):
        item.config.stash[_FAILED].append({"id": case.id, "error": failure_line(error)})
        if isinstance(error, BenchError):  # an expected failure (a lost job, a time limit): its line, no traceback
            report.longrepr = failure_line(error)
    if _PROGRESS in item.config.stash and (call.when == "call" or report.failed):
        median = dict(report.user_properties).get("median_s")
        if isinstance(error, ServedElsewhere):
            outcome = str(error)
        elif report.failed:
            failures = item.config.stash[_FAILED]
            outcome = "FAILED: " + (failures[-1]["error"] if failures else "see above")
        else:
            outcome = duration(median) if isinstance(median, float) else report.outcome
        item.config.stash[_PROGRESS].finish(item.config.stash[_INDEX][item.nodeid], outcome)
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A run in which every case failed, or was served for another node, still leaves its record,
    each failure with its reason: pytest-benchmark (whose own hook has run by now) writes nothing
    without a benchmark."""
    config = session.config
    benchmarks = getattr(config, "_benchmarksession", None)
    if benchmarks is None or benchmarks.benchmarks or not benchmarks.json:
        return
    if not (config.stash.get(_FAILED, None) or config.stash.get(_SERVED, None)):
        return
    record = config.hook.pytest_benchmark_generate_json(
        config=config,
        benchmarks=[],
        include_data=True,
        machine_info=benchmarks.get_machine_info(),
        commit_info=config.hook.pytest_benchmark_generate_commit_info(config=config),
    )
    config.hook.pytest_benchmark_update_json(config=config, benchmarks=[], output_json=record)
    benchmarks.save_json(record)


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict[str, Any]) -> None:
    machine_info.update(envinfo.collect())


def pytest_benchmark_update_json(config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]) -> None:
    options, context = config.stash[_OPTIONS], config.stash[_CONTEXT]
    session = config.stash.get(_SESSION, None)
    partial = session is not None and session.exitstatus == pytest.ExitCode.INTERRUPTED
    output_json["bench"] = RunRecord(
        cases=[],
        context=context.record(),
        selection=options.record(),
        cases_planned=len(config.stash[_CASES]),
        preflight=config.stash[_PREFLIGHT],
        failed=config.stash[_FAILED],
        served=config.stash[_SERVED],
        partial=partial,  # Ctrl-C or SIGTERM stopped the run before every case ran
        interrupted_by=(signals.received or ["KeyboardInterrupt"])[0] if partial else None,
        sources=options.sources(),
    ).bench_section()
