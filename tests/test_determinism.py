"""The determinism audit: two processes with the same seed compute the same results on the CPU.

Two ``python -m bench run`` processes, side by side, run every CPU workload's smoke cases with
seed 5 (the training ones on a few synthetic images, and one data-parallel job: the other seven
DDP cases differ from it only in model, data path and rank count, and take 10-20 s each). Case by
case, what each computed must be identical bit for bit: the ``result_sha256`` of its first call,
and for training the losses, accuracies and weight digests too. A case that fails, or that has
no result although it declares one, fails the audit. docs/determinism.md says what this covers.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from processes import run_python

from bench.digest import result_sha256
from bench.registry import all_workloads

pytestmark = pytest.mark.slow  # each test runs the suite, torchrun or nox in subprocesses

OPTIONS = [
    "--quick",
    "--seed",
    "5",
    "--max-time",
    "0.01",
    "--telemetry-hz",
    "0",
    "--data-source",
    "synthetic",
    "--param",
    "train_images=64",
    "--param",
    "test_images=32",
]
# every workload named, as --quick runs a distributed job only where named; of those, one DDP job: 2 ranks,
# LeNet5, tensor path
WORKLOADS = [arg for name in sorted(all_workloads()) for arg in ("--workload", name)]
SELECTION = ["-k", "not cifar_ddp or (lenet5 and tensor and all)"]


def run_twice(tmp_path: Path) -> list[dict[str, Any]]:
    """Both runs' records. Side by side to halve the wall time; OpenMP threads that sleep rather
    than spin while waiting keep the two from starving each other (it changes no result)."""

    def run(name: str) -> dict[str, Any]:
        out = tmp_path / name
        argv = ["-m", "bench", "run", *OPTIONS, *WORKLOADS, "--out", str(out), "--", "-q", *SELECTION]
        done = run_python(*argv, cwd=tmp_path, env={"OMP_WAIT_POLICY": "PASSIVE"})
        assert done.returncode == 0, f"run {name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        (folder,) = out.iterdir()
        return json.loads((folder / "benchmark.json").read_text())

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(run, ("first", "second")))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, dict[str, Any]]]:
    """Each run's extra_info by case id."""
    records = run_twice(tmp_path_factory.mktemp("determinism"))
    return [{b["param"]: b["extra_info"] for b in record["benchmarks"]} for record in records]


def declares_result(case: str) -> bool:
    """All cases but one: torch.empty's memory is undefined (filled with NaN only because
    deterministic algorithms are on: fill_uninitialized_memory in the run's context)."""
    return not (case.startswith("create_tensor/") and "/op=empty/" in case)


def test_both_runs_cover_every_cpu_workload(runs) -> None:
    first, second = runs
    assert first.keys() == second.keys()
    cpu_workloads = {name for name, w in all_workloads().items() if "cpu" in w.devices}
    assert {info["workload"] for info in first.values()} == cpu_workloads
    smoke_cases = sum(len(w.cases("smoke", "cpu")) for w in all_workloads().values())
    assert len(first) == smoke_cases - 7  # all but seven of the eight DDP jobs


def test_every_result_is_identical_bit_for_bit(runs) -> None:
    first, second = ({case: info["result_sha256"] for case, info in run.items()} for run in runs)
    missing = [case for case in first if declares_result(case) and None in (first[case], second[case])]
    assert not missing, f"cases without a result digest: {missing}"
    assert all(first[case] is None for case in first if not declares_result(case))
    differ = [case for case in first if first[case] != second[case]]
    assert not differ, f"results differ between two processes with the same seed: {differ}"


def test_training_numbers_are_identical_and_are_what_the_digest_covers(runs) -> None:
    first, second = runs
    training = [c for c, info in first.items() if info["workload"] in ("cifar_train", "cifar_ddp")]
    assert len(training) == 5  # the training runs; cifar_step's single steps are digested like any other case
    for case in training:
        ours, theirs = first[case]["metrics"], second[case]["metrics"]
        numbers = {
            "epochs": [{"train_loss": e["train_loss"], "test_accuracy": e["test_accuracy"]} for e in ours["epochs"]],
            "weights_sha256": ours["weights_sha256"],
        }
        if "parameters_sha256_per_rank" in ours:  # the DDP job
            numbers["parameters_sha256_per_rank"] = ours["parameters_sha256_per_rank"]
            assert ours["parameters_sha256_per_rank"] == theirs["parameters_sha256_per_rank"]
            assert ours["weights_identical_across_ranks"] and ours["world_size"] == 2
        assert [e["train_loss"] for e in ours["epochs"]] == [e["train_loss"] for e in theirs["epochs"]]
        assert [e["test_accuracy"] for e in ours["epochs"]] == [e["test_accuracy"] for e in theirs["epochs"]]
        assert ours["weights_sha256"] == theirs["weights_sha256"]
        # the recorded digest is of these numbers alone: the epochs' timings are not in it
        assert first[case]["result_sha256"] == result_sha256(numbers), case
