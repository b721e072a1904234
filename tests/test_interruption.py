"""Real signals on real runs: Ctrl-C and SIGTERM leave a valid record marked partial and exit 130;
SIGKILL leaves what was there before untouched and no half-written record."""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import ROOT, cases_done

from bench.record import RunRecord
from tools.soak import snapshot

pytestmark = pytest.mark.slow  # each test runs the suite, torchrun or nox in subprocesses

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"


def start_run(out: Path, *selection: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "run",
            *(selection or ("--family", "matrix")),
            "--max-time",
            "0.5",
            "--out",
            str(out),
            "--",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=out.parent,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def wait_for_line(run: subprocess.Popen[str], pattern: str, timeout: float = 120) -> None:
    """Until the run prints a line that ``pattern`` (a regular expression) finds."""
    deadline = time.monotonic() + timeout
    assert run.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([run.stdout], [], [], 1.0)
        if ready and re.search(pattern, run.stdout.readline()):
            return
    pytest.fail(f"the run never printed a line with {pattern!r}")


def wait_for_cases(run: subprocess.Popen[str], finished: int) -> None:
    """Until the run's progress (a line per finished case in a pipe: ``[ k/N] …``) says ``finished``
    cases are done: a signal then lands among the cases, however fast the machine."""
    wait_for_line(run, cases_done(finished))


def signalled_run(tmp_path: Path, sent: signal.Signals, after: int) -> tuple[int, str, Path]:
    """A real run beside an earlier one, sent ``sent`` once ``after`` of its cases are done: its exit
    status, its stderr and its folder; the earlier run must come through byte for byte."""
    out = tmp_path / "runs"
    out.mkdir()
    earlier = Path(shutil.copytree(FIXTURE, out / "earlier-run"))
    before = snapshot(earlier)
    run = start_run(out)
    wait_for_cases(run, after)
    run.send_signal(sent)
    _, err = run.communicate(timeout=120)
    assert snapshot(earlier) == before
    (run_dir,) = (p for p in out.iterdir() if p != earlier)
    return run.returncode, err, run_dir


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_a_stopped_run_saves_what_finished_marked_partial(tmp_path: Path, sent: signal.Signals) -> None:
    code, err, run_dir = signalled_run(tmp_path, sent, after=2)  # some cases finish, others are still to come
    assert code == 130, err[-2000:]
    assert "Traceback" not in err
    assert f"interrupted by {sent.name}; a record marked partial with the" in err
    record = RunRecord.from_json(run_dir)  # a valid record, through the same checks as any other
    assert record.partial is True and record.interrupted_by == sent.name
    assert 1 <= len(record.cases) < record.cases_planned


def test_sigkill_leaves_earlier_runs_untouched_and_no_half_record(tmp_path: Path) -> None:
    code, _, run_dir = signalled_run(tmp_path, signal.SIGKILL, after=1)
    assert code == -signal.SIGKILL
    assert not (run_dir / "benchmark.json").exists(), "a killed run must not leave a record that looks whole"
    for name in ("command.json", "environment.json"):  # written before the cases ran, atomically
        json.loads((run_dir / name).read_text())


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_starting_is_one_line_and_leaves_no_run(tmp_path: Path, sent: signal.Signals) -> None:
    """One second in, the run is still importing torch: nothing has been written yet."""
    out = tmp_path / "runs"
    run = start_run(out)
    time.sleep(1.0)
    run.send_signal(sent)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 130, err
    (line,) = err.strip().splitlines()
    assert line.startswith(f"bench: interrupted by {sent.name}") and "nothing" in line
    assert not out.exists() or list(out.iterdir()) == []


def test_a_signal_after_the_last_case_keeps_the_whole_record(tmp_path: Path) -> None:
    """Once the cases are over, SIGTERM is only noted: the record is written whole, not marked partial."""
    out = tmp_path / "runs"
    run = start_run(out, "--quick", "--workload", "diagonal")
    wait_for_line(run, re.escape("[100%]"))  # pytest's line after the last case
    time.sleep(0.1)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert "Traceback" not in err
    (run_dir,) = out.iterdir()
    record = RunRecord.from_json(run_dir)
    assert record.partial is False and len(record.cases) == record.cases_planned
    assert not list(run_dir.glob(".*")), "no temporary file left"


def bench_processes(marker: str) -> list[int]:
    """Processes whose command line names ``marker`` (a run's own --out folder)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker in cmdline.read_bytes().decode(errors="replace"):
                found.append(int(cmdline.parent.name))
        except OSError:  # gone meanwhile
            continue
    return found


@pytest.mark.parametrize("sent", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_to_nox_alone_stops_the_run_it_started_which_saves_its_record(
    tmp_path: Path, sent: signal.Signals
) -> None:
    """As a CI timeout or a scheduler sends it: to nox's process only, not to its group. nox passes it
    on as SIGTERM, and waits for the record, marked partial; no benchmark is left running."""
    pytest.importorskip("nox", reason="nox is not installed here")
    out = tmp_path / "runs"
    nox_args = ["--no-venv", "--no-install", "-f", str(ROOT / "noxfile.py"), "-s", "bench-cpu"]
    run_args = ["--family", "matrix", "--max-time", "0.5", "--out", str(out), "--", "-q"]
    nox = subprocess.Popen(
        [sys.executable, "-m", "nox", *nox_args, "--", *run_args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    wait_for_cases(nox, 2)
    nox.send_signal(sent)
    output, _ = nox.communicate(timeout=120)
    assert nox.returncode != 0, output[-2000:]
    assert bench_processes(str(out)) == [], "the benchmark outlived nox"
    (run_dir,) = out.iterdir()
    record = RunRecord.from_json(run_dir)
    assert record.partial is True and record.interrupted_by == "SIGTERM"  # nox's own, to its command
    assert 1 <= len(record.cases) < record.cases_planned
    assert "Traceback" not in output
