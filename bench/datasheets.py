"""Datasheet peaks of common GPUs, and a rate's share of a peak (free of torch: reports may use it).

Dense rates only. NVIDIA quotes the tensor-core rates (tf32, bfloat16, float16) of its data-centre
GPUs "with sparsity", twice what a dense matmul can reach; this table holds half of those, or the dense
figure where the datasheet prints one (L40S, RTX 4090). float16 and bfloat16 are with FP32 accumulation,
which is what torch asks cuBLAS for. Bandwidth is the memory's, in GB/s as the vendor gives it; a copy
of B bytes moves 2 B, as ``bench peak`` counts it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

BANDWIDTH = "bandwidth"  # what :func:`share` takes for a GB/s rate instead of a precision


@dataclass(frozen=True)
class Datasheet:
    card: str
    names: tuple[str, ...]  # as torch.cuda.get_device_name() reports the card
    tflops: Mapping[str, float]  # dense TFLOP/s per precision: float32, tf32, bfloat16, float16
    bandwidth_gbs: float
    source: str  # the vendor document the figures come from
    url: str


def _tflops(float32: float, tf32: float, bfloat16: float, float16: float) -> dict[str, float]:
    return {"float32": float32, "tf32": tf32, "bfloat16": bfloat16, "float16": float16}


DATASHEETS = (
    Datasheet(
        "A100 SXM 80 GB",
        ("NVIDIA A100-SXM4-80GB",),
        _tflops(19.5, 156, 312, 312),
        2039,
        "NVIDIA A100 Tensor Core GPU datasheet, A100 80GB SXM column",
        "https://www.nvidia.com/content/dam/en-zz/Solutions/Data-Center/a100/pdf/nvidia-a100-datasheet-us-nvidia-1758950-r4-web.pdf",
    ),
    Datasheet(
        "H100 SXM 80 GB",
        ("NVIDIA H100 80GB HBM3",),
        _tflops(67, 494.5, 989.5, 989.5),
        3350,
        "NVIDIA H100 Tensor Core GPU datasheet, H100 SXM column",
        "https://resources.nvidia.com/en-us-tensor-core/nvidia-tensor-core-gpu-datasheet",
    ),
    Datasheet(
        "H200 SXM 141 GB",
        ("NVIDIA H200",),
        _tflops(67, 494.5, 989.5, 989.5),
        4800,
        "NVIDIA H200 Tensor Core GPU specifications, H200 SXM column",
        "https://www.nvidia.com/en-us/data-center/h200/",
    ),
    Datasheet(
        "L4 24 GB",
        ("NVIDIA L4",),
        _tflops(30.3, 60, 121, 121),
        300,
        "NVIDIA L4 Tensor Core GPU specifications",
        "https://www.nvidia.com/en-us/data-center/l4/",
    ),
    Datasheet(
        "L40S 48 GB",
        ("NVIDIA L40S",),
        _tflops(91.6, 183, 362.05, 362.05),
        864,
        "NVIDIA L40S datasheet (dense figures as printed)",
        "https://resources.nvidia.com/en-us-l40s/l40s-datasheet-28413",
    ),
    Datasheet(
        "GeForce RTX 4090 24 GB",
        ("NVIDIA GeForce RTX 4090",),
        _tflops(82.6, 82.6, 165.2, 165.2),
        1008,
        "NVIDIA Ada GPU Architecture whitepaper, GeForce RTX 4090 (FP16/BF16 with FP32 accumulate)",
        "https://images.nvidia.com/aem-dam/Solutions/geforce/ada/nvidia-ada-gpu-architecture.pdf",
    ),
)


def _key(name: str) -> str:
    """A device name without case, separators or the vendor: "NVIDIA A100-SXM4-80GB" -> "a100 sxm4 80gb"."""
    words = re.sub(r"[-_\s]+", " ", name).casefold().split()
    return " ".join(words[1:] if words[:1] == ["nvidia"] else words)


_BY_NAME = {_key(name): sheet for sheet in DATASHEETS for name in sheet.names}


def lookup(device_name: str | None) -> Datasheet | None:
    """The datasheet of a card by its torch name; None for any other (a CPU, a card not in the table,
    another variant of one that is: an H100 PCIe has other clocks than the SXM)."""
    return _BY_NAME.get(_key(device_name)) if device_name else None


class Share(NamedTuple):
    """A rate in percent of the measured peak and of the datasheet's; None where there is none."""

    of_measured: float | None
    of_datasheet: float | None


def _percent(rate: float, top: float | None) -> float | None:
    return 100 * rate / top if top else None


def share(rate: float, what: str, measured: Mapping[str, Any] | None = None, sheet: Datasheet | None = None) -> Share:
    """``rate`` against the peaks: ``what`` is a precision (float32, tf32, bfloat16, float16; ``rate``
    in GFLOP/s) or :data:`BANDWIDTH` (``rate`` in GB/s); ``measured`` a ``bench peak`` result."""
    if what == BANDWIDTH:
        top_measured = measured["copy"]["best_gbps"] if measured else None
        top_sheet = sheet.bandwidth_gbs if sheet else None
    else:
        entry = measured["matmul"].get(what) if measured else None
        top_measured = entry["best_gflops"] if entry else None
        top_sheet = 1000 * sheet.tflops[what] if sheet and what in sheet.tflops else None
    return Share(_percent(rate, top_measured), _percent(rate, top_sheet))
