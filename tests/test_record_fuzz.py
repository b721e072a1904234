"""Fuzz: real run records, mutated field by field, fed to every command that reads records.

The contract (docs/reliability.md, ``python -m bench --help``): ``show``, ``report`` and ``history``
exit 0 or 2, ``compare`` 0, 1 (a regression: a fair verdict on a mutated time) or 2; on exit 2
stderr is exactly one line; never a traceback; the record read, the other run and the history store
stay byte for byte as they were (a failed append included); a report or plot is written only into
its new ``--out`` folder.

The records mutated are real ones: the committed schema-1 fixture (migrated on reading), a schema-2
record made by running the suite now, that record with a single case (where one mutation reaches
every row of a table), and the fixture as plain pytest-benchmark writes it; each cut to a few cases
of different kinds (a training result with metrics, timings with work and rates). A mutation picks
any key or list item at any depth and deletes it, gives it a hostile value of its own kind (NaN,
infinities, 2**70, -1, 5e-324; strings with newlines, NUL, '$', '/', 300 characters; empty or
reshaped containers) or any JSON value at all; one record in four gets two mutations.

Tiers: the fast one runs a few hundred records per command, the ``slow`` one 2,000; both
derandomized, so that CI sees the same records every time. ``nox -s fuzz`` (``BENCH_FUZZ_EXPLORE=1``)
runs the slow tier from a fresh random seed, to find what the fixed records have not (a failure
prints the record and a ``@reproduce_failure`` blob). Drawing
plots costs about a second a report, so the ``report`` and ``history`` readers run with matplotlib's
drawing stubbed out, and a separate reader draws everything for fewer records.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import io
import json
import math
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import matplotlib.pyplot as plt
import pytest
from filelock import FileLock
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from processes import run_python

from bench import history
from bench import report as report_module
from bench.cli import main
from bench.commands.show import Show
from bench.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from bench.runs import BENCHMARK_JSON

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke" / BENCHMARK_JSON
V1_CASES = (0, 2, 10)  # the fixture's lenet5 training, rowwise sum and mm: three kinds of result
ROUNDS_KEPT = 8  # per-round times kept per case: enough for compare's intervals, cheap to bootstrap


Key = str | int
FieldPath = tuple[Key, ...]

# -- the records mutated -------------------------------------------------------------------------


def cut(data: dict[str, Any], keep: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The record with only the benchmarks ``keep`` chooses, each with at most ``ROUNDS_KEPT`` rounds."""
    data = copy.deepcopy(data)
    data["benchmarks"] = [entry for entry in data["benchmarks"] if keep(entry)]
    for entry in data["benchmarks"]:
        entry["stats"]["data"] = entry["stats"]["data"][:ROUNDS_KEPT]
    return data


def made_now(out: Path) -> dict[str, Any]:
    """A schema-2 record of the suite run now: mm's two cases and lenet5 training on both data paths."""
    done = run_python(
        "-m",
        "bench",
        "run",
        "--quick",
        "--workload",
        "mm",
        "--workload",
        "cifar_train",
        "--param",
        "model=lenet5",
        "--data-source",
        "synthetic",
        "--max-time",
        "0.01",
        "--out",
        str(out),
        "--",
        "-q",
        cwd=out,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = out.iterdir()
    return json.loads((run / BENCHMARK_JSON).read_text())


def made_once(tmp_path_factory: pytest.TempPathFactory, config: pytest.Config) -> dict[str, Any]:
    """``made_now``'s record, made once a test session: pytest-xdist hands the fuzz's tests out one by
    one, so each worker would otherwise run the suite for its own (about 10 s of CPU each). Under nox,
    once for both tiers: its sessions share ``BENCH_TESTS_SHARED``."""
    folder = tmp_path_factory.getbasetemp()
    shared = folder.parent if hasattr(config, "workerinput") else folder  # an xdist worker's: the workers' common one
    made = Path(os.environ.get("BENCH_TESTS_SHARED") or shared) / "fuzz-record-made-now.json"
    with FileLock(f"{made}.lock"):
        if not made.exists():
            made.write_text(json.dumps(made_now(tmp_path_factory.mktemp("made"))))
    return json.loads(made.read_text())


def plain(data: dict[str, Any]) -> dict[str, Any]:
    """The record as pytest-benchmark alone writes it: no ``bench`` section, no ``extra_info`` of ours."""
    data = copy.deepcopy(data)
    del data["bench"]
    for entry in data["benchmarks"]:
        del entry["extra_info"]
    return data


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """The records to mutate: the committed v1 fixture, a v2 record made now, that record with one
    case (where a mutation reaches every row of a report), and a plain pytest-benchmark file."""
    v1, v2 = json.loads(FIXTURE.read_text()), made_once(tmp_path_factory, request.config)
    assert v1["bench"]["schema"] == 1 and v2["bench"]["schema"] == 2
    kept = {v1["benchmarks"][index]["param"] for index in V1_CASES}
    return {
        "v1": cut(v1, lambda entry: entry["param"] in kept),
        "v2": cut(v2, lambda entry: "path=tensor" not in entry["param"]),  # lenet5 training, mm and matmul
        "v2 one case": cut(v2, lambda entry: entry["param"].startswith("mm/") and "op=mm" in entry["param"]),
        "pytest-benchmark": plain(cut(v1, lambda entry: entry["param"] in kept)),
    }


# -- mutations -------------------------------------------------------------------------------------


class Deleted:
    """What a mutation puts where it removes the field."""

    def __repr__(self) -> str:
        return "DELETED"


DELETED = Deleted()


@dataclass(frozen=True)
class Mutation:
    path: FieldPath
    value: Any  # DELETED: the key or item is removed


def field_paths(node: Any, prefix: FieldPath = ()) -> Iterator[FieldPath]:
    """Every key and list item of a JSON tree, at any depth. Of a list only the first two items and
    the last: the CPU flags and per-round times would otherwise crowd out every other field."""
    if isinstance(node, dict):
        children = list(node.items())
    elif isinstance(node, list):
        children = [(index, node[index]) for index in sorted({0, 1, len(node) - 1} & set(range(len(node))))]
    else:
        return
    for key, child in children:
        yield (*prefix, key)
        yield from field_paths(child, (*prefix, key))


NUMBERS = st.one_of(
    st.sampled_from([0, -1, 1, -0.0, 0.5, 1.5, 1e-300, 5e-324, 1e308, -1e308, 2**63, 2**70, -(2**70)]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.integers(),
    st.floats(),
)
STRINGS = st.one_of(
    st.sampled_from(["", "\n", "two\nlines", "line\u2028separator", "\x00", "$\\bad$", "x" * 300, "../up", "a/b"]),
    st.sampled_from(["cuda", "cpu", "synthetic", "float32", "NaN"]),  # values other fields of records hold
    st.text(max_size=12),
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, STRINGS)
ANYTHING = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def alike(original: Any, depth: int = 2) -> st.SearchStrategy[Any]:
    """A value of the original's kind that its readers may not expect: the type checks pass it, so
    these reach furthest. Lists and objects keep the original's shape with such values inside."""
    if isinstance(original, bool):
        return st.booleans()
    if isinstance(original, int | float):
        return NUMBERS
    if isinstance(original, str):
        return STRINGS
    if isinstance(original, list) and original and depth:
        return st.lists(alike(original[0], depth - 1), max_size=4)
    if isinstance(original, dict) and depth:
        return st.fixed_dictionaries({}, optional={key: alike(value, depth - 1) for key, value in original.items()})
    return ANYTHING


def value_at(record: dict[str, Any], path: FieldPath) -> Any:
    for key in path:
        record = record[key]
    return record


def mutations(record: dict[str, Any]) -> st.SearchStrategy[list[Mutation]]:
    """One change to ``record``, or two: a field removed, given a value of its kind, or any value.
    Each field's strategy is built once: building them afresh for every example took a fifth of the time."""

    @functools.cache
    def change(path: FieldPath) -> st.SearchStrategy[Mutation]:
        value = st.one_of(st.just(DELETED), alike(value_at(record, path)), ANYTHING)
        return st.builds(Mutation, st.just(path), value)

    one = st.sampled_from(list(field_paths(record))).flatmap(change)
    return st.sampled_from([1, 1, 1, 2]).flatmap(lambda count: st.lists(one, min_size=count, max_size=count))


def mutated(record: dict[str, Any], changes: list[Mutation]) -> str:
    """The record's text with ``changes`` made (a change under a field an earlier one removed or
    replaced is passed over); NaN and infinities as the NaN/Infinity tokens other tools write."""
    data = copy.deepcopy(record)
    for change in changes:
        parent: Any = data
        try:
            for key in change.path[:-1]:
                parent = parent[key]
            last = change.path[-1]
            if change.value is DELETED:
                del parent[last]
            else:
                parent[last] = change.value
        except (KeyError, IndexError, TypeError):
            continue
    return json.dumps(data, allow_nan=True)


# -- one mutated record's workspace, and what the commands may do to it ------------------------------


@dataclass(frozen=True)
class Sample:
    """One example: the record mutated, how, and whether a report reads it alone or beside the
    unmutated one (where a mutation made a case a GPU result: a CPU/GPU pair; mixed machines …)."""

    seed: str
    changes: list[Mutation]
    alone: bool


@dataclass(frozen=True)
class Workspace:
    root: Path
    good: Path  # the record unmutated: compare's other side
    mutated: Path
    store: Path  # a history store already holding the good run
    reported: tuple[Path, ...]  # the runs a report reads

    def snapshot(self) -> dict[str, str]:
        """Every file under the workspace with its digest, and every folder."""
        return {
            str(path.relative_to(self.root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "/"
            for path in sorted(self.root.rglob("*"))
        }


@pytest.fixture(scope="module")
def stores(seeds: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """Per seed, the bytes of a history store holding its unmutated run."""
    made = {}
    for name, record in seeds.items():
        folder = tmp_path_factory.mktemp(f"store-{name}")
        (folder / "good").mkdir()
        (folder / "good" / BENCHMARK_JSON).write_text(json.dumps(record))
        history.append(folder / "history.sqlite", folder / "good")
        made[name] = (folder / "history.sqlite").read_bytes()
    return made


@contextlib.contextmanager
def workspace(parent: Path, record: dict[str, Any], sample: Sample, store: bytes) -> Iterator[Workspace]:
    with tempfile.TemporaryDirectory(dir=parent) as folder:
        root = Path(folder)
        good, bad = root / "good", root / "mutated"
        space = Workspace(root, good, bad, root / "history.sqlite", (bad,) if sample.alone else (good, bad))
        for run, text in ((good, json.dumps(record)), (bad, mutated(record, sample.changes))):
            run.mkdir()
            (run / BENCHMARK_JSON).write_text(text)
        space.store.write_bytes(store)
        yield space


def print_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, *_: Any) -> None:
    """A warning as Python prints it to stderr (pytest would otherwise collect it out of sight)."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno))


def bench(*argv: str | Path) -> tuple[int, str, str]:
    """``python -m bench argv…`` in this process: the exit code, and stdout and stderr. Warnings go to
    stderr, every time: there they would break the one line a failure may print."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = print_warning
        try:
            code = main([str(arg) for arg in argv])
        except SystemExit as exit_:  # argparse's errors
            code = exit_.code
    return code, out.getvalue(), err.getvalue()


def assert_contract(result: tuple[int, str, str], codes: set[int]) -> int:
    """The exit code is one of ``codes``; a failure is one line; no traceback. The exit code."""
    code, out, err = result
    assert code in codes, f"exit {code}\n{err}"
    assert "Traceback" not in out + err, err
    if code == EXIT_USAGE:
        assert err.startswith("bench: error: ") and err.endswith("\n") and len(err.splitlines()) == 1, err
    return code


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    """Paths added, removed or rewritten."""
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def under(folder: str, paths: set[str]) -> bool:
    return all(path == folder or path.startswith(f"{folder}/") for path in paths)


# -- the commands, each fed one mutated record ------------------------------------------------------


def show(space: Workspace) -> None:
    before = space.snapshot()
    for options in ([], ["--brief"], ["--full"]):
        assert_contract(bench("show", space.mutated, *options), {EXIT_OK, EXIT_USAGE})
    assert space.snapshot() == before


def compare(space: Workspace) -> None:
    before = space.snapshot()
    assert_contract(bench("compare", space.good, space.mutated), {EXIT_OK, EXIT_FAILED, EXIT_USAGE})
    code = assert_contract(
        bench("compare", space.mutated, space.good, "--out", space.root / "table.md"),
        {EXIT_OK, EXIT_FAILED, EXIT_USAGE},
    )
    assert changed(before, space.snapshot()) == (set() if code == EXIT_USAGE else {"table.md"})


def report(space: Workspace, *more: str | Path) -> None:
    before = space.snapshot()
    argv = ("report", *space.reported, "--out", space.root / "report", *more)
    code = assert_contract(bench(*argv), {EXIT_OK, EXIT_USAGE})
    made = changed(before, space.snapshot())
    if code == EXIT_OK:
        assert under("report", made) and (space.root / "report" / "report.md").is_file(), made
    else:
        assert not made, made


def append(space: Workspace) -> int:
    """``history append`` of the mutated record: on failure the store is byte for byte as it was."""
    before = space.snapshot()
    code = assert_contract(bench("history", "append", space.mutated, "--db", space.store), {EXIT_OK, EXIT_USAGE})
    assert changed(before, space.snapshot()) <= ({"history.sqlite"} if code == EXIT_OK else set())
    return code


def history_trends(space: Workspace) -> None:
    """Appended, the record is read back from the store: each workload's trend over both runs."""
    if append(space) != EXIT_OK:
        return
    before = space.snapshot()
    argv = ("history", "plot", "--db", space.store, "--out", space.root / "trends")
    code = assert_contract(bench(*argv), {EXIT_OK, EXIT_USAGE})
    made = changed(before, space.snapshot())
    assert under("trends", made) if code == EXIT_OK else not made, made


def drawn(space: Workspace) -> None:
    """The report with its plots and, once the record is appended, the store's trend plots. The
    figures a failed drawing left open are closed after, as a new process would start without them."""
    try:
        report(space, *(["--history", space.store] if append(space) == EXIT_OK else []))
    finally:
        plt.close("all")


EXPLORE = os.environ.get("BENCH_FUZZ_EXPLORE") == "1"  # nox -s fuzz


@dataclass(frozen=True)
class Reader:
    check: Callable[[Workspace], None]
    fast: int  # records in the fast tier
    slow: int  # in the slow one
    draws: bool = False  # False: matplotlib's drawing (about a second a report) is stubbed out


READERS = {
    "show": Reader(show, fast=300, slow=2000),
    "compare": Reader(compare, fast=300, slow=2000),
    "report": Reader(report, fast=200, slow=2000),
    "history": Reader(history_trends, fast=300, slow=2000),
    "report and trends drawn": Reader(drawn, fast=20, slow=60, draws=True),
}


@contextlib.contextmanager
def undrawn() -> Iterator[None]:
    """The functions that draw plots with matplotlib, returning no image: the rest of ``report`` and
    ``history plot`` (reading, tables, CSV, Markdown, HTML, steps) runs as it is."""
    with (
        mock.patch.object(report_module, "timings_plot", return_value=None),
        mock.patch.object(report_module, "speedup_plot", return_value=None),
        mock.patch.object(report_module, "training_curves", return_value=None),
        mock.patch.object(report_module, "gpu_timelines", return_value=None),
        mock.patch.object(history, "plot", return_value=[]),
    ):
        yield


@pytest.mark.parametrize(
    ("name", "tier"),
    [
        # drawing costs a second a report: the drawn reader is in the slow tier alone
        pytest.param(name, tier, marks=[pytest.mark.slow] if tier == "slow" or reader.draws else [])
        for name, reader in READERS.items()
        for tier in ("fast", "slow")
    ],
)
def test_a_mutated_record_meets_the_readers_contract(
    name: str, tier: str, seeds: dict[str, dict[str, Any]], stores: dict[str, bytes], tmp_path: Path
) -> None:
    """The strategy is built here, from the records the fixtures made; each record gets a fresh workspace."""
    reader = READERS[name]

    @functools.cache
    def sample(seed: str) -> st.SearchStrategy[Sample]:
        return st.builds(Sample, st.just(seed), mutations(seeds[seed]), st.booleans())

    @settings(
        max_examples=reader.slow if tier == "slow" else reader.fast,
        deadline=None,
        derandomize=not (tier == "slow" and EXPLORE),
        database=None,  # no examples kept between runs: the tiers' are fixed, exploring prints its blob
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.sampled_from(sorted(seeds)).flatmap(sample))
    def holds(sample: Sample) -> None:
        with workspace(tmp_path, seeds[sample.seed], sample, stores[sample.seed]) as space:
            reader.check(space)

    with contextlib.nullcontext() if reader.draws else undrawn():
        holds()


@pytest.mark.parametrize(
    ("result", "codes"),
    [
        ((1, "", "bench: error: x\n"), {EXIT_OK, EXIT_USAGE}),
        ((2, "", "bench: error: two\nlines\n"), {EXIT_OK, EXIT_USAGE}),
        ((2, "", "bench: error: x\nbench/report.py:9: RuntimeWarning: overflow\n"), {EXIT_OK, EXIT_USAGE}),
        ((0, "Traceback (most recent call last):", ""), {EXIT_OK, EXIT_USAGE}),
    ],
    ids=["another exit code", "two lines", "a warning after the error", "a traceback"],
)
def test_the_contract_check_refuses_what_the_contract_forbids(result: tuple[int, str, str], codes: set[int]) -> None:
    with pytest.raises(AssertionError):
        assert_contract(result, codes)


def test_a_warning_reaches_the_captured_stderr() -> None:
    """Under pytest a warning is collected, not printed: bench() must print it, or the one-line check is blind."""

    def warn(*_: object) -> int:
        warnings.warn("loud", stacklevel=1)
        return EXIT_OK

    with mock.patch.object(Show, "run", warn):
        code, _, err = bench("show", "nowhere")
    assert code == EXIT_OK and "UserWarning: loud" in err


def test_a_mutation_may_pick_any_field_however_deep() -> None:
    """Long lists (per-round times, CPU flags) only at their ends, so they do not crowd out the rest."""
    record = json.loads(FIXTURE.read_text())
    paths = set(field_paths(cut(record, lambda entry: entry["param"] == record["benchmarks"][0]["param"])))
    assert ("benchmarks", 0, "extra_info", "metrics", "epochs", 0, "train_loss") in paths
    assert ("machine_info", "cpu", "flags", 1) in paths and ("machine_info", "cpu", "flags", 2) not in paths
