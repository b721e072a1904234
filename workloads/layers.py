"""Layers: the tutorial's edge-detection convolution, conv/pool/norm/activation layers, Linear and the MLP."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bench.api import RunContext, workload
from workloads.passes import MODES, PASS_COST, module_call

HALF_ON_CUDA = {"cpu": ("float32",), "cuda": ("float32", "bfloat16", "float16")}


def edge_kernel() -> torch.Tensor:
    """The tutorial's 3 x 3 edge detector: -1/9 everywhere, 1 in the centre."""
    kernel = torch.ones(3, 3) / -9
    kernel[1][1] = 1
    return kernel


@workload(
    family="layers",
    tags=("compute", "conv"),
    sizes={
        "seed": dict(height=480, width=479),
        "smoke": dict(height=32, width=31),
        "full": dict(height=2048, width=2048),
    },
    items=lambda **_: 1,
    flops=lambda height, width, **_: 2 * 9 * (height - 2) * (width - 2),
    modes=("compile", "precision", "memory_format"),
)
def conv2d_edge(ctx: RunContext, height: int, width: int, dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """The tutorial's Conv2d(1, 1, 3, bias=False) with the edge kernel on one grayscale image.

    The tutorial's photo (480 x 479) is not shipped; a random grayscale image of
    the same size stands in.  The output is (height - 2) x (width - 2).
    """
    layer = nn.Conv2d(1, 1, (3, 3), bias=False).to(ctx.device, dtype)
    with torch.no_grad():
        layer.weight.copy_(edge_kernel().view(1, 1, 3, 3))
    image = ctx.rand(1, 1, height, width, dtype=dtype)
    return module_call(ctx, layer, (image,), "fwd")


def conv_flops(batch: int, cin: int, cout: int, hw: int, k: int, stride: int, mode: str, **_: Any) -> int:
    out = (hw + 2 * (k // 2) - k) // stride + 1
    return 2 * batch * cout * out * out * cin * k * k * PASS_COST[mode]


@workload(
    family="layers",
    tags=("compute", "conv", "nn"),
    sizes={
        "seed": dict(batch=1, cin=3, cout=64, hw=32, k=3, stride=1),  # the tutorial's Conv2d(3, 64, 3, 1, 1)
        "smoke": dict(batch=2, cin=3, cout=8, hw=16, k=3, stride=1),
        "full": [
            dict(batch=32, cin=3, cout=64, hw=224, k=3, stride=1),
            dict(batch=32, cin=3, cout=64, hw=224, k=7, stride=2),  # a ResNet stem
            dict(batch=32, cin=64, cout=64, hw=56, k=3, stride=1),
            dict(batch=32, cin=256, cout=256, hw=14, k=3, stride=1),
        ],
    },
    variants={"mode": MODES},
    dtypes=HALF_ON_CUDA,
    items=lambda batch, **_: batch,
    flops=conv_flops,
    modes=("compile", "precision", "memory_format"),
)
def conv2d(
    ctx: RunContext, batch: int, cin: int, cout: int, hw: int, k: int, stride: int, mode: str, dtype: torch.dtype
) -> Callable[[], Any]:
    """Conv2d(cin, cout, k, stride, padding=k // 2) over batch x cin x hw x hw images."""
    layer = nn.Conv2d(cin, cout, k, stride, padding=k // 2).to(ctx.device, dtype)
    return module_call(ctx, layer, (ctx.randn(batch, cin, hw, hw, dtype=dtype),), mode)


FEATURE_MAPS = {
    "seed": dict(batch=1, channels=2, hw=4),  # the tutorial's examples are 1 x 1..2 x 2..4 x 2..4
    "smoke": dict(batch=2, channels=8, hw=16),
    "full": dict(batch=32, channels=64, hw=112),
}


def _feature_numel(batch: int, channels: int, hw: int, **_: Any) -> int:
    return batch * channels * hw * hw


@workload(
    family="layers",
    tags=("memory", "nn"),
    sizes=FEATURE_MAPS,
    variants={"op": ("avg", "max"), "mode": MODES},
    items=lambda batch, **_: batch,
    bytes=lambda itemsize, mode, **p: _feature_numel(**p) * itemsize * 5 // 4 * PASS_COST[mode],
    modes=("compile", "precision", "memory_format"),
)
def pool2d(
    ctx: RunContext, batch: int, channels: int, hw: int, op: str, mode: str, dtype: torch.dtype
) -> Callable[[], Any]:
    """AvgPool2d or MaxPool2d with a 2 x 2 window and stride 2 (bytes: input read + output written)."""
    layer = nn.AvgPool2d(2, 2) if op == "avg" else nn.MaxPool2d(2, 2)
    return module_call(ctx, layer, (ctx.randn(batch, channels, hw, hw, dtype=dtype),), mode)


FEATURE_LAYERS: dict[str, Callable[[int], nn.Module]] = {
    "batchnorm2d": nn.BatchNorm2d,
    "relu": lambda _: nn.ReLU(),
    "dropout2d": lambda _: nn.Dropout2d(),
    "softmax_dim3": lambda _: nn.Softmax(dim=3),
    "softmax2d": lambda _: nn.Softmax2d(),
}


@workload(
    family="layers",
    tags=("memory", "nn"),
    sizes=FEATURE_MAPS,
    variants={"op": tuple(FEATURE_LAYERS), "mode": MODES},
    items=lambda batch, **_: batch,
    bytes=lambda itemsize, mode, **p: 2 * _feature_numel(**p) * itemsize * PASS_COST[mode],
    modes=("compile", "precision", "memory_format"),
)
def feature_layer(
    ctx: RunContext, batch: int, channels: int, hw: int, op: str, mode: str, dtype: torch.dtype
) -> Callable[[], Any]:
    """BatchNorm2d, ReLU, Dropout2d, Softmax(dim=3) or Softmax2d on N x C x H x W maps, in training mode.

    Bytes count one read and one write of the map per pass: a lower bound.
    """
    layer = FEATURE_LAYERS[op](channels).to(ctx.device, dtype)
    return module_call(ctx, layer, (ctx.randn(batch, channels, hw, hw, dtype=dtype),), mode)


class SeedLinear(nn.Module):
    """The tutorial's hand-written fully connected layer: x @ w + b."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(in_features, out_features))
        self.b = nn.Parameter(torch.randn(out_features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mm(self.w) + self.b


@workload(
    family="layers",
    tags=("compute", "nn", "blas"),
    sizes={
        "seed": dict(batch=3, fin=4, fout=1),  # the tutorial's Linear(4, 1) on randn(3, 4)
        "smoke": dict(batch=16, fin=64, fout=32),
        "full": dict(batch=4096, fin=1024, fout=1024),
    },
    variants={"op": ("nn", "custom"), "mode": MODES},
    dtypes=HALF_ON_CUDA,
    items=lambda batch, **_: batch,
    flops=lambda batch, fin, fout, mode, **_: 2 * batch * fin * fout * PASS_COST[mode],
    modes=("compile", "precision"),
)
def linear(
    ctx: RunContext, batch: int, fin: int, fout: int, op: str, mode: str, dtype: torch.dtype
) -> Callable[[], Any]:
    """nn.Linear or the tutorial's custom Module Linear, fin -> fout on a batch."""
    layer = nn.Linear(fin, fout) if op == "nn" else SeedLinear(fin, fout)
    return module_call(ctx, layer.to(ctx.device, dtype), (ctx.randn(batch, fin, dtype=dtype),), mode)


class SeedMLP(nn.Module):
    """The tutorial's MulPerceptron: nn.Sequential(Linear, ReLU, Linear)."""

    def __init__(self, fin: int, hidden: int, fout: int) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Linear(fin, hidden), nn.ReLU(), nn.Linear(hidden, fout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


@workload(
    family="layers",
    tags=("compute", "nn"),
    sizes={
        "seed": dict(batch=200, fin=784, hidden=512, fout=1),  # MulPerceptron(784, 512, 1) on randn(200, 784)
        "smoke": dict(batch=16, fin=64, hidden=32, fout=1),
        "full": dict(batch=8192, fin=784, hidden=512, fout=1),
    },
    variants={"mode": MODES},
    dtypes=HALF_ON_CUDA,
    items=lambda batch, **_: batch,
    flops=lambda batch, fin, hidden, fout, mode, **_: 2 * batch * (fin * hidden + hidden * fout) * PASS_COST[mode],
    modes=("compile", "precision"),
)
def mlp(
    ctx: RunContext, batch: int, fin: int, hidden: int, fout: int, mode: str, dtype: torch.dtype
) -> Callable[[], Any]:
    """The tutorial's nn.Sequential MLP: fin -> hidden -> ReLU -> fout."""
    model = SeedMLP(fin, hidden, fout).to(ctx.device, dtype)
    return module_call(ctx, model, (ctx.randn(batch, fin, dtype=dtype),), mode)
