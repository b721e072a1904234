"""Loss functions and one optimizer step each, as the tutorial lists them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.api import Prepared, RunContext, workload
from workloads.passes import MODES, pass_call

# The tutorial's cross-entropy example: 4 samples, 3 classes.
SEED_LOGITS = ((0.1, 0.2, 0.7), (0.6, 0.3, 0.1), (0.8, 0.1, 0.1), (0.3, 0.5, 0.2))
SEED_LABELS = (2, 1, 0, 2)

LOSSES: dict[str, nn.Module] = {
    "mse": nn.MSELoss(),
    "cross_entropy": nn.CrossEntropyLoss(),
    "bce": nn.BCELoss(),
    "bce_with_logits": nn.BCEWithLogitsLoss(),
    "nll": nn.NLLLoss(),
}


def loss_inputs(
    ctx: RunContext, batch: int, classes: int, source: str, op: str, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """(prediction, target) in the form each loss expects."""
    if source == "seed":
        scores = torch.tensor(SEED_LOGITS, device=ctx.device, dtype=dtype)
        labels = torch.tensor(SEED_LABELS, device=ctx.device)
    else:
        scores = ctx.randn(batch, classes, dtype=dtype)
        labels = torch.randint(0, classes, (batch,), device=ctx.device)
    if op == "mse":
        return scores, ctx.randn(*scores.shape, dtype=dtype)
    if op in ("bce", "bce_with_logits"):
        target = F.one_hot(labels, scores.shape[1]).to(dtype)
        return (torch.sigmoid(scores) if op == "bce" else scores), target
    if op == "nll":
        return F.log_softmax(scores, dim=1), labels
    return scores, labels


@workload(
    family="losses",
    tags=("training",),
    sizes={
        "seed": dict(batch=4, classes=3, source="seed"),
        "smoke": dict(batch=16, classes=10, source="random"),
        "full": dict(batch=4096, classes=1000, source="random"),
    },
    variants={"op": tuple(LOSSES), "mode": MODES},
    items=lambda batch, **_: batch,
)
def loss(
    ctx: RunContext, batch: int, classes: int, source: str, op: str, mode: str, dtype: torch.dtype
) -> Callable[[], Any]:
    """MSE, CrossEntropy, BCE, BCEWithLogits or NLL loss over batch x classes (mean reduction)."""
    prediction, target = loss_inputs(ctx, batch, classes, source, op, dtype)
    return pass_call(LOSSES[op], (prediction, target), mode, grad_inputs=1)  # targets are data


OPTIMIZERS: dict[str, Callable[[list[torch.Tensor]], torch.optim.Optimizer]] = {
    "sgd_momentum": lambda p: torch.optim.SGD(p, lr=0.001, momentum=0.9),  # the tutorial's setting
    "adam": lambda p: torch.optim.Adam(p, lr=1e-3),
    "adamw": lambda p: torch.optim.AdamW(p, lr=1e-3),
    "adagrad": lambda p: torch.optim.Adagrad(p, lr=1e-2),
    "rmsprop": lambda p: torch.optim.RMSprop(p, lr=1e-2),
}


@workload(
    family="optim",
    tags=("training",),
    sizes={
        "smoke": dict(tensors=4, numel=4096),
        # ResNet18's 62 parameter tensors and ~11.7 M parameters (10-class head)
        "full": dict(tensors=62, numel=11_181_642),
    },
    variants={"op": tuple(OPTIMIZERS)},
    items=lambda numel, **_: numel,
)
def optimizer_step(ctx: RunContext, tensors: int, numel: int, op: str, dtype: torch.dtype) -> Prepared:
    """One optimizer.step() over `numel` parameters split into `tensors` tensors, gradients fixed.

    step() returns nothing: the result is the stepped parameters and the optimizer's state.
    """
    sizes = [numel // tensors + (i < numel % tensors) for i in range(tensors)]
    params = [nn.Parameter(ctx.randn(n, dtype=dtype)) for n in sizes]
    for p in params:
        p.grad = ctx.randn(p.numel(), dtype=dtype) * 1e-3
    optimizer = OPTIMIZERS[op](params)
    return Prepared(optimizer.step, result=lambda _: (params, optimizer))
