"""A case that fails — past its time limit, out of memory — is recorded as failed with one line,
its memory is given back, and the suite goes on to the next case."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from processes import ROOT

from bench import report

pytestmark = pytest.mark.slow  # each test runs the suite in a subprocess

MEMORY_CAP = 8 * 2**30  # address space: torch alone maps ~3.3 GB here; one 50000² float32 matrix is 10 GB


def bench_run(out: Path, *argv: str, cap: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:
        if cap:
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return subprocess.run(
        [sys.executable, "-m", "bench", "run", *argv, "--out", str(out), "--", "-q"],
        capture_output=True,
        text=True,
        cwd=out.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        preexec_fn=limit,
        timeout=600,
        check=False,
    )


def record_of(out: Path) -> tuple[Path, dict]:
    (run_dir,) = out.iterdir()
    return run_dir, json.loads((run_dir / "benchmark.json").read_text())


def test_a_case_past_its_time_limit_fails_alone(tmp_path: Path) -> None:
    """mm at n=4000 needs six or more calls of over a second each here (calibration, warm-up, three
    rounds): far past 2 s on any CPU of this kind; rowwise's smoke cases take milliseconds."""
    out = tmp_path / "runs"
    done = bench_run(
        out, "--quick", "--workload", "mm", "--workload", "rowwise", "--param", "n=4000", "--case-timeout", "2"
    )
    assert done.returncode == 1, done.stderr[-2000:]
    run_dir, record = record_of(out)
    failed = {f["id"]: f["error"] for f in record["bench"]["failed"]}
    assert set(failed) == {"mm/n=4000/op=mm/float32", "mm/n=4000/op=matmul/float32"}
    assert set(failed.values()) == {"CaseTimeout: exceeded its time limit of 2 s"}
    assert {b["extra_info"]["workload"] for b in record["benchmarks"]} == {"rowwise"}
    collection = report.collect([run_dir], skip_bad=False)
    notes = report.doubts(report.tidy(collection), [], collection.failures())
    assert any(n.startswith("2 cases FAILED") and "CaseTimeout" in n for n in notes)


def test_a_case_out_of_memory_fails_alone_under_a_memory_cap(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = bench_run(out, "--quick", "--workload", "mm", "--workload", "rowwise", "--param", "n=50000", cap=MEMORY_CAP)
    assert done.returncode == 1, done.stderr[-2000:]
    _, record = record_of(out)
    failed = record["bench"]["failed"]
    assert {f["id"] for f in failed} == {"mm/n=50000/op=mm/float32", "mm/n=50000/op=matmul/float32"}
    assert all("memory" in f["error"].lower() and "\n" not in f["error"] for f in failed), failed
    assert {b["extra_info"]["workload"] for b in record["benchmarks"]} == {"rowwise"}
