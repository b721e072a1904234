"""Every GPU of a node (``--device cuda:all``): device lists, the workers and their merged record.

This machine has no GPU, so the orchestration runs with stand-in devices: each "cuda:N" worker is
a real ``bench run`` on the CPU (its command line's device swapped), and the merged record is the
real one. What only a GPU can show (the devices' own speeds, their power and thermal coupling
under ``--concurrent``) is in scripts/gpu-check.sh.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from pathlib import Path

import pytest
from processes import cases_done

from bench import devices, signals
from bench.devices import DeviceRun, Worker, expand, merge
from bench.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, DeviceUnavailable, UsageError
from bench.record import RunRecord

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke" / "benchmark.json"


def three() -> int:
    return 3


@pytest.mark.parametrize("spec", ["cpu", "cuda", "cuda:1"])
def test_one_device_is_not_a_list(spec: str) -> None:
    assert expand(spec, three) is None


def test_device_lists_are_checked_against_the_visible_gpus() -> None:
    assert expand("cuda:all", three) == ["cuda:0", "cuda:1", "cuda:2"]
    assert expand("cuda:0,cuda:2", three) == ["cuda:0", "cuda:2"]
    assert expand("cuda:2, cuda:0", three) == ["cuda:2", "cuda:0"]  # in the order given
    with pytest.raises(DeviceUnavailable, match="only 3 GPU"):
        expand("cuda:0,cuda:5", three)
    with pytest.raises(DeviceUnavailable, match="no CUDA GPU"):
        expand("cuda:all", lambda: 0)
    with pytest.raises(UsageError, match="names a device twice"):
        expand("cuda:1,cuda:1", three)
    with pytest.raises(UsageError, match="not 'cpu'"):
        expand("cuda:0,cpu", three)


def small_record(cases: int = 2) -> dict:
    """The committed real record cut to a few cases."""
    data = json.loads(FIXTURE.read_text())
    data["benchmarks"] = data["benchmarks"][:cases]
    return data


def test_merge_places_each_result_on_its_device_and_names_every_failure() -> None:
    first, second = small_record(), small_record()
    second["bench"]["failed"] = [{"id": "mm[n=8]", "error": "OutOfMemoryError: CUDA out of memory"}]
    workers = [
        ("cuda:0", first, None),
        ("cuda:1", second, None),
        ("cuda:2", None, "the worker on cuda:2 ended with exit 3: no such device"),
    ]
    merged = merge(workers, concurrent=True)
    assert merged is not None
    record = RunRecord.from_dict(merged, "merged")
    assert len(record.cases) == 4 and len({case.id for case in record.cases}) == 4
    assert len({case.key for case in record.cases}) == 4  # compare and history match per device
    for case in record.cases:
        placement = case.placement or {}
        assert case.id == f"{placement['case']}@{placement['device']}" and placement["concurrent"] is True
        assert placement["devices"] == ["cuda:0", "cuda:1", "cuda:2"]
    assert [entry["id"] for entry in record.failed] == ["mm[n=8]@cuda:1", "(every case)@cuda:2"]
    assert record.context["devices"] == ["cuda:0", "cuda:1", "cuda:2"] and record.context["concurrent"] is True
    assert merge([("cuda:0", None, "exit 2")], concurrent=False) is None


class StandIns(DeviceRun):
    """Each stand-in GPU's worker runs on the CPU; ``broken`` ones run with a bad option (exit 2, no record)."""

    broken: tuple[str, ...] = ()

    def worker_command(self, worker: Worker) -> list[str]:
        command = super().worker_command(worker)
        command[command.index(worker.device)] = "cpu"
        return [*command, "--seed", "-1"] if worker.device in self.broken else command


@pytest.mark.slow  # the stand-ins' workers: real suite runs in subprocesses
@pytest.mark.parametrize("concurrent", [False, True], ids=["one after the other", "at once"])
def test_stand_in_devices_run_into_one_record(
    tmp_path: Path, concurrent: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]))
    command = ["run", "--quick", "--workload", "mm", "--param", "n=64", "--telemetry-hz", "0", "--max-time", "0.05"]
    run = StandIns(command, [], ["cuda:0", "cuda:1", "cuda:2"], concurrent, tmp_path / "runs")
    assert run.run() == EXIT_OK
    output = capsys.readouterr().out
    record = RunRecord.from_json(run.run_dir)
    by_device = {d: [c for c in record.cases if (c.placement or {}).get("device") == d] for d in run.devices}
    assert all(len(found) == len(by_device["cuda:0"]) > 0 for found in by_device.values()), output
    assert {case.placement["concurrent"] for case in record.cases if case.placement} == {concurrent}
    assert not record.failed and record.cases_planned == 3 * len(by_device["cuda:0"])
    for worker in run.workers:  # each worker's own run folder is kept beside the merged record
        assert list(worker.folder.glob("*/benchmark.json")), worker.folder
        assert worker.log.exists() == concurrent
    assert ("done in" in output) == concurrent and ("device cuda:1 (2 of 3)" in output) != concurrent


@pytest.mark.slow
def test_a_worker_that_leaves_no_record_fails_its_device_and_the_others_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]))
    command = ["run", "--quick", "--workload", "mm", "--param", "n=64", "--telemetry-hz", "0", "--max-time", "0.05"]
    run = StandIns(command, [], ["cuda:0", "cuda:1"], True, tmp_path / "runs")
    run.broken = ("cuda:1",)
    assert run.run() == EXIT_FAILED
    record = RunRecord.from_json(run.run_dir)
    assert {case.placement["device"] for case in record.cases if case.placement} == {"cuda:0"}
    (failure,) = record.failed
    assert failure["id"] == "(every case)@cuda:1" and "exit 2" in failure["error"] and "--seed" in failure["error"]


def test_the_worker_command_is_the_users_with_its_device_and_folder_last(tmp_path: Path) -> None:
    run = DeviceRun(["run", "--device", "cuda:all", "--quick"], ["-x"], ["cuda:0", "cuda:1"], False, tmp_path)
    command = run.worker_command(run.workers[1])
    assert command[:3] == [sys.executable, "-m", "bench"]
    given, own = ["run", "--device", "cuda:all", "--quick"], ["--device", "cuda:1", "--out", str(run.workers[1].folder)]
    assert command[3:] == [*given, *own, "--", "-x"]
    assert devices.expand("cuda:1") is None  # what the worker is given names one device


@pytest.mark.slow
def test_a_signal_reaches_the_workers_and_the_merged_record_is_partial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C or SIGTERM to the parent (noted by bench.signals, as the CLI installs it): each worker
    is told and saves its partial record; the merged record is partial, exit 130."""
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]))
    command = ["run", "--quick", "--family", "matrix", "--telemetry-hz", "0", "--max-time", "0.5"]
    run = StandIns(command, [], ["cuda:0", "cuda:1"], True, tmp_path / "runs")

    def interrupt_once_cases_run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            logs = [w.log.read_text() if w.log.exists() else "" for w in run.workers]
            if all(re.search(cases_done(2), log, re.M) for log in logs):  # each worker past its first case
                signals.received.append("SIGTERM")
                return
            time.sleep(0.1)

    monkeypatch.setattr(signals, "received", [])
    interrupter = threading.Thread(target=interrupt_once_cases_run)
    interrupter.start()
    code = run.run()
    interrupter.join()
    assert code == EXIT_INTERRUPTED
    record = RunRecord.from_json(run.run_dir)
    assert record.partial and not record.failed and record.cases
    assert {case.placement["device"] for case in record.cases if case.placement} == {"cuda:0", "cuda:1"}
    assert all(worker.process is not None and worker.process.returncode == 130 for worker in run.workers)


@pytest.mark.slow
def test_when_no_worker_leaves_a_record_no_run_folder_is_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parents[1]))
    run = StandIns(["run", "--quick", "--workload", "mm"], [], ["cuda:0", "cuda:1"], True, tmp_path / "runs")
    run.broken = ("cuda:0", "cuda:1")
    with pytest.raises(
        UsageError, match="no device's worker left a record: the worker on cuda:0 ended with exit 2"
    ) as error:
        run.run()
    assert "\n" not in str(error.value) and "cuda:1 ended with exit 2" in str(error.value)
    assert list((tmp_path / "runs").iterdir()) == []
