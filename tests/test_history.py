"""The history store: appends, trends and steps, bad stores, and a process killed mid-append."""

from __future__ import annotations

import copy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import ROOT

from bench import history
from bench.cli import main
from bench.compare import Thresholds
from bench.errors import UsageError
from bench.report import build

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"


def later_run(tmp_path: Path, name: str, commit: str, factor: float = 1.0, hours: int = 1) -> Path:
    """A CONSTRUCTED run: the recorded one at a later time and commit, ``mm`` times scaled by ``factor``."""
    data = json.loads((FIXTURE / "benchmark.json").read_text())
    data["datetime"] = data["datetime"].replace("T10:", f"T{10 + hours:02d}:")
    data["commit_info"] = {"id": commit, "dirty": False, "branch": "main", "time": None}
    for bench in data["benchmarks"]:
        if bench["extra_info"]["workload"] == "mm":
            bench["stats"]["data"] = [t * factor for t in bench["stats"]["data"]]
            bench["extra_info"]["rates"]["median_s"] *= factor
    folder = tmp_path / name
    folder.mkdir()
    (folder / "benchmark.json").write_text(json.dumps(data))
    return folder


def test_append_keeps_every_result_once(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    assert "12 results appended" in history.append(store, FIXTURE)
    assert "already in" in history.append(store, FIXTURE)
    frame = history.load(store)
    assert len(frame) == 12 and frame.run_id.unique().tolist() == ["cpu-smoke"]
    assert all(len(s) == n for s, n in zip(frame.samples, frame.rounds, strict=True))


def test_trends_mark_a_step_and_only_that_step(tmp_path: Path) -> None:
    store = tmp_path / "history.sqlite"
    runs = [FIXTURE, later_run(tmp_path, "b", "b" * 40, 1.0, 1), later_run(tmp_path, "c", "c" * 40, 1.6, 2)]
    for run in runs:
        history.append(store, run)
    frame = history.load(store)
    found = history.steps(frame, Thresholds.parse([]))
    assert {(s.case_id, s.label, s.before, s.after, s.verdict) for s in found} == {
        ("mm/n=64/op=matmul/float32", "mm[op=matmul]", "bbbbbbbb", "cccccccc", "slower"),
        ("mm/n=64/op=mm/float32", "mm[op=mm]", "bbbbbbbb", "cccccccc", "slower"),
    }
    (tmp_path / "plots").mkdir()
    images = history.plot(frame, found, tmp_path / "plots")
    assert {p.name for p in images} == {"trend_mm.png", "trend_rowwise.png", "trend_cifar_train.png"}
    assert all(p.stat().st_size > 5_000 for p in images)

    report = build([FIXTURE], tmp_path / "report", store=store).read_text()
    assert "Trends over commits" in report and "SLOWER mm[op=mm]: bbbbbbbb -> cccccccc" in report
    assert "![trend_mm](trend_mm.png)" in report


def test_history_cli_appends_and_plots(capsys, tmp_path: Path) -> None:
    store, out = tmp_path / "h.sqlite", tmp_path / "plots"
    assert main(["history", "append", str(FIXTURE), "--db", str(store)]) == 0
    assert main(["history", "--db", str(store), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "no step change" in printed and "3 trend plots" in printed and (out / "trend_mm.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["history", "--db", "{tmp}/none.sqlite"], "no history store here"),
        (["history", "--db", "{tmp}/garbage.sqlite"], "not a usable history store"),
        (["history", "--db", "{tmp}"], "a folder, not a history store"),
        (["history", "append", "--db", "{tmp}/h.sqlite"], "name the run folders"),
        (["history", "append", "{tmp}/missing", "--db", "{tmp}/h.sqlite"], "no such file"),
        (["history", "plot", "{tmp}/x"], "takes no runs"),
    ],
)
def test_bad_history_input_is_one_line_and_exit_2(capsys, tmp_path: Path, argv: list[str], message: str) -> None:
    (tmp_path / "garbage.sqlite").write_bytes(b"this is not a database" * 100)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    code = main([a.format(tmp=tmp_path) for a in argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_a_store_of_another_schema_version_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "h.sqlite"
    history.append(store, FIXTURE)
    with sqlite3.connect(store) as connection:
        connection.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    with pytest.raises(UsageError, match="history schema 99"):
        history.load(store)


BIG_RUNS = 3


def big_record(path: Path, index: int) -> Path:
    """A large run (thousands of results, long sample lists), so an append's transaction takes a while."""
    data = json.loads((FIXTURE / "benchmark.json").read_text())
    template = next(b for b in data["benchmarks"] if b["extra_info"]["workload"] == "mm")
    benchmarks = []
    for n in range(3000):
        bench = copy.deepcopy(template)
        bench["param"] = f"mm/n={n}/run={index}/float32"
        bench["stats"]["data"] = [1e-5 + n * 1e-9] * 400
        benchmarks.append(bench)
    data["benchmarks"] = benchmarks
    data["datetime"] = f"2026-11-27T1{index}:00:00+00:00"
    folder = path / f"big-{index}"
    folder.mkdir()
    (folder / "benchmark.json").write_text(json.dumps(data))
    return folder


@pytest.mark.slow
def test_a_process_killed_mid_append_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    """SIGKILL lands while the append's transaction is open (its rollback journal exists); the
    store then opens clean, holds exactly the runs appended before, and takes the next append."""
    store = tmp_path / "history.sqlite"
    history.append(store, FIXTURE)
    journal = Path(f"{store}-journal")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for index in range(BIG_RUNS):
        run = big_record(tmp_path, index)
        child = subprocess.Popen(
            [sys.executable, "-m", "bench", "history", "append", str(run), "--db", str(store)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while not journal.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.0005)
        assert journal.exists(), "the append finished before it could be caught mid-transaction"
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert child.returncode == -signal.SIGKILL
        with sqlite3.connect(store) as connection:  # opening rolls the hot journal back
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            assert connection.execute("SELECT run_id FROM runs").fetchall() == [("cpu-smoke",)]
            assert connection.execute("SELECT COUNT(*) FROM results").fetchone() == (12,)
    assert "3000 results appended" in history.append(store, run)
    assert len(history.load(store)) == 12 + 3000


TRIALS = int(os.environ.get("BENCH_TEST_TRIALS", "12"))  # more in a soak: the race is rare
APPEND_ON_GO = """
import sys, time
from pathlib import Path
from bench.cli import main
go, store, run = (Path(a) for a in sys.argv[1:])
while not go.exists():
    time.sleep(0.0005)
sys.exit(main(["history", "--db", str(store), "append", str(run)]))
"""


@pytest.mark.slow
def test_two_appends_that_create_the_store_at_the_same_moment_both_land(tmp_path: Path) -> None:
    """Released together on a store that does not exist yet: neither may lose its run or delete the
    other's store (before the store was made atomically, one could delete the store it had lost)."""
    runs = []
    for name in ("a", "b"):
        data = json.loads((FIXTURE / "benchmark.json").read_text())
        data["datetime"] = f"2026-11-30T00:00:0{len(runs)}"  # two different records
        (tmp_path / name).mkdir()
        (tmp_path / name / "benchmark.json").write_text(json.dumps(data))
        runs.append(tmp_path / name)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for trial in range(TRIALS):
        store, go = tmp_path / f"store-{trial}.sqlite", tmp_path / f"go-{trial}"
        pair = [
            subprocess.Popen(
                [sys.executable, "-c", APPEND_ON_GO, str(go), str(store), str(run)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for run in runs
        ]
        time.sleep(0.6)  # both have imported and wait for the word
        go.touch()
        outcomes = [(process.wait(timeout=120), process.communicate()) for process in pair]
        assert all(code == 0 for code, _ in outcomes), (trial, outcomes)
        with sqlite3.connect(store) as connection:
            assert connection.execute("SELECT count(*) FROM runs").fetchone() == (2,), trial
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        connection.close()
    assert not list(tmp_path.glob(".store-*")), "no temporary store left behind"
