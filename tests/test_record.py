"""The typed run record (bench/record.py): the v1 fixture migrated, round trips, pytest-benchmark
reading what we write, one-line errors naming the field, and the record commands without torch."""

from __future__ import annotations

import copy
import json
import os
import reprlib
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from processes import ROOT, run_python

from bench.cli import main
from bench.errors import UsageError
from bench.record import RECORD_SCHEMA, CaseResult, RunRecord, migrate

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"  # a real record of schema 1
MM = 10  # the fixture's benchmark mm/n=64/op=mm/float32
TRAINING = 0  # and its first training result


def raw() -> dict:
    return json.loads((FIXTURE / "benchmark.json").read_text())


def written(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data))
    return path


def test_the_v1_fixture_loads_migrated_to_the_current_schema() -> None:
    assert raw()["bench"]["schema"] == 1 and "variants" not in raw()["benchmarks"][MM]["extra_info"]
    record = RunRecord.from_json(FIXTURE)
    assert record.schema == RECORD_SCHEMA == 2 and record.path == FIXTURE / "benchmark.json"
    assert record.sources == [] and record.partial is False and record.cases_planned == 12
    variants = {case.workload: case.variants for case in record.cases}
    assert variants == {"mm": ["op"], "rowwise": ["op"], "cifar_train": ["model", "path"]}
    mm = record.cases[MM]
    assert mm.id == "mm/n=64/op=mm/float32" and mm.variant == '{"op": "mm"}' and mm.work is not None
    assert mm.key == ("mm", '{"n": 64, "op": "mm"}', "float32", "cpu")
    assert mm.timing.median_s == mm.rates["median_s"] and mm.timing.samples == mm.stats["data"]
    assert mm.timing.basis == "host" and mm.timing.iqr_s == mm.stats["iqr"]
    assert record.cases[TRAINING].variant == '{"model": "lenet5", "path": "seed"}'


def test_writing_back_gives_the_migrated_record(tmp_path: Path) -> None:
    record = RunRecord.from_json(FIXTURE)
    assert record.to_dict() == migrate(raw(), "fixture")
    (tmp_path / "again.json").write_text(record.to_json())
    again = RunRecord.from_json(tmp_path / "again.json")
    assert again == record and again.to_dict() == record.to_dict()


def v2_record() -> dict:
    """A CONSTRUCTED v2 record: the fixture migrated, interrupted, with GPU times, digests and sources."""
    data = copy.deepcopy(migrate(raw(), "fixture"))
    source = {"target": "workloads", "kind": "entry point", "workloads": ["mm", "rowwise"]}
    data["bench"].update(partial=True, interrupted_by="SIGINT", sources=[source])
    info = data["benchmarks"][MM]["extra_info"]
    info["device_time"] = {"per_round_s": [1e-6, 2e-6, 3e-6], "median_s": 2e-6, "iqr_s": 1e-6}
    info["rates"].update(basis="cuda_event", median_s=2e-6)
    info["result_sha256"], info["cuda_max_memory_allocated"] = "0" * 64, 1024
    return data


def test_a_v2_record_round_trips() -> None:
    data = v2_record()
    record = RunRecord.from_dict(data, "v2")
    assert record.to_dict() == data
    assert RunRecord.from_dict(record.to_dict(), "again") == record
    mm = record.cases[MM]
    assert mm.timing == mm.timing.__class__(2e-6, 1e-6, [1e-6, 2e-6, 3e-6], "cuda_event")
    assert record.bench_section()["interrupted_by"] == "SIGINT" and "interrupted_by" not in migrate(raw(), "")["bench"]


def test_a_result_made_without_pytest_is_written_as_a_pytest_benchmark_entry() -> None:
    stats = {"data": [1e-6, 3e-6], "median": 2e-6, "iqr": 1e-6, "rounds": 2}
    case = CaseResult(
        id="mm/n=8/op=mm/float32", workload="mm", params={"n": 8, "op": "mm"}, variants=["op"], stats=stats
    )
    entry = case.to_dict()
    assert entry["name"] == entry["param"] == case.id and entry["extra_info"]["variants"] == ["op"]
    assert entry["extra_info"]["result_sha256"] is None and "rates" not in entry["extra_info"]
    (read,) = RunRecord.from_dict(RunRecord(cases=[case]).to_dict(), "made").cases
    assert read.id == case.id and read.variant == '{"op": "mm"}' and read.timing.samples == stats["data"]


def test_a_plain_pytest_benchmark_file_is_read(tmp_path: Path) -> None:
    data = raw()
    del data["bench"]
    for entry in data["benchmarks"]:
        del entry["extra_info"]
    record = RunRecord.from_json(written(tmp_path / "plain.json", data))
    mm = record.cases[MM]
    assert mm.workload == data["benchmarks"][MM]["name"] and mm.family is None and mm.dtype is None
    assert mm.timing.median_s == data["benchmarks"][MM]["stats"]["median"] and mm.timing.basis == "host"
    assert record.context == {} and record.failed == []


def test_pytest_benchmark_compare_reads_what_we_write(tmp_path: Path) -> None:
    record = RunRecord.from_json(FIXTURE)
    first, second = tmp_path / "0001_first.json", tmp_path / "0002_second.json"
    for path in (first, second):
        path.write_text(record.to_json())
    done = run_python(
        "-c",
        "from pytest_benchmark.cli import main; main()",
        "compare",
        str(first),
        str(second),
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(f"test_workload[{case.id}]" in done.stdout for case in record.cases)


def _entry(index: int) -> Callable[[dict], dict]:
    return lambda data: data["benchmarks"][index]


def _info(index: int) -> Callable[[dict], dict]:
    return lambda data: data["benchmarks"][index]["extra_info"]


MM_CASE = "benchmark 10 (mm/n=64/op=mm/float32)"
TRAINING_CASE = f"benchmark 0 ({raw()['benchmarks'][TRAINING]['param']})"
BAD_FIELDS = {
    "extra_info a list": (_entry(MM), "extra_info", [], f"{MM_CASE}: extra_info must be a JSON object, got []"),
    "median a string": (
        lambda d: _info(MM)(d)["rates"],
        "median_s",
        "x",
        f"{MM_CASE}: extra_info.rates.median_s must be a number >= 0, got 'x'",
    ),
    "gflops infinite": (
        lambda d: _info(MM)(d)["rates"],
        "gflops",
        float("inf"),
        f"{MM_CASE}: extra_info.rates.gflops must be a number >= 0, got inf",
    ),
    "params a list": (
        _info(MM),
        "params",
        [64, "mm"],
        f"{MM_CASE}: extra_info.params must be a JSON object, got [64, 'mm']",
    ),
    "device time with NaN": (
        _info(MM),
        "device_time",
        {"per_round_s": [1e-6, float("nan")]},
        f"{MM_CASE}: extra_info.device_time.per_round_s must be a list of numbers > 0, got [1e-06, nan]",
    ),
    "metrics not an object": (
        _info(MM),
        "metrics",
        "fast",
        f"{MM_CASE}: extra_info.metrics must be a JSON object, got 'fast'",
    ),
    "tags not strings": (
        _info(MM),
        "tags",
        ["matrix", 3],
        f"{MM_CASE}: extra_info.tags must be a list of one-line printable strings, got ['matrix', 3]",
    ),
    "rounds negative": (
        lambda d: _info(MM)(d)["plan"],
        "rounds",
        -1,
        f"{MM_CASE}: extra_info.plan.rounds must be an integer >= 0, got -1",
    ),
    "seed a float": (_info(MM), "seed", 0.5, f"{MM_CASE}: extra_info.seed must be an integer >= 0, got 0.5"),
    "work without items": (
        _info(MM),
        "work",
        {"flops": 1.0},
        f"{MM_CASE}: extra_info.work.items must be a number >= 0, got None",
    ),
    "stats median negative": (
        lambda d: _entry(MM)(d)["stats"],
        "median",
        -1.0,
        f"{MM_CASE}: stats.median must be a number >= 0, got -1.0",
    ),
    "param not a string": (_entry(MM), "param", 7, "benchmark 10: param must be a one-line printable string, got 7"),
    "accuracy above 1": (
        lambda d: _info(TRAINING)(d)["metrics"],
        "final_test_accuracy",
        1.5,
        f"{TRAINING_CASE}: extra_info.metrics.final_test_accuracy must be a number in [0, 1], got 1.5",
    ),
    "training without its model": (
        lambda d: _info(TRAINING)(d)["metrics"],
        "model",
        None,
        f"{TRAINING_CASE}: extra_info.metrics.model must be a one-line printable string, got None",
    ),
    "epoch accuracy a string": (
        lambda d: _info(TRAINING)(d)["metrics"]["epochs"][0],
        "test_accuracy",
        "high",
        f"{TRAINING_CASE}: extra_info.metrics.epochs[0].test_accuracy must be a number in [0, 1], got 'high'",
    ),
    "epoch without its number": (  # the fuzz's find: the training curves plot it
        lambda d: _info(TRAINING)(d)["metrics"]["epochs"][0],
        "epoch",
        None,
        f"{TRAINING_CASE}: extra_info.metrics.epochs[0].epoch must be an integer >= 0, got None",
    ),
    "failed not a list": (lambda d: d["bench"], "failed", 3, "bench.failed must be a list of JSON objects, got 3"),
    "failure without reason": (
        lambda d: d["bench"],
        "failed",
        [{"id": "mm/n=64/op=mm/float32"}],
        "bench.failed[0].error must be a string, got None",
    ),
    "partial a string": (lambda d: d["bench"], "partial", "yes", "bench.partial must be true or false, got 'yes'"),
    "seed in context a string": (
        lambda d: d["bench"]["context"],
        "seed",
        "0",
        "bench.context.seed must be an integer >= 0, got '0'",
    ),
    "gpu without a name": (
        lambda d: d["machine_info"],
        "gpus",
        [{"index": 0}],
        "machine_info.gpus[0].name must be a one-line printable string, got None",
    ),
    "torch version a number": (
        lambda d: d["machine_info"]["torch"],
        "version",
        2.14,
        "machine_info.torch.version must be a one-line printable string, got 2.14",
    ),
    "commit dirty a string": (
        lambda d: d["commit_info"],
        "dirty",
        "no",
        "commit_info.dirty must be true or false, got 'no'",
    ),
    # found while fuzzing the readers (tests/test_record_fuzz.py): each made show, compare, report or
    # history print a traceback, or an error on two lines
    "v1 workload a list": (
        _info(MM),
        "workload",
        [],
        f"{MM_CASE}: extra_info.workload must be a one-line printable string, got []",
    ),
    "accuracy null": (
        lambda d: _info(TRAINING)(d)["metrics"],
        "final_test_accuracy",
        None,
        f"{TRAINING_CASE}: extra_info.metrics.final_test_accuracy must be a number in [0, 1], got None",
    ),
    "a round of no time": (
        lambda d: _entry(MM)(d)["stats"],
        "data",
        [1e-5, 0.0],
        f"{MM_CASE}: stats.data must be a list of numbers > 0, got [1e-05, 0.0]",
    ),
    "family with a NUL": (
        _info(MM),
        "family",
        "mat\x00rix",
        f"{MM_CASE}: extra_info.family must be a one-line printable string, got 'mat\\x00rix'",
    ),
    "case id on two lines": (
        _entry(MM),
        "param",
        "mm\nbenchmark 3 (forged)",
        "benchmark 10: param must be a one-line printable string, got 'mm\\nbenchmark 3 (forged)'",
    ),
    "median of 400 digits": (
        lambda d: _entry(MM)(d)["stats"],
        "median",
        10**400,
        f"{MM_CASE}: stats.median must be a number >= 0, got {reprlib.repr(10**400)}",
    ),
}


@pytest.mark.parametrize(("where", "name", "value", "message"), BAD_FIELDS.values(), ids=BAD_FIELDS.keys())
def test_a_field_of_the_wrong_type_is_one_line_naming_it(
    tmp_path: Path, where: Callable[[dict], dict], name: str, value: object, message: str
) -> None:
    data = raw()
    where(data)[name] = value
    file = written(tmp_path / "benchmark.json", data)
    with pytest.raises(UsageError) as caught:
        RunRecord.from_json(tmp_path)
    assert str(caught.value) == f"{file}: {message}"


def test_a_schema_of_its_own_for_one_result_is_refused() -> None:
    data = v2_record()
    data["benchmarks"][MM]["extra_info"]["schema"] = 1
    with pytest.raises(UsageError, match=r"^v2: benchmark 10 \(mm/n=64/op=mm/float32\): extra_info.schema must be 2"):
        RunRecord.from_dict(data, "v2")


@pytest.mark.parametrize("schema", [3, 99, 0, "2", True])
def test_a_schema_this_version_does_not_know_is_refused(tmp_path: Path, schema: object) -> None:
    data = raw()
    data["bench"]["schema"] = schema
    file = written(tmp_path / "future.json", data)
    with pytest.raises(UsageError) as caught:
        RunRecord.from_json(file)
    assert str(caught.value) == f"{file}: record schema {schema!r}, this version reads 2 (upgrading 1)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("machine_info"), "not a pytest-benchmark JSON file (no 'benchmarks' list or 'machine_info')"),
        (lambda d: d.update(bench=[]), "'machine_info' and 'bench' must be JSON objects"),
        (
            lambda d: d["benchmarks"][3]["stats"].update(data=[1.0, -1.0]),
            "benchmark 3 has no valid 'stats' (per-round times must be numbers >= 0)",
        ),
        (lambda d: d["benchmarks"][3].pop("stats"), "benchmark 3 has no valid 'stats'"),
    ],
)
def test_the_shape_errors_of_before_are_kept(tmp_path: Path, change: Callable[[dict], object], message: str) -> None:
    data = raw()
    change(data)
    file = written(tmp_path / "bad.json", data)
    with pytest.raises(UsageError, match=f"^{file}: {message}".replace("(", r"\(").replace(")", r"\)")):
        RunRecord.from_json(file)


def test_migrating_leaves_the_raw_record_as_it_was() -> None:
    data = raw()
    RunRecord.from_dict(data, "fixture")
    assert data == raw()


def test_the_record_layer_imports_neither_torch_nor_the_registry() -> None:
    code = (
        "import sys, bench.record, bench.summary; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'pytest', 'workloads')"
        " or m in ('bench.registry', 'bench.plugins')))"
    )
    done = run_python("-c", code, cwd=ROOT, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_report_and_compare_work_where_torch_cannot_be_imported(tmp_path: Path) -> None:
    """A stub ``torch`` package that refuses to import, first on the path: the record commands still work."""
    stub = tmp_path / "stub" / "torch"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text('raise ImportError("torch is not installed here (a test stub)")\n')
    run = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    again = Path(shutil.copytree(FIXTURE, tmp_path / "again"))
    env = {"PYTHONPATH": os.pathsep.join([str(stub.parent), str(ROOT)])}
    for argv in (["report", str(run), "--out", str(tmp_path / "report")], ["compare", str(run), str(again)]):
        done = run_python("-m", "bench", *argv, cwd=tmp_path, env=env, timeout=300)
        assert done.returncode == 0, f"{argv[0]}: {done.stderr[-2000:]}"
    assert (tmp_path / "report" / "report.md").exists()


# -- commands fed records the fuzz (tests/test_record_fuzz.py) found them failing on -----------------


def run_folder(folder: Path, data: dict) -> Path:
    folder.mkdir()
    written(folder / "benchmark.json", data)
    return folder


def bench(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str]:
    """``python -m bench argv…`` in this process: its exit code, and stdout and stderr together."""
    code = main([str(arg) for arg in argv])
    out, err = capsys.readouterr()
    return code, out + err


def test_compare_sorts_a_ratio_that_underflowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Rounds of 5e-324 s against rounds of 2 s: the ratio of medians is 0.0, whose log failed."""
    slow, fast = raw(), raw()
    _entry(MM)(slow)["stats"]["data"], _entry(MM)(fast)["stats"]["data"] = [2.0] * 5, [5e-324] * 5
    baseline, current = run_folder(tmp_path / "baseline", slow), run_folder(tmp_path / "current", fast)
    code, printed = bench(capsys, "compare", baseline, current)
    row = "| `mm[mm]` | 2 s | 4.94e-315 ns | 0.000 [0.000, 0.000] | faster |"
    assert code == 0 and row in printed, printed


def test_a_time_written_as_a_huge_integer_is_appended_as_a_float(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite refused an integer median past 2**63 with a traceback."""
    data = raw()
    _info(MM)(data)["rates"]["median_s"] = 2**70
    store = tmp_path / "history.sqlite"
    code, printed = bench(capsys, "history", "append", run_folder(tmp_path / "run", data), "--db", store)
    assert code == 0, printed
    with sqlite3.connect(store) as connection:
        (median,) = connection.execute(
            "SELECT median_s FROM results WHERE case_id = 'mm/n=64/op=mm/float32'"
        ).fetchone()
    connection.close()
    assert median == float(2**70)


def test_names_with_dollar_signs_are_drawn_as_they_are(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two '$' in a family or a case id made matplotlib parse it as mathtext, and fail to draw it."""
    data = raw()
    _info(MM)(data)["family"] = r"$\bad$"
    _entry(MM)(data)["param"] = r"mm $\frac$ 64"
    run, store = run_folder(tmp_path / "run", data), tmp_path / "history.sqlite"
    assert bench(capsys, "history", "append", run, "--db", store)[0] == 0
    code, printed = bench(capsys, "report", run, "--out", tmp_path / "report", "--history", store)
    assert code == 0 and (tmp_path / "report" / "timings___bad_.png").is_file(), printed
    code, printed = bench(capsys, "history", "plot", "--db", store, "--out", tmp_path / "trends")
    assert code == 0 and (tmp_path / "trends" / "trend_mm.png").is_file(), printed


def test_a_family_that_is_no_file_name_still_gets_its_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A family with a '/' (or longer than a file name may be) stopped the report: 'cannot write'."""
    data = raw()
    _info(MM)(data)["family"] = "vision/detection"
    _info(MM + 1)(data)["family"] = "x" * 300
    code, printed = bench(capsys, "report", run_folder(tmp_path / "run", data), "--out", tmp_path / "report")
    assert code == 0, printed
    assert {"timings_vision_detection.png", f"timings_{'x' * 100}.png"} <= {
        p.name for p in (tmp_path / "report").iterdir()
    }


def test_a_report_of_plain_pytest_benchmark_files_has_no_rates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without our extra_info no result has a rate: the timings table formatted None, a traceback."""
    data = raw()
    del data["bench"]
    for entry in data["benchmarks"]:
        del entry["extra_info"]
    code, printed = bench(capsys, "report", run_folder(tmp_path / "run", data), "--out", tmp_path / "report")
    assert code == 0, printed
    assert "| mm[op=mm] |  | 0.009453 ms | 6.7% | - |  | run |" in (tmp_path / "report" / "report.md").read_text()


@pytest.mark.parametrize(
    "content", ["{oops", "[1]", '{"timeline": [{"t": "soon"}]}', '{"timeline": [{"t": 0, "util": NaN}]}']
)
def test_a_malformed_telemetry_file_beside_a_record_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    """The GPU timelines of a report were drawn from the run's side files read unchecked: a traceback."""
    run = Path(shutil.copytree(FIXTURE, tmp_path / "run"))
    telemetry = run / "artifacts" / "telemetry"
    telemetry.mkdir(parents=True)
    (telemetry / "mm.json").write_text(content)
    code, printed = bench(capsys, "report", run, "--out", tmp_path / "report")
    assert code == 2 and len(printed.splitlines()) == 1 and f"{telemetry / 'mm.json'}: " in printed, printed
    assert not (tmp_path / "report").exists()
