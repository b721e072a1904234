"""One training step of the CIFAR-10 models — forward, backward, the recipe's SGD update — on one
fixed batch: the step's own speed, apart from data loading and epochs, in every execution mode.

The batch is random numbers of CIFAR-10's shape (3 x 32 x 32, 10 classes): a step's time does not
depend on the pixels, and no accuracy is claimed. FLOPs are counted by torch's FlopCounterMode on
the model itself (forward and backward per image, times the batch).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from bench.api import Prepared, RunContext, Work, workload
from workloads.cifar.models import MODELS
from workloads.cifar.train import MOMENTUM

CLASSES = 10
LR = 0.001  # the recipe's


def step_flops(net: nn.Module, device: torch.device) -> float:
    """Forward and backward FLOPs per CIFAR-10 image through ``net`` (its gradients left cleared);
    counted on two images, as batch norm in training mode needs more than one."""
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(2, 3, 32, 32, device=device)).sum().backward()
    net.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 2


@workload(
    family="cifar10",
    tags=("training", "compute"),
    sizes={
        "seed": dict(batch=64),  # the tutorial's batch
        "smoke": dict(batch=8),
        "full": dict(batch=256),
    },
    variants={"model": tuple(MODELS)},
    items=lambda batch, **_: batch,
    modes=("compile", "precision", "memory_format"),
)
def cifar_step(ctx: RunContext, batch: int, model: str, dtype: torch.dtype) -> Prepared:
    """One SGD step of `model` (lr 0.001, momentum 0.9) on a random batch of CIFAR-10's shape; items: images."""
    net = MODELS[model]().to(ctx.device)  # initialised from the harness's seed
    flops = step_flops(net, ctx.device) * batch
    images = ctx.randn(batch, 3, 32, 32)
    labels = torch.randint(0, CLASSES, (batch,), device=ctx.device)
    optimizer = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM)
    criterion, trained, scaler = nn.CrossEntropyLoss(), ctx.module(net.train()), ctx.grad_scaler()

    def call() -> dict[str, Any]:
        optimizer.zero_grad()
        with ctx.autocast():
            loss = criterion(trained(images), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        return {"loss": loss.detach(), "gradients": [p.grad for p in net.parameters()]}

    return Prepared(call, work=Work(items=float(batch), flops=float(flops)))
