"""Pointwise math and row-wise reductions, the tutorial's list of math functions."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bench.api import RunContext, workload

POINTWISE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "abs": torch.abs,
    "sqrt": torch.sqrt,
    "exp": torch.exp,
    "log": torch.log,
    "sin": torch.sin,
    "cos": torch.cos,
    "tan": torch.tan,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "clamp": lambda x: torch.clamp(x, -0.5, 0.5),
    "round": torch.round,
    "floor": torch.floor,
}
POSITIVE_ONLY = {"sqrt", "log"}

ROWWISE: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sum": lambda x: x.sum(dim=-1),
    "mean": lambda x: x.mean(dim=-1),
    "max": lambda x: x.max(dim=-1).values,
    "min": lambda x: x.min(dim=-1).values,
    "argmax": lambda x: x.argmax(dim=-1),
    "argmin": lambda x: x.argmin(dim=-1),
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "sort": lambda x: torch.sort(x, dim=-1).values,
}
WRITES_ROWS = {"softmax", "sort"}  # these write a full-size output, the rest one value per row


def pointwise_input(ctx: RunContext, n: int, op: str, dtype: torch.dtype) -> torch.Tensor:
    """Values in (-3, 3), or (0.1, 3) where the function needs positive input."""
    x = ctx.randn(n, dtype=dtype).clamp_(-3, 3)
    return x.abs_().add_(0.1) if op in POSITIVE_ONLY else x


@workload(
    family="math",
    tags=("memory", "pointwise"),
    sizes={"seed": dict(n=3), "smoke": dict(n=4096), "full": [dict(n=1 << 16), dict(n=1 << 24)]},
    variants={"op": tuple(POINTWISE)},
    items=lambda n, **_: n,
    bytes=lambda n, itemsize, **_: 2 * n * itemsize,
)
def pointwise(ctx: RunContext, n: int, op: str, dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """One pointwise function over n elements (read n, write n)."""
    x, fn = pointwise_input(ctx, n, op, dtype), POINTWISE[op]
    return lambda: fn(x)


@workload(
    family="math",
    tags=("memory", "reduction"),
    sizes={
        "seed": dict(rows=2, cols=2),
        "smoke": dict(rows=16, cols=256),
        "full": [dict(rows=4096, cols=4096), dict(rows=64, cols=1 << 18)],
    },
    variants={"op": tuple(ROWWISE)},
    items=lambda rows, cols, **_: rows * cols,
    bytes=lambda rows, cols, op, itemsize, **_: rows * cols * itemsize * (2 if op in WRITES_ROWS else 1),
)
def rowwise(ctx: RunContext, rows: int, cols: int, op: str, dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """A reduction, softmax or sort along the last dimension of a rows x cols matrix."""
    x, fn = ctx.randn(rows, cols, dtype=dtype), ROWWISE[op]
    return lambda: fn(x)
