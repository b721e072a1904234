"""End to end: the suite run as a user runs it, and the run record it leaves.

One subprocess runs every workload's smoke cases on the CPU through
``python -m bench run --quick``; the tests below read what it wrote.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from processes import ROOT, run_python

from bench.registry import DISTRIBUTED, all_workloads

pytestmark = pytest.mark.slow  # each test runs the suite, torchrun or nox in subprocesses

REQUIRED_EXTRA = {"workload", "family", "size", "params", "dtype", "device", "seed", "determinism", "rates", "work"}


def bench(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "bench", *argv, cwd=cwd)


def only_run(out: Path) -> Path:
    (run_dir,) = out.iterdir()
    return run_dir


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("runs")
    done = bench("run", "--quick", "--data-source", "synthetic", "--out", str(out), "--", "-q", cwd=out)
    return done, only_run(out)


@pytest.fixture(scope="module")
def record(smoke_run) -> dict[str, Any]:
    return json.loads((smoke_run[1] / "benchmark.json").read_text())


def test_every_workload_runs_at_smoke_size_on_the_cpu(smoke_run, record) -> None:
    done, _ = smoke_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    jobs = {name for name, w in all_workloads().items() if DISTRIBUTED in w.tags}
    expected = {c.id for name, w in all_workloads().items() if name not in jobs for c in w.cases("smoke", "cpu")}
    assert {b["param"] for b in record["benchmarks"]} == expected
    assert {b["extra_info"]["workload"] for b in record["benchmarks"]} == set(all_workloads()) - jobs
    assert record["bench"]["cases_planned"] == len(expected) and record["bench"]["failed"] == []
    left_out = sum(len(all_workloads()[name].cases("smoke", "cpu")) for name in jobs)
    assert f"--quick leaves out the {left_out} distributed job(s)" in done.stdout


def test_each_result_carries_its_context_and_per_round_data(record) -> None:
    for result in record["benchmarks"]:
        info, stats = result["extra_info"], result["stats"]
        assert info.keys() >= REQUIRED_EXTRA, result["param"]
        assert info["device"] == "cpu" and info["size"] == "smoke" and info["seed"] == 0
        assert len(stats["data"]) == stats["rounds"] == info["plan"]["rounds"], "per-round data kept"
        assert info["rates"]["median_s"] == stats["median"] > 0
        assert info["rates"]["items_per_s"] == pytest.approx(info["work"]["items"] / stats["median"])
        if info["work"]["flops"]:
            assert info["rates"]["gflops"] > 0
        assert result["options"]["timer"].endswith("round_clock"), "timed by the synchronizing round clock"


def test_machine_info_names_versions_hardware_and_commit(record) -> None:
    machine = record["machine_info"]
    assert machine["torch"]["version"].startswith("2.")
    assert machine["packages"]["torchvision"] and machine["packages"]["pytest-benchmark"]
    assert machine["cpu_model"] and machine["torch_threads"] >= 1
    assert machine["cuda_available"] is False or machine["gpus"]
    assert "commit_info" in record
    context = record["bench"]["context"]
    assert context["seed"] == 0 and context["determinism"] == "warn" and context["deterministic_algorithms"] is True


def test_run_folder_keeps_command_and_environment(smoke_run) -> None:
    run_dir = smoke_run[1]
    command = json.loads((run_dir / "command.json").read_text())
    assert command["argv"][1:4] == ["-m", "bench", "run"] and "--quick" in command["argv"]
    environment = json.loads((run_dir / "environment.json").read_text())
    assert any(line.startswith("torch==") for line in environment["installed"])
    assert run_dir.name.endswith("-cpu-smoke")


def test_show_prints_a_table_of_the_run(smoke_run) -> None:
    done = bench("show", str(smoke_run[1]), cwd=smoke_run[1])
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert lines[0].startswith("device cpu | torch 2.")
    assert any(line.startswith("  mm[") and "FLOP/s" in line for line in lines)  # short labels


def test_seed_configurations_all_run(tmp_path: Path) -> None:
    """Every tutorial configuration but the 10-epoch trainings (test_reproduce covers those recipes)."""
    done = bench(
        "run",
        "--size",
        "seed",
        "--max-time",
        "0.01",
        "-m",
        "not training",
        "--out",
        str(tmp_path),
        "--",
        "-q",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    record = json.loads((only_run(tmp_path) / "benchmark.json").read_text())
    expected = {c.id for w in all_workloads().values() if "training" not in w.tags for c in w.cases("seed", "cpu")}
    assert {b["param"] for b in record["benchmarks"]} == expected


def test_markers_select_by_family_and_tag(tmp_path: Path) -> None:
    done = bench("run", "--quick", "-m", "linalg or recurrent", "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    record = json.loads((only_run(tmp_path) / "benchmark.json").read_text())
    assert {b["extra_info"]["workload"] for b in record["benchmarks"]} == {"linalg", "recurrent"}


def test_pytest_selects_with_k_directly(tmp_path: Path) -> None:
    out = tmp_path / "direct.json"
    done = run_python(
        "-m",
        "pytest",
        str(ROOT / "bench" / "suite"),
        "-q",
        "-p",
        "no:cacheprovider",
        "--bench-quick",
        "--bench-family=matrix",
        "-k",
        "diagonal and trace",
        f"--benchmark-json={out}",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    (result,) = json.loads(out.read_text())["benchmarks"]
    assert result["param"] == "diagonal/n=64/op=trace/float32"


def test_a_run_in_which_every_case_failed_still_leaves_its_record(tmp_path: Path) -> None:
    """Each case asks for 4 TB and fails: the record holds no timing and both failures with their reasons."""
    out = tmp_path / "runs"
    done = run_python("-m", "bench", "run", "--workload", "mm", "--param", "n=1000000", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 1, done.stderr[-2000:]
    (run_dir,) = out.iterdir()
    record = json.loads((run_dir / "benchmark.json").read_text())
    assert record["benchmarks"] == [] and not record["bench"]["partial"]
    failed = {f["id"]: f["error"] for f in record["bench"]["failed"]}
    assert set(failed) == {"mm/n=1000000/op=mm/float32", "mm/n=1000000/op=matmul/float32"}
    assert all("allocate" in error for error in failed.values()), failed
    shown = run_python("-m", "bench", "show", str(run_dir), cwd=tmp_path)
    assert shown.returncode == 0 and "2 failed" in shown.stdout


def test_pytest_refusing_its_arguments_leaves_no_run_folder(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    argv = ("run", "--workload", "mm", "--out", str(out), "--", "--no-such-pytest-option")
    done = run_python("-m", "bench", *argv, cwd=tmp_path)
    assert done.returncode == 2 and "pytest refused the arguments after --" in done.stderr.splitlines()[-1]
    assert not out.exists() or not any(out.iterdir()), "a stub folder without its record"
