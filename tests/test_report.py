"""Reports from real run records: the tidy table, CPU-vs-GPU speedups, doubts, bad files.

The CPU record is tests/fixtures/runs/cpu-smoke, made by really running the suite at smoke size
(see the fixtures' README). No GPU run has been committed yet, so the CUDA records here are
CONSTRUCTED from it: device fields set to cuda and every time divided by ten. They test the
arithmetic, nothing else.
"""

from __future__ import annotations

import copy
import io
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.axes import Axes
from processes import run_python

from bench import peak_cache, report
from bench.errors import UsageError
from bench.progress import Stream
from bench.record import RunRecord

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"


@pytest.fixture
def cpu_run(tmp_path: Path) -> Path:
    """A copy of the recorded CPU run, so tests can add files beside it."""
    return Path(shutil.copytree(FIXTURE, tmp_path / "cpu-smoke"))


def constructed_cuda_record(cpu_run: Path, target: Path, factor: float = 10.0) -> Path:
    """A CONSTRUCTED record: the CPU run relabelled as a GPU run, every time divided by ``factor``."""
    record = json.loads((cpu_run / "benchmark.json").read_text())
    gpu = copy.deepcopy(record)
    gpu["machine_info"]["gpus"] = [{"index": 0, "name": "CONSTRUCTED (not measured)"}]
    for bench in gpu["benchmarks"]:
        info, stats = bench["extra_info"], bench["stats"]
        info["device"], info["device_type"] = "cuda:0", "cuda"
        info["device_time"] = {"per_round_s": [t / factor for t in stats["data"]]}
        info["rates"]["median_s"] /= factor
        info["rates"]["basis"] = "cuda_event"
    target.mkdir()
    (target / "benchmark.json").write_text(json.dumps(gpu))
    return target


def constructed_ddp_record(cpu_run: Path, target: Path) -> Path:
    """A CONSTRUCTED record: the CPU run's two trainings relabelled as cifar_ddp jobs, each on one
    rank and on two ranks at 1.6 times the images/s."""
    record = json.loads((cpu_run / "benchmark.json").read_text())
    jobs = []
    for bench in (b for b in record["benchmarks"] if b["extra_info"]["workload"] == "cifar_train"):
        for ranks, world, speed in (("one", 1, 1.0), ("all", 2, 1.6)):
            job = copy.deepcopy(bench)
            info = job["extra_info"]
            info["workload"], info["params"]["ranks"] = "cifar_ddp", ranks
            job["param"] = "/".join(["cifar_ddp", *(f"{k}={v}" for k, v in info["params"].items()), info["dtype"]])
            info["metrics"]["images_per_s"] *= speed
            info["metrics"].update(world_size=world, communication_fraction=0.1, weights_identical_across_ranks=True)
            jobs.append(job)
    record["benchmarks"] = jobs
    target.mkdir()
    (target / "benchmark.json").write_text(json.dumps(record))
    return target


def with_mm_at(cpu_run: Path, target: Path, n: int) -> Path:
    """A CONSTRUCTED record: the CPU run with its mm cases at size ``n`` (their ids to match)."""
    record = json.loads((cpu_run / "benchmark.json").read_text())
    for bench in (b for b in record["benchmarks"] if b["extra_info"]["workload"] == "mm"):
        bench["extra_info"]["params"]["n"] = n
        bench["param"] = bench["param"].replace("n=64", f"n={n}")
    target.mkdir()
    (target / "benchmark.json").write_text(json.dumps(record))
    return target


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names plots give their bars and lines, as drawn."""
    names: list[str] = []
    barh, plot = Axes.barh, Axes.plot

    def bars(self: Axes, y, *args, **kwargs):
        names.extend(y)
        return barh(self, y, *args, **kwargs)

    def lines(self: Axes, *args, **kwargs):
        names.extend([kwargs["label"]] if "label" in kwargs else [])
        return plot(self, *args, **kwargs)

    monkeypatch.setattr(Axes, "barh", bars)
    monkeypatch.setattr(Axes, "plot", lines)
    return names


def test_tidy_table_has_a_row_per_result_with_its_context(cpu_run: Path) -> None:
    table = report.tidy(report.collect([cpu_run], skip_bad=False))
    record = json.loads((cpu_run / "benchmark.json").read_text())
    assert len(table) == len(record["benchmarks"]) == 12  # mm x 2, rowwise x 8, lenet5 on two paths
    mm = table[table.workload == "mm"].iloc[0]
    assert mm.device_type == "cpu" and mm.torch.startswith("2.") and mm.family == "matrix"
    assert json.loads(mm.params)["n"] == 64 and mm.median_s > 0 and len(mm.samples) == mm.rounds
    assert (mm.case, mm.label) == ("mm/n=64/op=mm/float32", "mm[mm]")
    training = table[table.workload == "cifar_train"]
    assert set(training.data) == {"synthetic"} and training.test_accuracy.between(0, 1).all()


def test_cpu_vs_gpu_speedup_and_its_interval(cpu_run: Path, tmp_path: Path) -> None:
    gpu_run = constructed_cuda_record(cpu_run, tmp_path / "gpu")
    table = report.tidy(report.collect([cpu_run, gpu_run], skip_bad=False))
    ratios = report.speedups(table)
    assert len(ratios) == 12
    mm = ratios[ratios.workload == "mm"]
    assert len(mm) == 2
    assert mm.speedup.tolist() == pytest.approx([10.0, 10.0])
    assert (mm.low <= 10.0 + 1e-9).all() and (mm.high >= 10.0 - 1e-9).all()


def test_where_the_gpu_starts_to_win() -> None:
    """CONSTRUCTED ratios: mm at three sizes (and another op that never wins), as a report would have them."""
    rows = [
        ("mm", 256, "mm", 0.6, 0.5, 0.7),
        ("mm", 1024, "mm", 3.0, 2.5, 3.5),
        ("mm", 64, "mm", 0.1, 0.05, 0.2),
        ("mm", 256, "matmul", 0.5, 0.4, 0.6),
        ("mm", 1024, "matmul", 0.9, 0.8, 1.1),
    ]
    ratios = pd.DataFrame(
        {
            "workload": [r[0] for r in rows],
            "case": [f"mm/n={r[1]}/op={r[2]}/float32" for r in rows],
            "label": [f"mm[n={r[1]}, {r[2]}]" for r in rows],
            "params": [json.dumps({"n": r[1], "op": r[2]}) for r in rows],
            "variant": [json.dumps({"op": r[2]}) for r in rows],
            "dtype": "float32",
            "baseline_median_s": [r[1] ** 3 * 1e-9 for r in rows],  # the CPU's
            "speedup": [r[3] for r in rows],
            "low": [r[4] for r in rows],
            "high": [r[5] for r in rows],
        }
    )
    assert sorted(report.crossovers(ratios)) == [
        "mm (float32): the GPU wins (whole 95 % interval above 1) at none of the sizes measured",
        "mm (float32): the GPU wins (whole 95 % interval above 1) from mm[n=1024, mm] on",
    ]


def test_report_files_and_their_contents(cpu_run: Path, tmp_path: Path) -> None:
    gpu_run = constructed_cuda_record(cpu_run, tmp_path / "gpu")
    md = report.build([cpu_run, gpu_run], tmp_path / "report")
    text = md.read_text()
    assert "## CPU vs GPU" in text and "10.00x" in text
    assert "SYNTHETIC data" in text, "synthetic accuracies are called out"
    csv = pd.read_csv(tmp_path / "report" / "results.csv")
    assert len(csv) == 24 and set(csv.device_type) == {"cpu", "cuda"}
    page = (tmp_path / "report" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == len(list((tmp_path / "report").glob("*.png"))) >= 3
    assert (tmp_path / "report" / "speedup.png").stat().st_size > 0


def test_a_report_shows_its_steps_in_a_pipe(cpu_run: Path, tmp_path: Path) -> None:
    """Not a terminal: one plain line per finished step, with what it made, then the count."""
    gpu_run = constructed_cuda_record(cpu_run, tmp_path / "gpu")
    out = io.StringIO()
    report.build([cpu_run, gpu_run], tmp_path / "report", terminal=Stream(out))
    lines = out.getvalue().splitlines()
    families = len(pd.read_csv(tmp_path / "report" / "results.csv").family.unique())
    steps = families + 6  # tables, speedup and modes plots, timelines, training curves, the page
    assert len(lines) == steps + 1 and "\x1b" not in out.getvalue()
    assert re.match(rf"\[1/{steps}\] \d+:\d\d elapsed, ~\d+:\d\d left  ", lines[0])
    assert lines[0].endswith("tables and speedup intervals  24 results, 12 speedups, 0 modes compared")
    assert any(line.endswith("speedup plot  speedup.png") for line in lines)
    assert lines[-2].endswith("report.md, report.html  " + f"{families + 2} plots")
    assert lines[-1].startswith(f"bench: {steps} of {steps} steps ran in")


def test_tables_name_cases_by_label_and_results_csv_keeps_the_ids(cpu_run: Path, tmp_path: Path) -> None:
    gpu_run = constructed_cuda_record(cpu_run, tmp_path / "gpu")
    ddp_run = constructed_ddp_record(cpu_run, tmp_path / "ddp")
    report.build([cpu_run, gpu_run, ddp_run], tmp_path / "report")
    text, page = (tmp_path / "report" / "report.md").read_text(), (tmp_path / "report" / "report.html").read_text()
    csv = pd.read_csv(tmp_path / "report" / "results.csv")
    assert "| mm[matmul] | cpu | " in text and "| mm[matmul] | cuda | " in text  # timings
    assert "| mm[matmul] | float32 | 10.00x |" in text  # CPU vs GPU
    assert "| cifar_ddp[seed, ranks=all] | cpu | 2 | " in text and "| 0.8 | 0.1 | True |" in text  # scaling
    assert "results are noisy (IQR above 10% of the median): rowwise[sum], " in text
    assert "<td>cifar_ddp[tensor, ranks=all]</td>" in page
    ids = set(csv.case)
    assert len(ids) == 16 and "cifar_ddp/epochs=1/batch=64/lr=0.001" in " ".join(ids)
    assert not [case for case in ids if case in text or case in page], "no full id in a table"
    row = csv[(csv.case == "mm/n=64/op=matmul/float32") & (csv.device_type == "cuda")].iloc[0]
    assert row.label == "mm[matmul]" and list(csv.columns[csv.columns.get_loc("case") :][:2]) == ["case", "label"]


def test_labels_are_made_over_every_run_and_failure_of_a_report(cpu_run: Path, tmp_path: Path) -> None:
    """Alone, each run's mm cases differ only in op; together the sizes differ too, and every run says so."""
    bigger = with_mm_at(cpu_run, tmp_path / "bigger", 256)
    record = json.loads((bigger / "benchmark.json").read_text())
    record["bench"]["failed"] = [{"id": "mm/n=4000/op=mm/float32", "error": "CaseTimeout: exceeded 2 s"}]
    (bigger / "benchmark.json").write_text(json.dumps(record))
    collection = report.collect([cpu_run, bigger], skip_bad=False)
    table = report.tidy(collection)
    mm = table[table.workload == "mm"]
    assert set(zip(mm.run, mm.label, strict=True)) == {
        ("cpu-smoke", "mm[n=64, mm]"),
        ("cpu-smoke", "mm[n=64, matmul]"),
        ("bigger", "mm[n=256, mm]"),
        ("bigger", "mm[n=256, matmul]"),
    }
    assert (table.groupby("case").label.nunique() == 1).all(), "one case, one label, in every run"
    assert (table.groupby("label").case.nunique() == 1).all(), "different cases, different labels"
    rowwise = table[table.workload == "rowwise"]
    assert set(rowwise[rowwise.run == "bigger"].label) == set(rowwise[rowwise.run == "cpu-smoke"].label)
    assert collection.failures() == ["bigger: mm[n=4000, mm]: CaseTimeout: exceeded 2 s"]


def test_plots_name_bars_by_label_and_tell_runs_apart(cpu_run: Path, tmp_path: Path, drawn: list[str]) -> None:
    again = Path(shutil.copytree(cpu_run, tmp_path / "again"))
    gpu_run = constructed_cuda_record(cpu_run, tmp_path / "gpu")
    table = report.tidy(report.collect([cpu_run, again, gpu_run], skip_bad=False))
    for family, members in table.groupby("family"):
        report.timings_plot(family, members, tmp_path)
    report.speedup_plot(report.speedups(table), tmp_path)
    assert {"mm[mm] [cpu, cpu-smoke]", "mm[mm] [cpu, again]", "mm[mm] [cuda]"} <= set(drawn)  # timings
    assert drawn[-12:].count("mm[matmul]") == 1  # speedups: one bar a case
    assert not [name for name in drawn if "/" in name], "no full id on a plot"


def test_gpu_timelines_are_plotted_from_the_runs_telemetry(cpu_run: Path, tmp_path: Path, drawn: list[str]) -> None:
    """A CONSTRUCTED GPU run folder whose telemetry file has the form measure() writes."""
    gpu_run = constructed_cuda_record(cpu_run, tmp_path / "gpu")
    folder = gpu_run / "artifacts" / "telemetry"
    folder.mkdir(parents=True)
    timeline = [{"t": i / 20, "util": 90.0, "power_w": 300.0 + i} for i in range(40)]
    (folder / "mm_n=64_op=mm_float32.json").write_text(
        json.dumps({"case": "mm/n=64/op=mm/float32", "timeline": timeline})
    )
    report.build([cpu_run, gpu_run], tmp_path / "report")
    assert (tmp_path / "report" / "gpu_timelines.png").stat().st_size > 10_000
    drawn.clear()
    assert report.gpu_timelines(report.read_timelines([gpu_run]), {"mm/n=64/op=mm/float32": "mm[mm]"}, tmp_path)
    assert drawn == ["mm[mm]"], "the case by its label"
    assert "![gpu_timelines](gpu_timelines.png)" in (tmp_path / "report" / "report.md").read_text()


def test_mixed_machines_are_flagged(cpu_run: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    record = json.loads((cpu_run / "benchmark.json").read_text())
    record["machine_info"]["node"] = "another-host"
    (other / "benchmark.json").write_text(json.dumps(record))
    notes = report.doubts(report.tidy(report.collect([cpu_run, other], skip_bad=False)), [])
    assert any("2 different machines are mixed" in n for n in notes)


def test_a_bad_file_stops_the_report_unless_skipped(cpu_run: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"benchmarks": 3')
    with pytest.raises(UsageError, match=f"{bad}: not valid JSON"):
        report.collect([cpu_run, bad], skip_bad=False)
    md = report.build([cpu_run, bad], tmp_path / "report", skip_bad=True)
    assert f"skipped: {bad}: not valid JSON" in md.read_text()
    with pytest.raises(UsageError, match="no usable run record"):
        report.collect([bad], skip_bad=True)


def test_report_cli_gives_one_line_for_a_foreign_file(tmp_path: Path) -> None:
    foreign = tmp_path / "package.json"
    foreign.write_text('{"name": "left-pad"}')
    done = run_python("-m", "bench", "report", str(foreign), "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == f"bench: error: {foreign}: not a pytest-benchmark JSON file (no 'benchmarks' list or 'machine_info')"
    )
    assert not (tmp_path / "r").exists()


def test_results_are_put_beside_the_machines_measured_peak(
    cpu_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CONSTRUCTED `bench peak` result for the fixture's machine (500 GFLOP/s float32, 20 GB/s copy)
    in the cache the report reads: the mm results get their share of it and a roofline."""
    monkeypatch.setenv("BENCH_RESULTS", str(tmp_path / "results"))
    record = RunRecord.from_json(cpu_run)
    print_ = {
        "device_type": "cpu",
        "device_name": record.machine_info["cpu_model"],
        "cpu_count": record.machine_info["cpu_count"],
        "torch": record.torch_version,
    }
    peak_cache.save(
        {
            "version": peak_cache.VERSION,
            "fingerprint": print_,
            "max_n": 128,
            "matmul": {p: {"best_gflops": 500.0, "best_n": 128, "sweep": []} for p in peak_cache.PRECISIONS["cpu"]},
            "copy": {"best_gbps": 20.0, "best_mib": 256, "sweep": []},
            "measured_at": "2026-12-01T00:00:00+00:00",
            "probe_s": 1.0,
        }
    )
    report.build([cpu_run], tmp_path / "report")
    csv = pd.read_csv(tmp_path / "report" / "results.csv")
    mm = csv[csv.workload == "mm"]
    assert list(mm.pct_of_measured_peak.round(6)) == list((mm.gflops / 500 * 100).round(6))
    assert set(mm.bound) == {"memory"}, "64 x 64 products: below the ridge of 25 FLOP/byte"
    assert mm.pct_of_datasheet_peak.isna().all(), "no datasheet for a CPU"
    assert list((tmp_path / "report").glob("roofline_*float32.png"))
    assert "| 55.5 GFLOP/s | 11%, - |" in (tmp_path / "report" / "report.md").read_text()
