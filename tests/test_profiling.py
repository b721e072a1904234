"""Profiling a case's extra calls: a Chrome trace and TensorBoard's layout from one session, a summary of
the top operators by self time, and nothing left running or changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from bench import profiling
from bench.profiling import DEFAULT_CALLS, WIDTH, profile_calls, top_lines

CPU = torch.device("cpu")


def linear() -> Callable[[], torch.Tensor]:
    layer, x = torch.nn.Linear(64, 64), torch.randn(32, 64)
    return lambda: layer(x)


def conv() -> Callable[[], torch.Tensor]:
    layer, x = torch.nn.Conv2d(3, 8, 3, padding=1), torch.randn(2, 3, 16, 16)
    return lambda: layer(x)


def profiled(folder: Path, call: Callable[[], Any], calls: int = 3) -> dict[str, Any]:
    return profile_calls(call, CPU, calls, folder, "linear/size=64/float32", lambda: None)


def events(file: Path) -> list[dict[str, Any]]:
    trace = json.loads(file.read_text())
    assert isinstance(trace["traceEvents"], list) and trace["traceEvents"]
    return trace["traceEvents"]


@pytest.mark.parametrize("make", [linear, conv])
def test_the_trace_holds_the_operators_and_one_range_per_call(tmp_path: Path, make: Callable[..., Any]) -> None:
    summary = profiled(tmp_path / "case", make())
    names = {event["name"] for event in events(tmp_path / "case" / summary["trace"])}
    assert {"call 0", "call 1", "call 2"} <= names and "call 3" not in names
    assert any(name.startswith("aten::") for name in names)
    assert summary["calls"] == 3 and summary["tensorboard"] == "tensorboard"


def test_tensorboard_gets_the_same_trace_under_the_handlers_name(tmp_path: Path) -> None:
    profiled(tmp_path, linear())
    [board] = (tmp_path / "tensorboard").glob("*.pt.trace.json")
    assert board.name.startswith("linear_size=64_float32.")
    assert board.read_bytes() == (tmp_path / "trace.json").read_bytes() and events(board)
    assert {p.name for p in tmp_path.iterdir()} == {"trace.json", "tensorboard"}  # no staged files left


def test_the_summary_ranks_operators_by_self_time(tmp_path: Path) -> None:
    top = profiled(tmp_path, conv())["top"]
    assert 0 < len(top) <= 10
    times = [op["self_s"] for op in top]
    assert times == sorted(times, reverse=True) and all(t > 0 for t in times)
    assert sum(op["share"] for op in top) <= 1 + 1e-9 and all(0 < op["share"] <= 1 for op in top)
    assert all(op["calls"] > 0 for op in top)
    assert not [op["name"] for op in top if op["name"].startswith(("call ", "ProfilerStep"))]
    assert "aten::" in " ".join(op["name"] for op in top)
    json.dumps(top, allow_nan=False)


def test_profiling_changes_nothing_and_stops(tmp_path: Path) -> None:
    call = linear()
    before = call()
    profiled(tmp_path / "first", call)
    assert not torch.autograd._profiler_enabled()
    profiled(tmp_path / "second", call)
    assert torch.equal(before, call())


def test_it_synchronizes_after_the_calls(tmp_path: Path) -> None:
    happened: list[str] = []
    profile_calls(lambda: happened.append("call"), CPU, 2, tmp_path, "noop", lambda: happened.append("sync"))
    assert happened[-3:] == ["call", "call", "sync"]


def test_a_failing_call_stops_the_profiler_and_saves_nothing(tmp_path: Path) -> None:
    def fail() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        profiled(tmp_path / "case", fail)
    assert not torch.autograd._profiler_enabled() and not (tmp_path / "case").exists()


@pytest.mark.parametrize("calls", [0, -1])
def test_no_calls_is_refused_before_anything_is_written(tmp_path: Path, calls: int) -> None:
    with pytest.raises(ValueError, match="calls"):
        profiled(tmp_path / "case", linear(), calls)
    assert not (tmp_path / "case").exists()


def test_top_lines_fit_the_table(tmp_path: Path) -> None:
    lines = top_lines(profiled(tmp_path, conv()), most=3)
    assert 0 < len(lines) <= 3 and all(len(line) <= WIDTH and "%" in line and "/call" in line for line in lines)
    long = {"top": [{"name": "aten::" + "x" * 100, "self_s": 12.3e-6, "calls": 1.0, "share": 0.61}]}
    [line] = top_lines(long)
    assert len(line) == WIDTH and line.endswith("… 61% 12.3 µs/call")
    assert top_lines({"top": []}) == []


def test_profile_without_a_number_means_ten_calls() -> None:
    assert DEFAULT_CALLS == 10


def test_launch_bound_is_a_device_busy_under_half_of_each_call() -> None:
    """The classification the CUDA path records (no GPU here: the numbers are given)."""
    waiting = profiling.launch_bound(busy_s=10e-6, per_call_s=50e-6)
    assert waiting == {"device_busy_s": 10e-6, "device_busy_fraction": pytest.approx(0.2), "launch_bound": True}
    busy = profiling.launch_bound(busy_s=23e-6, per_call_s=24e-6)
    assert busy["launch_bound"] is False and busy["device_busy_fraction"] == pytest.approx(23 / 24)
    assert profiling.launch_bound(busy_s=3e-6, per_call_s=2e-6)["device_busy_fraction"] == 1.0, "streams overlap"


def test_kernel_seconds_sum_the_device_side_rows_only() -> None:
    class Row:
        def __init__(self, device: str, micro: float) -> None:
            self.device_type = getattr(torch.autograd.DeviceType, device)
            self.self_device_time_total = micro

    rows = [Row("CUDA", 30.0), Row("CUDA", 12.0), Row("CPU", 500.0)]
    assert profiling.kernel_seconds(rows) == pytest.approx(42e-6)
