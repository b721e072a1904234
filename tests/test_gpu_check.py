"""The prepared GPU check fails fast and clearly where there is no GPU."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).parents[1] / "scripts" / "gpu-check.sh"


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
