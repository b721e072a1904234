"""The end-of-run summary and ``show``: short labels that tell cases apart, tables within 120
columns, the noise mark, failures with their reasons."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.labels import Described, short_labels
from bench.record import RunRecord
from bench.registry import all_workloads
from bench.summary import WIDTH, duration, render

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"


def test_a_label_names_only_what_varies_within_its_workload() -> None:
    ddp = [
        Described("cifar_ddp", {"epochs": 1, "model": m, "path": p, "ranks": r}, ["model", "path", "ranks"], "float32")
        for m in ("lenet5", "resnet18")
        for p in ("seed", "tensor")
        for r in ("one", "all")
    ]
    mm = [Described("mm", {"n": n, "op": "mm"}, ["op"], d) for n in (256, 4096) for d in ("float32", "bfloat16")]
    labels = short_labels([*ddp, *mm, Described("conv2d_edge", {"height": 32}, [], "float32")])
    assert labels[1] == "cifar_ddp[lenet5, seed, ranks=all]"  # "all" alone would say nothing
    assert labels[len(ddp) + 3] == "mm[n=4096, bf16]"  # op is the same in every mm case: left out
    assert labels[-1] == "conv2d_edge"


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_every_built_in_case_gets_a_different_label_that_fits(device: str) -> None:
    cases = [case for workload in all_workloads().values() for case in workload.cases("full", device)]
    labels = short_labels([Described(c.workload.name, c.params, list(c.workload.variants), c.dtype) for c in cases])
    assert len(set(labels)) == len(cases)
    assert max(map(len, labels)) <= 64


def test_show_fits_in_120_columns_and_marks_noise(tmp_path: Path) -> None:
    data = json.loads((FIXTURE / "benchmark.json").read_text())
    data["bench"]["failed"] = [{"id": "mm/n=99999/op=mm/float32", "error": "out of memory " + "x" * 200}]
    (tmp_path / "benchmark.json").write_text(json.dumps(data))
    text = render(RunRecord.from_json(tmp_path))
    lines = text.splitlines()
    assert max(map(len, lines)) <= WIDTH
    assert any(line.startswith("matrix (2)") for line in lines)
    assert "  mm[n=64, mm]" in text and "mm/n=" not in text  # labels, not ids; n varies with the failed case
    noisy = [line for line in lines[:-1] if " ! " in line]
    assert noisy and "rowwise[max]" in "".join(noisy)  # 56 % IQR/median in the fixture
    assert "failed (1)" in text and "mm[n=99999, mm]: out of memory" in text
    assert f"({len(noisy)} cases): noisy" in lines[-1]


def test_full_shows_every_parameter() -> None:
    text = render(RunRecord.from_json(FIXTURE), full=True)
    assert "mm/n=64/op=mm/float32" in text


@pytest.mark.parametrize(
    ("seconds", "shown"), [(2.5, "2.5 s"), (0.0123, "12.3 ms"), (4.56e-6, "4.56 µs"), (3e-10, "0.3 ns")]
)
def test_durations_carry_their_unit(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_a_run_over_several_devices_labels_each_result_and_failure_with_its_device() -> None:
    """A failure's id ends in its device (``@cuda:1``), as its results' do: it must not read as part of
    the case (before, "float32@cuda:1" was taken for a dtype and put "fp32" into every label)."""
    from bench.devices import merge  # noqa: PLC0415

    data = json.loads((FIXTURE / "benchmark.json").read_text())
    data["benchmarks"] = data["benchmarks"][:3]
    failing = json.loads(json.dumps(data))
    failing["bench"]["failed"] = [{"id": data["benchmarks"][2]["param"], "error": "OutOfMemoryError: x"}]
    merged = merge([("cuda:0", data, None), ("cuda:1", failing, None)], concurrent=False)
    lines = render(RunRecord.from_dict(merged, "merged")).splitlines()
    assert any(line.startswith("  rowwise @cuda:0 ") for line in lines), lines
    assert "  rowwise @cuda:1: OutOfMemoryError: x" in lines
