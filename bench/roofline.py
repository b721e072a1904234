"""Results against the device's roofs: % of the measured and the datasheet peak, and the roofline plot.

A rate alone does not say whether a kernel is good; against the roof that limits it at its arithmetic
intensity (FLOPs per byte moved) it does. The compute roof is the best matmul rate of one precision, the
memory roof the copy bandwidth, each either measured by ``bench peak`` (bench/peak.py, its cached
result) or from the vendor's datasheet (bench/datasheets.py). Free of torch at module level, like the
other record readers: the report uses it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import datasheets
from bench.plotting import file_name, literal_text, log_scale

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# A record's dtype, or an execution mode's precision where it overrides a float32 case's math (autocast
# runs the matmuls in half precision), as the name of a ``bench peak`` sweep and a datasheet column.
PRECISION = {
    "float32": "float32",
    "fp32": "float32",
    "tf32": "tf32",
    "bfloat16": "bfloat16",
    "amp-bf16": "bfloat16",
    "float16": "float16",
    "amp-fp16": "float16",
}
MOST_POINTS = 30  # labelled points past this many would hide each other: the ones with the most FLOPs stay
ROOF_STYLES = (
    {"linestyle": "-", "color": "#cc3311"},
    {"linestyle": "--", "color": "#0077bb"},
    {"linestyle": ":", "color": "#009988"},
)


@dataclass(frozen=True)
class Roofs:
    """The ceilings of one device for one precision: FLOP/s and bytes/s, and where they come from."""

    flops_per_s: float
    bytes_per_s: float
    source: str  # "measured by bench peak on <date>" or "datasheet: <card>"

    @property
    def ridge(self) -> float:
        """The intensity (FLOP/byte) where the roofs meet: below it memory limits, above it compute."""
        return self.flops_per_s / self.bytes_per_s

    def attainable(self, intensity: float) -> float:
        """The best FLOP/s at ``intensity``: the lower roof there."""
        return min(self.flops_per_s, intensity * self.bytes_per_s)


def measured_roofs(peak: Mapping[str, Any] | None, precision: str) -> Roofs | None:
    """The roofs of a ``bench peak`` result (its best matmul of ``precision`` and its best copy); None
    without a result or where it has no sweep of that precision (bfloat16 on a CPU probe without it)."""
    entry = peak["matmul"].get(PRECISION.get(precision, "")) if peak else None
    if not entry:
        return None
    date = str(peak["measured_at"])[:10]
    return Roofs(entry["best_gflops"] * 1e9, peak["copy"]["best_gbps"] * 1e9, f"measured by bench peak on {date}")


def datasheet_roofs(gpu_name: str | None, precision: str) -> Roofs | None:
    """The datasheet's roofs of a card by its torch name; None for the CPU (no name), a card not in
    bench/datasheets.py, or a precision its datasheet does not give."""
    sheet = datasheets.lookup(gpu_name)
    tflops = sheet.tflops.get(PRECISION.get(precision, "")) if sheet else None
    if not sheet or tflops is None:
        return None
    return Roofs(tflops * 1e12, sheet.bandwidth_gbs * 1e9, f"datasheet: {sheet.card}")


def _rate(value: float | None) -> float | None:
    """A rate to divide by, or None: missing, NaN (a table's empty cell) or not positive."""
    return value if value is not None and math.isfinite(value) and value > 0 else None


def _percent(rate: float | None, roof: float) -> float | None:
    return None if rate is None else 100 * rate / roof


def percent_of_peak(
    gflops: float | None, gbytes_per_s: float | None, roofs: Roofs | None
) -> dict[str, float | str | None]:
    """A result's rates in percent of ``roofs``: ``flops_pct``, ``bandwidth_pct``; and, where it has
    both rates, ``bound`` ("compute" or "memory": the roof that limits it at its intensity) and
    ``roof_pct`` (its FLOP/s over the attainable there). Every key always, None where a rate or the
    roofs are missing, so that rows of a table share their columns."""
    flops, moved = _rate(gflops), _rate(gbytes_per_s)
    found: dict[str, float | str | None] = dict.fromkeys(("flops_pct", "bandwidth_pct", "bound", "roof_pct"))
    if roofs is None:
        return found
    found["flops_pct"] = _percent(flops, roofs.flops_per_s / 1e9)
    found["bandwidth_pct"] = _percent(moved, roofs.bytes_per_s / 1e9)
    if flops is not None and moved is not None:
        intensity = flops / moved  # FLOP/byte: the same seconds divide both
        found["bound"] = "compute" if intensity >= roofs.ridge else "memory"
        found["roof_pct"] = _percent(flops, roofs.attainable(intensity) / 1e9)
    return found


@dataclass(frozen=True)
class RooflinePoint:
    """One result on the plot: what one call does and how long it takes."""

    label: str
    flops: float | None  # per call
    bytes: float | None  # per call
    seconds: float  # per call

    @property
    def drawable(self) -> bool:
        """Both work counts and a time: a place on both axes."""
        return all(_rate(value) is not None for value in (self.flops, self.bytes, self.seconds))


def _unit(top: float) -> tuple[float, str]:
    """TFLOP/s where the rates reach tens of them (a GPU), else GFLOP/s: short tick labels either way."""
    return (1e12, "TFLOP/s") if top >= 1e13 else (1e9, "GFLOP/s")


def roofline_figure(points: list[RooflinePoint], roofs: list[Roofs], title: str) -> Figure | None:
    """The roofline plot as a figure (see :func:`roofline_plot`); None when no point is drawable."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - slow import, only for reports

    drawn = sorted((p for p in points if p.drawable), key=lambda p: p.flops, reverse=True)[:MOST_POINTS]
    if not drawn:
        return None
    intensities = [p.flops / p.bytes for p in drawn]
    achieved = [p.flops / p.seconds for p in drawn]
    ridges = [roof.ridge for roof in roofs]
    low, high = min(intensities + ridges) / 4, max(intensities + ridges) * 4  # every ridge in sight
    scale, unit = _unit(max(achieved + [roof.flops_per_s for roof in roofs]))
    with literal_text():  # names from records drawn as given
        fig = Figure(figsize=(9, 6))
        ax = fig.subplots()
        for roof, style in zip(roofs, itertools.cycle(ROOF_STYLES)):
            rates = f"{roof.flops_per_s / scale:.4g} {unit}, {roof.bytes_per_s / 1e9:.4g} GB/s"
            xs = [low, roof.ridge, high]
            ax.plot(xs, [roof.attainable(x) / scale for x in xs], **style, label=f"{roof.source}: {rates}")
        ax.scatter(intensities, [rate / scale for rate in achieved], color="black", s=12, zorder=3, label="results")
        for point, x, rate in zip(drawn, intensities, achieved, strict=True):
            # below and slanted: points sit under the roofs, and neighbours along a sweep stay apart
            ax.annotate(
                point.label,
                (x, rate / scale),
                xytext=(3, -3),
                textcoords="offset points",
                fontsize=6,
                va="top",
                rotation=-30,
                rotation_mode="anchor",
            )
        log_scale(ax, "x")
        log_scale(ax, "y")
        ax.set(xlim=(low, high), xlabel="arithmetic intensity, FLOP/byte", ylabel=f"achieved {unit}", title=title)
        ax.grid(True, which="major", linewidth=0.3)
        ax.legend(fontsize=7, loc="upper left")  # above the memory roof: where no result can be
        fig.tight_layout()
    return fig


def roofline_plot(points: list[RooflinePoint], roofs: list[Roofs], title: str, out: Path) -> Path | None:
    """Results on log-log axes, arithmetic intensity against achieved FLOP/s, under each of ``roofs``
    drawn as min(peak, intensity x bandwidth) with its source in the legend; the :data:`MOST_POINTS`
    with the most FLOPs, labelled. Written to ``out/roofline_<title as a file name>.png`` (one plot a
    device and precision: the title tells them apart); None, and no file, when no point has both
    FLOPs and bytes."""
    fig = roofline_figure(points, roofs, title)
    if fig is None:
        return None
    path = out / f"roofline_{file_name(title)}.png"
    fig.savefig(path, dpi=110)
    return path
