"""A user's own workload, kept outside the suite: one pre-norm transformer encoder block, forward
and backward, as a language or vision model trains it.

    python -m bench run --workloads examples/transformer --quick      # its smoke size only
    python -m bench run --workloads examples/transformer/transformer_block.py --size full

It imports nothing from the harness but ``bench.api``; see docs/workloads.md.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from bench.api import RunContext, workload


class Block(nn.Module):
    """LayerNorm -> multi-head self-attention -> residual; LayerNorm -> MLP (4x, GELU) -> residual."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.norm1(x)
        x = x + self.attention(normed, normed, normed, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


def block_flops(batch: int, seq: int, width: int, **_: object) -> float:
    """Forward FLOPs of the matrix products (projections, attention scores and mix, MLP), times 3
    for forward and backward; norms and softmax are left out (a few percent)."""
    tokens = batch * seq
    projections = 2 * tokens * width * (4 * width)  # q, k, v and the output projection
    attention = 2 * 2 * batch * seq * seq * width  # scores and the weighted sum
    mlp = 2 * tokens * width * (8 * width)  # two linears, width -> 4 width -> width
    return 3.0 * (projections + attention + mlp)


@workload(
    family="transformer",
    tags=("example", "model", "compute"),
    sizes={
        "smoke": dict(batch=2, seq=16, width=32, heads=2),
        "full": [dict(batch=8, seq=128, width=256, heads=4), dict(batch=4, seq=512, width=512, heads=8)],
    },
    dtypes={"cpu": ("float32",), "cuda": ("float32", "bfloat16")},
    items=lambda batch, seq, **_: batch * seq,  # tokens
    flops=block_flops,
)
def transformer_block(
    ctx: RunContext, batch: int, seq: int, width: int, heads: int, dtype: torch.dtype
) -> Callable[[], tuple[torch.Tensor, ...]]:
    """One transformer encoder block, forward and backward over batch x seq tokens; items: tokens."""
    block = Block(width, heads).to(ctx.device, dtype)
    x = ctx.randn(batch, seq, width, dtype=dtype)
    grad = ctx.randn(batch, seq, width, dtype=dtype)

    def step() -> tuple[torch.Tensor, ...]:
        block.zero_grad(set_to_none=True)
        out = block(x)
        out.backward(grad)
        return out.detach(), *(p.grad for p in block.parameters())

    return step
