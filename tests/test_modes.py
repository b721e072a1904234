"""Execution modes: the axes planned into cases, labelled, applied by the harness and recorded.

The eager modes run here on the smallest sizes; compiling (seconds a case, a C++ compiler at run
time) is in the slow tier (test_modes_compiled.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from bench import report
from bench.context import RunContext, RunSettings
from bench.errors import UsageError
from bench.labels import short_labels
from bench.modes import AXES, Mode, drift, float32_math, tensors
from bench.options import SuiteOptions, suite_namespace
from bench.record import CaseResult
from bench.registry import all_workloads, plan, select
from bench.runner import run_case, run_cases
from bench.timing import RoundPolicy

QUICK = RoundPolicy(warmup_rounds=1, min_rounds=3, max_rounds=5, round_time=0.001, max_time=0.01)


def options(**values: str) -> SuiteOptions:
    return SuiteOptions.parse(suite_namespace(bench_quick=True, **values))


def test_a_case_names_only_the_values_that_differ_from_the_reference() -> None:
    chosen = {"compile": ("off", "default"), "precision": ("fp32", "amp-bf16")}
    cases = [c for c in all_workloads()["conv2d"].cases("smoke", "cpu", chosen) if c.params["mode"] == "fwd"]
    assert [c.id.split("mode=fwd")[1] for c in cases] == [
        "/float32",
        "/precision=amp-bf16/float32",
        "/compile=default/float32",
        "/compile=default/precision=amp-bf16/float32",
    ], "the reference first, and ids of results recorded before the axes unchanged"
    assert [c.mode for c in cases][3] == Mode(compile="default", precision="amp-bf16")
    assert all(c.reference.id == cases[0].id for c in cases)
    # a workload that does not take the axes runs once, in the reference mode
    assert [c.id for c in all_workloads()["mm"].cases("smoke", "cpu", chosen)] == [
        c.id for c in all_workloads()["mm"].cases("smoke", "cpu")
    ]


def test_options_parse_lists_in_the_axis_order_and_refuse_unknown_values() -> None:
    parsed = options(bench_compile="default,off", bench_precision="amp-bf16", bench_memory_format="channels_last")
    assert parsed.modes == {
        "compile": ("off", "default"),
        "precision": ("amp-bf16",),
        "memory_format": ("channels_last",),
    }
    with pytest.raises(UsageError, match=r"^--memory-format: unknown value 'nhwc' \(use contiguous, channels_last"):
        options(bench_memory_format="nhwc")


def test_modes_a_device_cannot_run_are_skipped_with_their_reason() -> None:
    parsed = options(bench_workload=["linear"], bench_precision="fp32,tf32")
    assert {c.mode.precision for c in parsed.cases()} == {"fp32"}
    skipped = parsed.skipped()
    assert skipped and {s["reason"] for s in skipped} == {"tf32 is a CUDA math mode"}
    assert parsed.record()["skipped"] == skipped and parsed.record()["modes"]["precision"] == ["fp32", "tf32"]
    assert options(bench_workload=["mm", "linear"], bench_compile="default").modes_not_taken() == ["mm: compile"]


@pytest.mark.parametrize(
    ("mode", "device", "dtype", "reason"),
    [
        (Mode(precision="tf32"), "cpu", "float32", "tf32 is a CUDA math mode"),
        (Mode(precision="amp-bf16"), "cuda", "float16", "precision amp-bf16 applies to float32 cases"),
        (Mode(compile="reduce-overhead"), "cpu", "float32", "captures CUDA graphs: CUDA only"),
        (Mode(precision="tf32"), "cuda", "float32", None),
        (Mode(memory_format="channels_last"), "cpu", "float32", None),
    ],
)
def test_unsupported_combinations_say_why(mode: Mode, device: str, dtype: str, reason: str | None) -> None:
    said = mode.unsupported(device, dtype)
    assert (said is None) if reason is None else (reason in said)


def test_compile_without_a_compiler_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    reason = Mode(compile="default").unsupported("cpu", "float32")
    assert reason and "needs a compiler at run time (c++ or g++ or clang++)" in reason and "\n" not in reason


def test_labels_name_the_math_and_layout_each_case_ran() -> None:
    chosen = {axis: values[:2] for axis, values in AXES.items()}
    cases = [c for c in all_workloads()["conv2d"].cases("smoke", "cpu", chosen) if c.params["mode"] == "fwd"]
    labels = short_labels([_described(c) for c in cases])
    assert labels[0] == "conv2d[eager, fp32, contiguous]"
    assert labels[-1] == "conv2d[compiled, tf32, channels_last]"


def _described(case):  # a planned case as labels see it
    from bench.labels import Described  # noqa: PLC0415

    return Described(case.workload.name, case.params, list(case.workload.variants), case.dtype)


def test_fp32_means_fp32_and_tf32_is_set_for_its_case_only(ctx: RunContext) -> None:
    assert set(float32_math().values()) == {"ieee"}, "ctx.apply turns cuDNN's TF32 default off"
    with Mode(precision="tf32").math():
        assert set(float32_math().values()) == {"tf32"}
    assert set(float32_math().values()) == {"ieee"}
    assert ctx.record()["float32_math"] == {"cuda.matmul": "ieee", "cudnn.conv": "ieee", "cudnn.rnn": "ieee"}


def _run(name: str, ctx: RunContext, **mode: str) -> CaseResult:
    chosen = {axis: (value,) for axis, value in mode.items()}
    (case,) = [
        c for c in all_workloads()[name].cases("smoke", "cpu", chosen) if c.params.get("mode", "fwd_bwd") == "fwd_bwd"
    ][:1]
    return run_case(case, ctx, QUICK)


def test_the_reference_mode_is_recorded_with_its_math(ctx: RunContext) -> None:
    execution = _run("conv2d", ctx).execution
    assert execution["compile"] == "off" and execution["precision"] == "fp32"
    assert execution["memory_format"] == "contiguous" and set(execution["float32_math"].values()) == {"ieee"}
    assert execution["first_call_s"] > 0 and execution["numerics"] == {"checked": False, "why": "the reference mode"}


def test_channels_last_runs_in_that_layout_and_matches_the_reference(ctx: RunContext) -> None:
    result = _run("conv2d", ctx, memory_format="channels_last")
    numerics = result.execution["numerics"]
    assert result.execution["memory_format"] == "channels_last" and "memory_format=channels_last" in result.id
    assert numerics["checked"] and numerics["within"] and numerics["max_error"] <= 1e-4
    assert ctx.mode == Mode(), "the harness puts the reference mode back after the case"
    made = Mode(memory_format="channels_last").laid_out(torch.zeros(2, 3, 4, 4))
    assert made.is_contiguous(memory_format=torch.channels_last) and not made.is_contiguous()


def test_bf16_autocast_drifts_within_its_tolerance_and_says_by_how_much(ctx: RunContext) -> None:
    numerics = _run("mlp", ctx, precision="amp-bf16").execution["numerics"]
    assert numerics["checked"] and 0 < numerics["max_error"] <= numerics["tolerance"] == 5e-2
    assert numerics["within"]


def test_the_training_step_takes_every_mode_and_counts_its_flops(ctx: RunContext) -> None:
    result = _run("cifar_step", ctx, precision="amp-bf16", memory_format="channels_last")
    assert result.work.flops and result.work.flops > 8 * 1e5 and result.rates["gflops"] > 0
    assert result.execution["numerics"]["within"], result.execution["numerics"]


def test_drift_is_relative_to_the_reference_and_refuses_other_shapes() -> None:
    reference = tensors({"b": torch.tensor([1.0, -4.0]), "a": 2.0})
    assert drift(reference, tensors({"a": 2.0, "b": torch.tensor([1.0, -3.0])})) == pytest.approx(0.25)
    assert drift(reference, reference) == 0.0
    with pytest.raises(ValueError, match="differ in number or shape"):
        drift(reference, tensors([torch.zeros(3)]))


def test_the_report_compares_each_mode_with_its_reference(ctx: RunContext, tmp_path: Path) -> None:
    """A real run of the MLP in two precisions (eager, as compiling takes seconds) into a report."""
    chosen = {"precision": ("fp32", "amp-bf16")}
    record = run_cases(plan(select(names=["mlp"]), "smoke", "cpu", modes=chosen), ctx, QUICK)
    run = tmp_path / "run"
    run.mkdir()
    (run / "benchmark.json").write_text(record.to_json())
    table = report.tidy(report.collect([run], skip_bad=False))
    found = report.mode_speedups(table)
    assert sorted(found.label) == ["mlp[fwd, amp-bf16]", "mlp[fwd_bwd, amp-bf16]"]
    assert (found.speedup > 0).all() and (found.low <= found.speedup).all() and (found.speedup <= found.high).all()
    assert (found.first_call_s > 0).all()
    text = report.build([run], tmp_path / "report").read_text()
    section = text[text.index("## Execution modes") :]
    assert "| mlp[fwd, amp-bf16] | cpu |" in section and " / 5e-02 |" in section and "DRIFT" not in section


def test_the_reference_is_the_same_case_under_the_same_settings(ctx: RunContext) -> None:
    """The reference result is kept for the modes after it; a run with another seed in the same
    process computes its own (a kept one of seed 0 would make seed 1's mode look drifted)."""
    assert _run("conv2d", ctx, memory_format="channels_last").execution["numerics"]["within"]
    other = RunContext(RunSettings(device="cpu", seed=1))
    other.apply()
    numerics = _run("conv2d", other, memory_format="channels_last").execution["numerics"]
    assert numerics["within"] and numerics["max_error"] <= 1e-4, numerics
