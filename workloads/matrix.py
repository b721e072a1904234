"""Matrix products, shape manipulation, joins and splits, linear algebra."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bench.api import RunContext, workload

MATMUL_DTYPES = {"cpu": ("float32",), "cuda": ("float32", "bfloat16", "float16")}


@workload(
    family="matrix",
    tags=("compute", "blas"),
    sizes={"smoke": dict(n=64), "full": [dict(n=256), dict(n=1024), dict(n=2048), dict(n=4096)]},
    variants={"op": ("mm", "matmul")},
    dtypes=MATMUL_DTYPES,
    items=lambda n, **_: 1,
    flops=lambda n, **_: 2 * n**3,
    bytes=lambda n, itemsize, **_: 3 * n * n * itemsize,
)
def mm(ctx: RunContext, n: int, op: str, dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """Square n x n matrix product through torch.mm or torch.matmul."""
    a, b = ctx.randn(n, n, dtype=dtype), ctx.randn(n, n, dtype=dtype)
    fn = torch.mm if op == "mm" else torch.matmul
    return lambda: fn(a, b)


@workload(
    family="matrix",
    tags=("compute", "blas"),
    sizes={"smoke": dict(batch=4, n=32), "full": [dict(batch=64, n=128), dict(batch=16, n=1024)]},
    variants={"op": ("matmul", "einsum")},
    dtypes=MATMUL_DTYPES,
    items=lambda batch, **_: batch,
    flops=lambda batch, n, **_: 2 * batch * n**3,
    bytes=lambda batch, n, itemsize, **_: 3 * batch * n * n * itemsize,
)
def batched_matmul(ctx: RunContext, batch: int, n: int, op: str, dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """A batch of n x n products, through torch.matmul or torch.einsum('bij,bjk->bik')."""
    a, b = ctx.randn(batch, n, n, dtype=dtype), ctx.randn(batch, n, n, dtype=dtype)
    if op == "einsum":
        return lambda: torch.einsum("bij,bjk->bik", a, b)
    return lambda: torch.matmul(a, b)


SHAPE_OPS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "transpose": lambda x: x.transpose(1, 2),
    "permute": lambda x: x.permute(0, 2, 3, 1),
    "view": lambda x: x.view(x.shape[0], -1),
    "reshape": lambda x: x.reshape(x.shape[0], -1),
    "flatten": lambda x: x.flatten(1),
    "squeeze": lambda x: x.unsqueeze(0).squeeze(0),
    "unsqueeze": lambda x: x.unsqueeze(1),
    "permute_contiguous": lambda x: x.permute(0, 2, 3, 1).contiguous(),
}


@workload(
    family="matrix",
    tags=("overhead", "shape"),
    sizes={
        "seed": dict(batch=1, channels=2, hw=2),
        "smoke": dict(batch=2, channels=4, hw=8),
        "full": dict(batch=32, channels=64, hw=56),
    },
    variants={"op": tuple(SHAPE_OPS)},
    items=lambda **_: 1,
    bytes=lambda batch, channels, hw, op, itemsize, **_: (
        2 * batch * channels * hw * hw * itemsize if op == "permute_contiguous" else None
    ),
)
def shape_ops(
    ctx: RunContext, batch: int, channels: int, hw: int, op: str, dtype: torch.dtype
) -> Callable[[], torch.Tensor]:
    """View-producing shape ops on an N x C x H x W tensor (metadata only), and one real copy (permute_contiguous)."""
    x, fn = ctx.randn(batch, channels, hw, hw, dtype=dtype), SHAPE_OPS[op]
    return lambda: fn(x)


@workload(
    family="matrix",
    tags=("memory", "shape"),
    sizes={
        "seed": dict(parts=2, rows=2, cols=3),
        "smoke": dict(parts=4, rows=16, cols=16),
        "full": dict(parts=8, rows=2048, cols=1024),
    },
    variants={"op": ("cat", "stack", "split", "chunk")},
    items=lambda parts, **_: parts,
    bytes=lambda parts, rows, cols, op, itemsize, **_: (
        2 * parts * rows * cols * itemsize if op in ("cat", "stack") else None
    ),
)
def join_split(ctx: RunContext, parts: int, rows: int, cols: int, op: str, dtype: torch.dtype) -> Callable[[], object]:
    """Join `parts` rows x cols tensors (cat, stack: a copy) or split one into `parts` (split, chunk: views)."""
    pieces = [ctx.randn(rows, cols, dtype=dtype) for _ in range(parts)]
    whole = torch.cat(pieces)
    calls: dict[str, Callable[[], object]] = {
        "cat": lambda: torch.cat(pieces),
        "stack": lambda: torch.stack(pieces),
        "split": lambda: torch.split(whole, rows),
        "chunk": lambda: torch.chunk(whole, parts),
    }
    return calls[op]


SEED_MATRIX = ((1.0, 2.0), (3.0, 4.0))  # the tutorial's example for svd and eig

LINALG: dict[str, Callable[[torch.Tensor], object]] = {
    "det": torch.linalg.det,
    "inverse": torch.linalg.inv,
    "svd": torch.linalg.svd,
    "eig": torch.linalg.eig,
}


def linalg_input(ctx: RunContext, n: int, source: str, dtype: torch.dtype) -> torch.Tensor:
    """The tutorial's 2 x 2 matrix, or a well-conditioned random one (I + noise / sqrt(n))."""
    if source == "seed":
        return torch.tensor(SEED_MATRIX, device=ctx.device, dtype=dtype)
    return torch.eye(n, device=ctx.device, dtype=dtype) + ctx.randn(n, n, dtype=dtype) / n**0.5


@workload(
    family="matrix",
    tags=("compute", "linalg"),
    sizes={
        "seed": dict(n=2, source="seed"),
        "smoke": dict(n=16, source="random"),
        "full": [dict(n=128, source="random"), dict(n=512, source="random")],
    },
    variants={"op": tuple(LINALG)},
    items=lambda **_: 1,
)
def linalg(ctx: RunContext, n: int, source: str, op: str, dtype: torch.dtype) -> Callable[[], object]:
    """torch.linalg det, inv, svd or eig of an n x n matrix."""
    a, fn = linalg_input(ctx, n, source, dtype), LINALG[op]
    return lambda: fn(a)


DIAGONAL: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "trace": torch.trace,
    "diag": torch.diag,
    "diag_embed": lambda x: torch.diag_embed(x[0]),
}


@workload(
    family="matrix",
    tags=("memory",),
    sizes={"seed": dict(n=3), "smoke": dict(n=64), "full": dict(n=4096)},
    variants={"op": tuple(DIAGONAL)},
    items=lambda n, **_: n,
)
def diagonal(ctx: RunContext, n: int, op: str, dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """trace and diag of an n x n matrix; diag_embed of a length-n vector into one."""
    x, fn = ctx.randn(n, n, dtype=dtype), DIAGONAL[op]
    return lambda: fn(x)
