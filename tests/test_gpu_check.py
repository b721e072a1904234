"""The prepared GPU check fails fast and clearly where there is no GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.record import RunRecord
from tools.gpu_questions import digests

SCRIPT = Path(__file__).parents[1] / "scripts" / "gpu-check.sh"


@pytest.mark.slow
@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the script would run for real")
def test_without_a_gpu_it_stops_at_once(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path)},
    )
    assert done.returncode == 3
    assert done.stderr.strip().splitlines()[-1].startswith("gpu-check: no CUDA GPU visible to torch")
    assert list(tmp_path.iterdir()) == []


def test_without_torch_it_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHON": "/bin/false", "OUT": str(tmp_path)},
    )
    assert done.returncode == 2 and "cannot import torch" in done.stderr


def test_digests_counts_the_cases_that_computed_something_else() -> None:
    fixture = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"
    a = RunRecord.from_json(fixture)
    b = RunRecord.from_json(fixture)
    for case in (*a.cases[:3], *b.cases[:3]):  # the fixture predates digests: give three one
        case.result_sha256 = "a" * 64
    b.cases[1].result_sha256 = "b" * 64
    assert digests(a, b) == f"2 identical, 1 differ, {len(a.cases) - 3} without a digest: {b.cases[1].id}"
