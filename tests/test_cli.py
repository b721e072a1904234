"""The CLI as a user drives it: listing, and one clear line with a documented exit code for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from processes import run_python

from bench.cli import main

NO_GPU = not torch.cuda.is_available()


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


BAD_INPUTS = [
    (["run", "--workload", "nope"], 2, "unknown workload 'nope'"),
    (["run", "--family", "nope"], 2, "unknown family 'nope'"),
    (["run", "--tag", "nope"], 2, "unknown tag 'nope'"),
    (["run", "--size", "huge"], 2, "unknown size 'huge'"),
    (["run", "--device", "tpu"], 2, "unknown device 'tpu'"),
    (["run", "--device", "meta"], 2, "unsupported device 'meta'"),
    (["run", "--workload", "mm", "--dtype", "float16"], 2, "float16 is not supported on cpu"),
    (["run", "--dtype", "float8"], 2, "unknown dtype 'float8'"),
    (["run", "--workload", "mm", "--param", "n=abc"], 2, "parameter n expects an integer"),
    (["run", "--workload", "mm", "--param", "n=-3"], 2, "parameter n must be >= 1"),
    (["run", "--workload", "mm", "--param", "depth=3"], 2, "no selected workload has a parameter 'depth'"),
    (["run", "--seed", "-1"], 2, "--seed must be >= 0"),
    (["run", "--seed", "one"], 2, "--seed expects an integer"),
    (["run", "--threads", "0"], 2, "--threads must be >= 1"),
    (["run", "--max-time", "soon"], 2, "--max-time expects a number"),
    (["run", "--determinism", "maybe"], 2, "unknown determinism mode 'maybe'"),
    (["list", "--family", "nope"], 2, "unknown family 'nope'"),
    (["list", "--cases", "huge"], 2, "unknown size 'huge'"),
    (["show", "/nonexistent/run"], 2, "no such file"),
    (["overhead", "--n", "-5"], 2, "value must be >= 1, got -5"),
    (["overhead", "--repeats", "many"], 2, "value expects an integer, got 'many'"),
    (["overhead", "--device", "tpu"], 2, "unknown device 'tpu'"),
    (["frobnicate"], 2, "invalid choice"),
    ([], 2, "required"),
]
if NO_GPU:
    BAD_INPUTS.append((["run", "--device", "cuda"], 3, "no CUDA GPU is available"))


@pytest.mark.parametrize(
    ("argv", "code", "message"), BAD_INPUTS, ids=[" ".join(a) or "nothing" for a, _, _ in BAD_INPUTS]
)
def test_bad_input_gives_one_line_and_its_exit_code(capsys, tmp_path, argv, code, message) -> None:
    if argv[:1] == ["run"]:
        argv = [*argv, "--out", str(tmp_path / "runs")]
    got, out, err = run_main(capsys, *argv)
    assert got == code
    assert len(err.strip().splitlines()) == 1, err
    assert message in err
    assert "Traceback" not in err + out
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir()), "no run folder for bad input"


MACHINE = '"machine_info": {}'
BAD_RECORDS = [
    ("{not json", "not valid JSON"),
    ('{"hello": 1}', "not a pytest-benchmark JSON file"),
    ("", "not valid JSON"),
    ("[" * 100_000, "JSON nested too deeply"),
    (b"\xff\xfe binary", "not UTF-8 text"),
    ('{"benchmarks": [{"stats": {"data": ["1"]}}], ' + MACHINE + "}", "per-round times must be numbers"),
    ('{"benchmarks": [{"stats": {"data": [-1.0]}}], ' + MACHINE + "}", "per-round times must be numbers"),
    ('{"benchmarks": [7], ' + MACHINE + "}", "benchmark 0 has no valid 'stats'"),
    ('{"benchmarks": [], "bench": {"schema": 99}, ' + MACHINE + "}", "record schema 99"),
    ('{"benchmarks": [], "machine_info": []}', "'machine_info' and 'bench' must be JSON objects"),
]


@pytest.mark.parametrize(("content", "message"), BAD_RECORDS, ids=[m for _, m in BAD_RECORDS])
def test_show_refuses_bad_files(capsys, tmp_path: Path, content: str | bytes, message: str) -> None:
    bad = tmp_path / "benchmark.json"
    bad.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = bad.read_bytes()
    code, _, err = run_main(capsys, "show", str(tmp_path))
    assert code == 2 and message in err and str(bad) in err and len(err.splitlines()) == 1
    assert bad.read_bytes() == before


def test_a_huge_file_is_refused_before_it_is_read(capsys, tmp_path: Path) -> None:
    huge = tmp_path / "benchmark.json"
    with huge.open("wb") as f:  # sparse: 300 MB long, nothing written
        f.truncate(300 * 2**20)
    for command in (["show", str(tmp_path)], ["compare", str(huge), str(huge)], ["report", str(huge)]):
        code, _, err = run_main(capsys, *command)
        assert code == 2 and "300 MB, more than any run record" in err and len(err.splitlines()) == 1


def test_unwritable_results_folder(capsys, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run_main(capsys, "run", "--quick", "--workload", "mm", "--out", str(blocker / "runs"))
    assert code == 2 and "cannot create results folder" in err and len(err.splitlines()) == 1
    assert blocker.read_text() == "not a folder"


def test_a_real_process_prints_no_traceback(tmp_path: Path) -> None:
    done = run_python("-m", "bench", "run", "--workload", "mm", "--param", "n=-1", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == "bench: error: parameter n must be >= 1, got -1"
    assert not (tmp_path / "results").exists()


def test_pytest_entry_point_refuses_bad_options_in_one_line(tmp_path: Path) -> None:
    suite = Path(__file__).parents[1] / "bench" / "suite"
    done = run_python("-m", "pytest", str(suite), "-p", "no:cacheprovider", "--bench-workload=nope", cwd=tmp_path)
    assert done.returncode == 4  # pytest's usage-error code
    assert "unknown workload 'nope'" in done.stderr and "Traceback" not in done.stderr + done.stdout


def test_no_case_matching_k_leaves_no_run_behind(capsys, tmp_path: Path) -> None:
    code, _, err = run_main(capsys, "run", "--quick", "--workload", "mm", "-k", "no_such_case", "--out", str(tmp_path))
    assert code == 2 and "no case matched" in err
    assert list(tmp_path.iterdir()) == []


def test_a_run_folder_holds_exactly_its_three_files(tmp_path: Path) -> None:
    """Also shows the bad-input tests above watch the folder where runs really go."""
    done = run_python("-m", "bench", "run", "--quick", "--workload", "diagonal", "--out", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (run_dir,) = tmp_path.iterdir()
    assert sorted(p.name for p in run_dir.iterdir()) == ["benchmark.json", "command.json", "environment.json"]
    assert json.loads((run_dir / "benchmark.json").read_text())["benchmarks"]
