"""Writers of shared state against a second (or sixth) process doing the same at the same moment.

Each writer runs as long-lived processes released together by a word (tests/together.py), trial
after trial: the history store (created and appended to), the baseline (promoted), a report folder
(staged and moved in) and run folders (named). After every trial: nothing lost, nothing mixed,
nothing deleted, no temporary left. 200 pairs of appends take about 10 s.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from processes import ROOT

from tools.soak import snapshot

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"
WORKER = Path(__file__).parent / "together.py"


def released_together(
    action: str, tmp_path: Path, target: str, sources: list[Path], trials: int
) -> list[list[tuple[int, str]]]:
    """Run ``action`` in one process per source, all released together ``trials`` times; per trial,
    each worker's exit code and output."""
    sync = tmp_path / "sync"
    sync.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), action, str(sync), str(i), str(trials), target, str(source)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, source in enumerate(sources)
    ]
    outcomes = []
    try:
        for trial in range(trials):
            for i in range(len(workers)):
                wait_for(sync / f"ready-{trial}-{i}", workers)
            (sync / f"go-{trial}").touch()
            done = []
            for i in range(len(workers)):
                wait_for(sync / f"done-{trial}-{i}", workers)
                code, _, output = (sync / f"done-{trial}-{i}").read_text().partition("\n")
                done.append((int(code), output))
            outcomes.append(done)
    finally:
        for worker in workers:
            worker.wait(timeout=60)
    return outcomes


def wait_for(path: Path, workers: list[subprocess.Popen[str]], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        failed = [w for w in workers if w.poll() not in (None, 0)]
        if failed or time.monotonic() > deadline:
            pytest.fail(f"a worker stopped or hung before {path.name}: {failed[0].stderr.read() if failed else ''}")
        time.sleep(0.0005)


def records(tmp_path: Path, count: int) -> list[Path]:
    """``count`` different run folders (the fixture with its own time each)."""
    folders = []
    for i in range(count):
        data = json.loads((FIXTURE / "benchmark.json").read_text())
        data["datetime"] = f"2026-11-30T00:00:{i:02d}"
        folder = tmp_path / f"run-{i}"
        folder.mkdir()
        (folder / "benchmark.json").write_text(json.dumps(data))
        folders.append(folder)
    return folders


def appends(tmp_path: Path, trials: int) -> None:
    stores = tmp_path / "stores"
    stores.mkdir()
    outcomes = released_together("append", tmp_path, f"{stores}/store-{{trial}}.sqlite", records(tmp_path, 2), trials)
    for trial, done in enumerate(outcomes):
        assert all(code == 0 for code, _ in done), (trial, done)
        with sqlite3.connect(stores / f"store-{trial}.sqlite") as connection:
            assert connection.execute("SELECT count(*) FROM runs").fetchone() == (2,), trial
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        connection.close()
    assert sorted(p.name for p in stores.iterdir()) == sorted(f"store-{t}.sqlite" for t in range(trials))


@pytest.mark.slow
def test_200_pairs_of_appends_creating_the_store_lose_nothing(tmp_path: Path) -> None:
    started = time.monotonic()
    appends(tmp_path, trials=200)
    print(f"200 simultaneous pairs of appends: 0 lost, 0 deleted stores, {time.monotonic() - started:.0f} s")


def test_promotions_at_once_leave_one_whole_baseline_and_no_temporaries(tmp_path: Path) -> None:
    sources = records(tmp_path, 4)
    wholes = [snapshot(source) for source in sources]
    baseline = tmp_path / "results" / "baseline"
    outcomes = released_together("promote", tmp_path, str(baseline), sources, trials=15)
    assert all(code == 0 for done in outcomes for code, _ in done), outcomes
    assert snapshot(baseline) in wholes, "the baseline is one promoted run, whole"
    assert [p.name for p in baseline.parent.iterdir()] == ["baseline"], "no staging or retired copy left"


def test_report_folders_written_at_once_are_one_writers_files_not_a_mix(tmp_path: Path) -> None:
    out = tmp_path / "report"
    writers = [tmp_path / name for name in ("a", "b", "c", "d")]
    outcomes = released_together("stage", tmp_path, str(out), writers, trials=15)
    assert all(code == 0 for done in outcomes for code, _ in done), outcomes
    contents = {file.read_text() for file in out.iterdir()}
    assert len(contents) == 1, "every file from the same writer"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "no staging folder left"


def test_run_folders_made_at_once_are_all_different(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    outcomes = released_together("run-dir", tmp_path, str(root), [Path(str(i)) for i in range(4)], trials=15)
    names = [output.strip() for done in outcomes for code, output in done if code == 0]
    assert len(names) == 60 and len(set(names)) == 60
    assert sorted(p.name for p in root.iterdir()) == sorted(names)
