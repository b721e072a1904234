"""Devices and machines side by side in a report, from real CPU runs and stand-ins made from them.

The real records: tests/fixtures/runs/cpu-smoke (the suite really run on this VM's CPU, see the
fixtures' README), and two runs of the suite made here (``mm`` at smoke size, one thread, up to
200 rounds) with different ``BENCH_NODE_LABEL`` values: two hosts of the same hardware. Everything
else is a CONSTRUCTED STAND-IN copied from the fixture and says so: a run over three "GPUs" (the
fixture's record taken as each device's worker's, one device's per-round times multiplied by 1.3:
the sick one, merged as ``bench run --device cuda:all`` merges its workers'), a mode of its own
added to it, and hosts that never existed (one with its times multiplied by 1.3, one with another
CPU model). Recorded times make the stand-ins' verdicts the same whatever loads this machine now.
They test the grouping and the arithmetic; no GPU and no second machine was measured.
"""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from processes import run_python

from bench import devices, report

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"
SICK = 1.3
KEPT = (
    "mm/",
    "cifar_train/epochs=1/batch=64/lr=0.001/train_images=512/test_images=256/target_accuracy=0.0/model=lenet5/path=seed/",
)
STAND_IN_DEVICES = ["cuda:0", "cuda:1", "cuda:2"]
TIMES = ("data", "median", "iqr", "min", "max", "mean", "q1", "q3", "stddev", "ld15iqr", "hd15iqr", "total")


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two real CPU runs, labelled node-a and node-b (the same VM: the same hardware), made at the same
    time on one thread each: half the wait, and whatever else loads the machine loads both; up to
    200 rounds a case."""

    def run(label: str) -> Path:
        out = tmp_path_factory.mktemp(label)
        done = run_python(
            *("-m", "bench", "run", "--device", "cpu", "--quick", "--workload", "mm", "--threads", "1"),
            *("--max-time", "0.5", "--out", str(out)),
            cwd=out,
            env={"BENCH_NODE_LABEL": label},
        )
        assert done.returncode == 0, done.stderr
        (folder,) = out.iterdir()
        return folder

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(run, ["node-a", "node-b"]))


def read(run: Path) -> dict[str, Any]:
    return json.loads((run / "benchmark.json").read_text())


def write(record: dict[str, Any], folder: Path) -> Path:
    folder.mkdir()
    (folder / "benchmark.json").write_text(json.dumps(record))
    return folder


def slowed(entry: dict[str, Any], factor: float) -> None:
    """A result's times (per round and every statistic of them) multiplied by ``factor``, its rates divided."""
    stats, rates = entry["stats"], entry["extra_info"]["rates"]
    for key in (k for k in TIMES if k in stats):
        stats[key] = [t * factor for t in stats[key]] if key == "data" else stats[key] * factor
    rates["median_s"] *= factor
    for key in {"items_per_s", "gflops", "gbytes_per_s"} & rates.keys():
        rates[key] /= factor


def stand_in_devices(real: dict[str, Any], target: Path, sick: str = "cuda:1") -> Path:
    """A CONSTRUCTED STAND-IN of a run over several GPUs (``--device cuda:all``, one at a time): a real
    CPU run's record taken for each stand-in device's worker (its results' device set, the ``sick``
    device's times multiplied by 1.3), merged into one record as ``bench run`` merges its workers'."""
    workers = []
    for device in STAND_IN_DEVICES:
        record = copy.deepcopy(real)
        record["machine_info"]["gpus"] = [{"index": i, "name": "STAND-IN GPU (not measured)"} for i in range(3)]
        record["bench"]["context"].update(device=device, device_type="cuda")
        for entry in record["benchmarks"]:
            entry["extra_info"].update(device=device, device_type="cuda")
            if device == sick:
                slowed(entry, SICK)
        workers.append((device, record, None))
    merged = devices.merge(workers, concurrent=False)
    assert merged is not None
    return write(merged, target)


def stand_in_host(
    run: Path, target: Path, hostname: str, machine: Path, factor: float = 1.0, cpu: str | None = None
) -> Path:
    """A CONSTRUCTED STAND-IN of another host: the real run's mm results on ``machine``'s hardware (CPU
    model and count, GPUs, torch: whatever machine runs this test), its node label dropped and its
    hostname set, its times multiplied by ``factor``, and its CPU model replaced by ``cpu`` where given."""
    record = read(run)
    record["benchmarks"] = [b for b in record["benchmarks"] if b["param"].startswith("mm/")]
    record["bench"]["context"].pop("node", None)
    record["machine_info"] = {**read(machine)["machine_info"], "hostname": hostname, "node": hostname}
    if cpu:
        record["machine_info"]["cpu_model"] = cpu
    for entry in record["benchmarks"]:
        slowed(entry, factor)
    return write(record, target)


def test_a_sick_device_among_a_runs_devices_is_flagged(tmp_path: Path) -> None:
    """The fixture's mm results and one training result, on three stand-in devices."""
    record = read(FIXTURE)
    record["benchmarks"] = [b for b in record["benchmarks"] if b["param"].startswith(KEPT)]
    gpus = stand_in_devices(record, tmp_path / "stand-in-gpus")
    table = report.tidy(report.collect([gpus], skip_bad=False))
    found = report.devices_side_by_side(table)
    assert len(found) == 3 * 3, "a row per device per case"
    assert found.groupby("case_without_device", sort=False).member.apply(list).tolist() == [STAND_IN_DEVICES] * 3
    timed = found[~found.case_without_device.str.startswith("cifar_train/")]  # mm: about 150 rounds each
    sick = timed[timed.member == "cuda:1"]
    assert len(sick) == 2 and sick.slow.all() and (sick.low > 1.1).all()
    assert sick.ratio.tolist() == pytest.approx([SICK, SICK])
    assert not found[found.member != "cuda:1"].slow.any()
    trained = found[found.case_without_device.str.startswith("cifar_train/") & (found.member == "cuda:1")].iloc[0]
    assert trained.ratio == pytest.approx(SICK) and pd.isna(trained.low) and not trained.slow, "one round: no interval"

    out = tmp_path / "report"  # with the CPU run: each device against the CPU as well
    done = run_python("-m", "bench", "report", str(FIXTURE), str(gpus), "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (out / "report.md").read_text()
    section = text.split("## Devices side by side")[1].split("\n## ")[0]
    assert "- stand-in-gpus: cuda:0, cuda:1, cuda:2, one at a time" in section
    assert "| case | device | median | peers | ratio [95 %] | flag |" in section
    assert section.count("| SLOW |") == 2 and section.count("| mm[mm] | cuda:1 | ") == 1
    assert "| cifar_train[seed] | cuda:1 | " in section and "| 1.30 [n/a: one round] |  |" in section
    doubts = text.split("## Doubts")[1].split("\n## ")[0]
    assert "2 results SLOW against the run's other devices" in doubts
    assert "mm[mm] on cuda:1 in stand-in-gpus 1.30 [" in doubts and "on cuda:0" not in doubts
    csv = pd.read_csv(out / "results.csv")
    placed = csv[csv.devices.notna()]
    assert set(csv.device) == {"cpu", *STAND_IN_DEVICES} and len(placed) == 9 and len(csv) == 12 + 9
    assert placed.case.str.endswith(tuple(STAND_IN_DEVICES)).all() and placed.case_without_device.nunique() == 3
    speedups = text.split("## CPU vs GPU")[1].split("\n## ")[0]
    assert "| case | device | dtype | speedup | 95 % interval |" in speedups
    assert "| mm[mm] | cuda:0 | float32 | 1.00x |" in speedups and "| mm[mm] | cuda:1 | float32 | 0.77x |" in speedups
    assert "| mm[mm] | cuda:1 | " in text.split("## Timings")[1], "the timings table tells the devices apart"


def test_a_failure_on_each_device_is_named_with_its_device(tmp_path: Path) -> None:
    """A CONSTRUCTED failure (mm at n=4000 past its time limit) in each stand-in device's worker: the
    merged record names it ``<case>@<device>``; the report labels the case, and says the device."""
    record = read(FIXTURE)
    record["benchmarks"] = [b for b in record["benchmarks"] if b["param"].startswith("mm/")]
    record["bench"]["failed"] = [{"id": "mm/n=4000/op=mm/float32", "error": "CaseTimeout: exceeded 2 s"}]
    collection = report.collect([stand_in_devices(record, tmp_path / "stand-in-gpus")], skip_bad=False)
    assert set(collection.labels()[0]) == {"mm[n=64, mm]", "mm[n=64, matmul]"}, "no device taken for a dtype"
    assert collection.failures() == [
        f"stand-in-gpus: mm[n=4000, mm] on {device}: CaseTimeout: exceeded 2 s" for device in STAND_IN_DEVICES
    ]


def test_each_devices_modes_are_set_against_its_own_reference(tmp_path: Path) -> None:
    """A CONSTRUCTED mode: the fixture's mm[mm] result again as amp-bf16 (the same times), on the
    stand-in devices: on each, the mode is as fast as that device's reference, the sick one's too."""
    record = read(FIXTURE)
    (reference,) = [b for b in record["benchmarks"] if b["param"] == "mm/n=64/op=mm/float32"]
    mode = copy.deepcopy(reference)
    mode["param"] = "mm/n=64/op=mm/precision=amp-bf16/float32"
    mode["extra_info"]["params"]["precision"] = "amp-bf16"
    mode["extra_info"]["execution"] = {"compile": "off", "precision": "amp-bf16", "first_call_s": 0.01}
    record["benchmarks"] = [reference, mode]
    gpus = stand_in_devices(record, tmp_path / "stand-in-gpus")
    found = report.mode_speedups(report.tidy(report.collect([gpus], skip_bad=False)))
    assert found.device.tolist() == STAND_IN_DEVICES
    assert found.speedup.tolist() == pytest.approx([1.0] * 3)


@pytest.mark.slow  # two runs of the suite
def test_a_slow_host_among_a_fleet_of_the_same_hardware_is_flagged(real_runs: list[Path], tmp_path: Path) -> None:
    """The real pair (one thread) are each other's peers. The stand-ins are copies of the fixture's
    record (two threads, recorded on a quiet machine, so that the outlier is found whatever loads this
    one now) on the real pair's hardware: the same hardware on other threads, a group of its own."""
    machine = real_runs[0]
    constructed = [
        *(
            stand_in_host(FIXTURE, tmp_path / name, name, machine)
            for name in ("stand-in-1", "stand-in-2", "stand-in-3")
        ),
        stand_in_host(FIXTURE, tmp_path / "stand-in-sick", "stand-in-sick", machine, factor=SICK),
        stand_in_host(
            FIXTURE, tmp_path / "stand-in-other", "stand-in-other", machine, cpu="STAND-IN CPU (not measured)"
        ),
    ]
    table = report.tidy(report.collect([*real_runs, *constructed], skip_bad=False))
    assert table.hardware.nunique() == 2 and table.host.nunique() == 7
    here = table[table.host == "node-a"].hardware.iloc[0]
    found = report.machines_side_by_side(table)
    members = found.groupby(["threads", "case_without_device"]).member.apply(list)
    assert (
        members.tolist()
        == [["node-a", "node-b"]] * 2 + [["stand-in-1", "stand-in-2", "stand-in-3", "stand-in-sick"]] * 2
    )
    assert found.hardware.nunique() == 1 and "STAND-IN CPU" not in found.hardware.iloc[0], "the other CPU: no peer"

    real = found[found.threads == 1].set_index("member")
    assert real.loc["node-a"].peers_median_s.tolist() == real.loc["node-b"].median_s.tolist(), "each other's peer"
    # no bound on the real ratios: on this shared 2-core VM a busy spell has made one run's median 3 times the other's
    product = real.loc["node-a"].ratio.to_numpy() * real.loc["node-b"].ratio.to_numpy()
    assert product == pytest.approx([1.0, 1.0]) and (real.ratio > 0).all(), "two members: each the other's inverse"
    sick = found[found.member == "stand-in-sick"]
    assert sick.slow.all() and sick.ratio.tolist() == pytest.approx([SICK, SICK])
    healthy = found[found.member.str.startswith("stand-in-") & (found.member != "stand-in-sick")]
    assert not healthy.slow.any() and healthy.ratio.tolist() == pytest.approx([1.0] * 6)

    text = report.build([*real_runs, *constructed], tmp_path / "report").read_text()
    section = text.split("## Machines side by side (a fleet)")[1].split("\n## ")[0]
    assert f"- G1 = {here} / 1 thread(s): node-a, node-b\n" in section
    assert f"- G2 = {here} / 2 thread(s): stand-in-1, stand-in-2, stand-in-3, stand-in-sick\n" in section
    assert (
        "- G3 = STAND-IN CPU (not measured), 2 CPUs / " in section
        and ": stand-in-other (alone: not compared)" in section
    )
    assert "| group | case | device | host | median | fleet | ratio [95 %] | flag |" in section
    assert "| G2 | mm[mm] | cpu | stand-in-sick | " in section and "stand-in-other |" not in section
    # the sick stand-in's 2 results, and possibly a real run's: a busy spell here is a slow host too
    (doubt,) = [line for line in text.splitlines() if "results SLOW against the same hardware's other hosts" in line]
    assert int(doubt.split(" results SLOW")[0].split()[-1]) >= 2 and doubt.count("on stand-in-sick") == 2, doubt
    assert "mm[mm] on stand-in-sick 1.30 [" in text


def test_one_host_without_placements_has_no_side_by_side(tmp_path: Path) -> None:
    again = write(read(FIXTURE), tmp_path / "again")  # the same host's run twice: one member
    table = report.tidy(report.collect([FIXTURE, again], skip_bad=False))
    assert report.devices_side_by_side(table).empty and report.machines_side_by_side(table).empty
    text = report.build([FIXTURE], tmp_path / "report").read_text()
    assert "side by side" not in text
