"""Results against the roofs: percentages by hand, the bound on each side of the ridge, the roofs of a
``bench peak`` result and of a datasheet, and the roofline plot."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from bench import peak, peak_cache, roofline, runs
from bench.roofline import RooflinePoint, Roofs, datasheet_roofs, measured_roofs, percent_of_peak

MEASURED = Roofs(100e9, 20e9, "measured")  # constructed: 100 GFLOP/s, 20 GB/s, the ridge at 5 FLOP/byte


@pytest.fixture(scope="module")
def probed() -> dict[str, Any]:
    """A real ``bench peak`` result of this CPU (short batches, small copies: well under a second) whose
    best rates are then replaced by constructed ones, 100 GFLOP/s float32, 50 bfloat16 and 20 GB/s:
    the shape is measure()'s own, the numbers known."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(peak, "BATCH_S", 0.01)
        patch.setitem(peak.COPY_MIB, "cpu", (4, 8))
        result = peak.measure("cpu", max_n=128)
    result["matmul"]["float32"]["best_gflops"] = 100.0
    result["matmul"]["bfloat16"]["best_gflops"] = 50.0
    result["copy"]["best_gbps"] = 20.0
    return result


def test_measured_roofs_are_the_best_matmul_of_the_precision_and_the_best_copy(probed: dict[str, Any]) -> None:
    date = probed["measured_at"][:10]
    assert measured_roofs(probed, "float32") == Roofs(100e9, 20e9, f"measured by bench peak on {date}")
    assert measured_roofs(probed, "bfloat16") == Roofs(50e9, 20e9, f"measured by bench peak on {date}")
    assert measured_roofs(probed, "amp-bf16") == measured_roofs(probed, "bfloat16")  # a mode's precision
    assert measured_roofs(probed, "fp32") == measured_roofs(probed, "float32")
    assert measured_roofs(probed, "float16") is None  # the CPU probe sweeps no float16
    assert measured_roofs(probed, "int64") is None
    assert measured_roofs(None, "float32") is None  # no cached peak


def test_the_peak_read_back_from_its_cache_gives_the_same_roofs(
    probed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(runs.RESULTS_ENV, str(tmp_path))
    peak_cache.save(probed)
    assert measured_roofs(peak.cached_peak("cpu"), "float32") == measured_roofs(probed, "float32")


def test_datasheet_roofs_of_a_known_card_and_none_for_others() -> None:
    h200 = datasheet_roofs("NVIDIA H200", "bfloat16")
    assert h200 is not None and h200.source == "datasheet: H200 SXM 141 GB"
    assert h200.flops_per_s == pytest.approx(989.5e12) and h200.bytes_per_s == pytest.approx(4800e9)
    assert datasheet_roofs("NVIDIA H200", "float32") == Roofs(67e12, 4800e9, "datasheet: H200 SXM 141 GB")
    assert datasheet_roofs("NVIDIA H200", "amp-fp16") == datasheet_roofs("NVIDIA H200", "float16")
    assert datasheet_roofs("NVIDIA H200", "int64") is None
    assert datasheet_roofs("NVIDIA Imaginary X1", "bfloat16") is None
    assert datasheet_roofs(None, "float32") is None  # a CPU result has no GPU name
    assert datasheet_roofs("Intel(R) Xeon(R) CPU @ 2.20GHz", "float32") is None


@pytest.mark.parametrize(
    ("gflops", "gbytes_per_s", "expected"),
    [
        # intensity 25 FLOP/byte, past the ridge (5): the compute roof, 100 GFLOP/s, is what it can reach
        (50.0, 2.0, {"flops_pct": 50.0, "bandwidth_pct": 10.0, "bound": "compute", "roof_pct": 50.0}),
        # intensity 1: the memory roof there is 1 x 20 = 20 GFLOP/s, of which 10 is half
        (10.0, 10.0, {"flops_pct": 10.0, "bandwidth_pct": 50.0, "bound": "memory", "roof_pct": 50.0}),
        # on the ridge both roofs are 100 GFLOP/s: called compute
        (20.0, 4.0, {"flops_pct": 20.0, "bandwidth_pct": 20.0, "bound": "compute", "roof_pct": 20.0}),
        (50.0, None, {"flops_pct": 50.0, "bandwidth_pct": None, "bound": None, "roof_pct": None}),
        (None, 5.0, {"flops_pct": None, "bandwidth_pct": 25.0, "bound": None, "roof_pct": None}),
        (math.nan, 5.0, {"flops_pct": None, "bandwidth_pct": 25.0, "bound": None, "roof_pct": None}),  # a table's NaN
        (None, None, {"flops_pct": None, "bandwidth_pct": None, "bound": None, "roof_pct": None}),
    ],
)
def test_percent_of_peak_by_hand(gflops: float | None, gbytes_per_s: float | None, expected: dict[str, Any]) -> None:
    found = percent_of_peak(gflops, gbytes_per_s, MEASURED)
    assert found == {
        key: pytest.approx(value) if isinstance(value, float) else value for key, value in expected.items()
    }


def test_percent_of_peak_without_roofs_is_all_none() -> None:
    assert percent_of_peak(50.0, 2.0, None) == dict.fromkeys(("flops_pct", "bandwidth_pct", "bound", "roof_pct"))


def test_percent_of_the_datasheet_peak() -> None:
    """A bfloat16 matmul at half the H200's dense rate, intensity 500: well past its ridge (~206)."""
    found = percent_of_peak(494_750.0, 989.5, datasheet_roofs("NVIDIA H200", "bfloat16"))
    assert found["flops_pct"] == pytest.approx(50.0) and found["bound"] == "compute"
    assert found["bandwidth_pct"] == pytest.approx(100 * 989.5 / 4800)


def points() -> list[RooflinePoint]:
    """Constructed: 35 matmuls (n = 96 .. 2272, float32: 2 n^3 FLOPs, 3 n^2 x 4 bytes) at 50 GFLOP/s,
    an add of 2^28 float32 numbers at 10 GB/s (as many FLOPs as a matmul of n = 512) and a result
    without bytes, which has no place on the plot."""
    mms = [RooflinePoint(f"mm[n={n}]", 2 * n**3, 12 * n**2, 2 * n**3 / 50e9) for n in range(96, 2273, 64)]
    return [*mms, RooflinePoint("add[$x$]", 2**28, 3 * 2**30, 3 * 2**30 / 10e9), RooflinePoint("relu", 1e6, None, 1e-3)]


def test_the_figure_draws_both_roofs_and_the_points_with_the_most_flops() -> None:
    roofs = [MEASURED, Roofs(200e9, 40e9, "datasheet: some card")]
    fig = roofline.roofline_figure(points(), roofs, "cpu, float32")
    assert fig is not None
    (ax,) = fig.axes
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["measured: 100 GFLOP/s, 20 GB/s", "datasheet: some card: 200 GFLOP/s, 40 GB/s", "results"]
    labels = {text.get_text(): text for text in ax.texts}
    assert len(labels) == roofline.MOST_POINTS and {"mm[n=2272]", "mm[n=480]", "add[$x$]"} <= set(labels)
    assert "mm[n=416]" not in labels and "relu" not in labels  # the 31st most FLOPs, and no bytes
    assert not labels["add[$x$]"].get_parse_math()  # drawn as written, not as mathtext
    assert ax.get_xscale() == ax.get_yscale() == "log"


def test_a_gpu_plot_reads_in_tflops() -> None:
    fig = roofline.roofline_figure(points(), [datasheet_roofs("NVIDIA H200", "bfloat16")], "NVIDIA H200, bfloat16")
    assert fig is not None
    (ax,) = fig.axes
    assert ax.get_ylabel() == "achieved TFLOP/s"
    assert ax.get_legend().get_texts()[0].get_text() == "datasheet: H200 SXM 141 GB: 989.5 TFLOP/s, 4800 GB/s"


def test_the_plot_is_written_as_a_png(tmp_path: Path) -> None:
    path = roofline.roofline_plot(points()[-3:], [MEASURED], "NVIDIA H200, bfloat16", tmp_path)
    assert path == tmp_path / "roofline_NVIDIA_H200__bfloat16.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_no_plot_without_a_point_with_flops_and_bytes(tmp_path: Path) -> None:
    assert roofline.roofline_plot(points()[-1:], [MEASURED], "cpu", tmp_path) is None
    assert not list(tmp_path.iterdir())
