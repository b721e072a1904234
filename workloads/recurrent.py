"""Recurrent layers: RNN, LSTM and GRU forward (and forward+backward) passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bench.api import RunContext, workload
from workloads.passes import MODES, PASS_COST, module_call

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def recurrent_flops(
    cell: str,
    seq: int,
    batch: int,
    features: int,
    hidden: int,
    layers: int,
    bidirectional: bool,
    mode: str,
    **_: Any,
) -> int:
    """Matrix-multiply FLOPs: per step, direction and layer, 2 * gates * hidden * (in + hidden) * batch."""
    dirs = 2 if bidirectional else 1
    total = 0
    for layer in range(layers):
        fin = features if layer == 0 else hidden * dirs
        total += dirs * seq * batch * 2 * GATES[cell] * hidden * (fin + hidden)
    return total * PASS_COST[mode]


@workload(
    family="recurrent",
    tags=("compute", "nn"),
    sizes={
        # the tutorial's nn.RNN(4, 3, 1) on a 3 x 2 x 4 input
        "seed": dict(seq=3, batch=2, features=4, hidden=3, layers=1, bidirectional=False, batch_first=False),
        "smoke": dict(seq=8, batch=4, features=16, hidden=16, layers=2, bidirectional=True, batch_first=True),
        "full": [
            dict(seq=128, batch=64, features=512, hidden=512, layers=2, bidirectional=False, batch_first=False),
            dict(seq=128, batch=64, features=512, hidden=512, layers=2, bidirectional=True, batch_first=True),
        ],
    },
    variants={"cell": tuple(CELLS), "mode": MODES},
    items=lambda seq, batch, **_: seq * batch,
    flops=recurrent_flops,
    modes=("compile", "precision"),
)
def recurrent(
    ctx: RunContext,
    seq: int,
    batch: int,
    features: int,
    hidden: int,
    layers: int,
    bidirectional: bool,
    batch_first: bool,
    cell: str,
    mode: str,
    dtype: torch.dtype,
) -> Callable[[], Any]:
    """nn.RNN, nn.LSTM or nn.GRU over a whole sequence; items are tokens (seq x batch)."""
    model = CELLS[cell](features, hidden, layers, batch_first=batch_first, bidirectional=bidirectional)
    model = model.to(ctx.device, dtype)
    shape = (batch, seq, features) if batch_first else (seq, batch, features)
    x = ctx.randn(*shape, dtype=dtype)
    return module_call(ctx, model if mode == "fwd" else _OutputOnly(model), (x,), mode)


class _OutputOnly(nn.Module):
    """Keeps only the per-step output, so backward has one tensor to start from."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[0]
