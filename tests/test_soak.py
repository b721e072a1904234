"""The soak (``python -m tools.soak``): a short one passes for real, and its checks are not vacuous."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from processes import run_python

from bench.record import RunRecord
from tools.soak import Fate, Process, check_folder, judge_append, judge_run, left_behind, schedule, snapshot

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"
# Seed 298's three runs are interrupted or killed 3.2-3.9 s after their cases start, which take
# about 5.5 s (each timed for a fixed time): among the cases, in under a minute.
SEED = 298


@pytest.mark.slow
def test_a_short_soak_interrupts_and_kills_real_runs_and_finds_nothing_wrong(tmp_path: Path) -> None:
    assert [str(f) for f in schedule(3, SEED)] == [
        "SIGINT started+3.70s",
        "SIGTERM started+3.21s",
        "SIGKILL started+3.92s, append SIGKILL +0.18s",
    ]
    out = tmp_path / "soak"
    done = run_python(
        "-m", "tools.soak", "--runs", "3", "--seed", str(SEED), "--out", str(out), cwd=tmp_path, timeout=300
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    summary = json.loads((out / "soak.json").read_text())
    assert summary["fates"] == {"SIGINT": 1, "SIGTERM": 1, "SIGKILL": 1} and summary["violations"] == 0
    interrupted, terminated, killed = summary["runs"]
    assert all(r["delivered"] for r in summary["runs"])
    for stopped in (interrupted, terminated):  # stopped among the cases, or only noted after the last
        assert (stopped["exit"], stopped["record"]) in {(130, "partial"), (0, "complete")}
        # its finished cases appended (the soak checks they all are); on a machine busy enough, the
        # signal may land before the first case finished, and there is nothing to append
        assert stopped["append"]["rows_added"] > 0 or stopped["cases"].startswith("0/")
    assert killed["exit"] == -9


def test_the_checks_catch_a_changed_file_a_truncated_record_and_leftovers(tmp_path: Path) -> None:
    earlier = Path(shutil.copytree(FIXTURE, tmp_path / "runs" / "earlier"))
    before = snapshot(tmp_path)
    assert check_folder(tmp_path, before, snapshot(tmp_path)) == ([], [])
    (earlier / "command.json").write_text("{}")
    record = earlier / "benchmark.json"
    record.write_bytes(record.read_bytes()[:1000])  # what a non-atomic write stopped midway would leave
    (earlier / ".benchmark.json.partial").write_text("{")
    problems, temporary = check_folder(tmp_path, before, snapshot(tmp_path))
    assert "runs/earlier/command.json: changed" in problems and "runs/earlier/benchmark.json: changed" in problems
    assert any("not valid JSON" in p for p in problems)
    assert temporary == ["runs/earlier/.benchmark.json.partial"]
    assert left_behind("run", False, temporary) and not left_behind("run", True, temporary)


def test_the_judges_catch_wrong_exit_codes_tracebacks_and_half_appends() -> None:
    record = RunRecord.from_json(FIXTURE)
    sigterm = Fate("SIGTERM", "spawn", 0.4)
    assert judge_run(sigterm, Process(130, True, "", ""), "no-record", None) == []
    assert judge_run(sigterm, Process(-15, True, "", ""), "no-folder", None) == ["exit -15, expected 130"]
    late = judge_run(
        sigterm, Process(-2, True, "", "Traceback (most recent call last):\nKeyboardInterrupt\n"), "complete", record
    )
    assert late == ["exit -2, expected 0 or 1", "traceback on stderr (KeyboardInterrupt)"]
    assert judge_run(Fate(None), Process(0, False, "", ""), "partial", record)  # undisturbed, yet partial
    earlier, mine = {("run", "earlier", "sha")}, {("run", FIXTURE.name, "sha2")}
    whole = judge_append(Process(0, False, "", ""), FIXTURE, record, frozenset(earlier), frozenset(earlier), "ok")
    assert any("append exit 0 but 0 of" in p for p in whole)
    half = judge_append(Process(-9, True, "", ""), FIXTURE, record, frozenset(earlier), frozenset(mine), "ok")
    assert any("earlier rows of the store lost" in p for p in half) and any("half an append" in p for p in half)
