"""The CLI as a user drives it: listing, and what a run folder holds (bad input: test_bad_inputs.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from processes import run_python

from bench.cli import main


def run_main(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_list_shows_every_workload_with_family_sizes_and_devices(capsys) -> None:
    code, out, _ = run_main(capsys, "list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["name", "family", "sizes", "(cases)"]
    mm = next(line for line in lines if line.startswith("mm "))
    assert "matrix" in mm and "smoke(2)" in mm and "full(8)" in mm and "cuda:float32/bfloat16/float16" in mm


def test_list_cases_and_filters(capsys) -> None:
    code, out, _ = run_main(capsys, "list", "--family", "recurrent", "--cases", "seed")
    assert code == 0
    assert out.split() == [
        f"recurrent/seq=3/batch=2/features=4/hidden=3/layers=1/bidirectional=False/batch_first=False/cell={cell}/mode={mode}/float32"
        for cell in ("rnn", "lstm", "gru")
        for mode in ("fwd", "fwd_bwd")
    ]


@pytest.mark.slow
def test_a_run_folder_holds_exactly_its_three_files(tmp_path: Path) -> None:
    """Also shows the bad-input tests above watch the folder where runs really go."""
    done = run_python("-m", "bench", "run", "--quick", "--workload", "diagonal", "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run_dir,) = tmp_path.iterdir()
    assert sorted(p.name for p in run_dir.iterdir()) == ["benchmark.json", "command.json", "environment.json"]
    assert json.loads((run_dir / "benchmark.json").read_text())["benchmarks"]
