"""Creating tensors: random distributions, uninitialised storage, numpy round-trips."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bench.api import Prepared, RunContext, returned, workload

SHAPES = {
    "seed": dict(rows=5, cols=3),  # the tutorial's torch.rand(5, 3) and Tensor(5, 3)
    "smoke": dict(rows=64, cols=64),
    "full": [dict(rows=1024, cols=1024), dict(rows=4096, cols=4096)],
}


def _numel(rows: int, cols: int, **_: object) -> int:
    return rows * cols


@workload(
    family="tensors",
    tags=("memory",),
    sizes=SHAPES,
    variants={"op": ("rand", "randn", "randint", "normal", "empty")},
    items=_numel,
    bytes=lambda rows, cols, op, itemsize, **_: rows * cols * (8 if op == "randint" else itemsize),
)
def create_tensor(ctx: RunContext, rows: int, cols: int, op: str, dtype: torch.dtype) -> Prepared:
    """Create a rows x cols tensor: rand, randn, randint(0, 10), normal(0, 1) or uninitialised (empty).

    ``empty``'s contents are undefined, so it declares no result to check (with deterministic
    algorithms on, torch fills them with NaN, which the record's ``fill_uninitialized_memory`` says).
    """
    shape, device = (rows, cols), ctx.device
    makers: dict[str, Callable[[], torch.Tensor]] = {
        "rand": lambda: torch.rand(shape, device=device, dtype=dtype),
        "randn": lambda: torch.randn(shape, device=device, dtype=dtype),
        "randint": lambda: torch.randint(0, 10, shape, device=device),
        "normal": lambda: torch.normal(0.0, 1.0, size=shape, device=device, dtype=dtype),
        "empty": lambda: torch.empty(shape, device=device, dtype=dtype),
    }
    return Prepared(makers[op], result=None if op == "empty" else returned)


@workload(family="tensors", tags=("numpy", "transfer"), sizes=SHAPES, items=_numel)
def numpy_roundtrip(ctx: RunContext, rows: int, cols: int, dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """tensor.numpy() then torch.from_numpy back onto the device (zero-copy on the CPU, two copies on CUDA)."""
    source = ctx.randn(rows, cols, dtype=dtype)

    def roundtrip() -> torch.Tensor:
        array = source.cpu().numpy()
        return torch.from_numpy(array).to(ctx.device)

    return roundtrip
