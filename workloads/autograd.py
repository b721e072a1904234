"""Autograd: an analytic gradient check and the tutorial's linear regression, by hand and with nn."""

from __future__ import annotations

from collections.abc import Callable

import torch

from bench.api import RunContext, workload

REGRESSION_SEED = 42  # the tutorial's torch.manual_seed(42)
LEARNING_RATE = 0.01


def x2_exp(x: torch.Tensor) -> torch.Tensor:
    return x**2 * torch.exp(x)


def x2_exp_grad(x: torch.Tensor) -> torch.Tensor:
    """The analytic derivative of x**2 * e**x."""
    return 2 * x * torch.exp(x) + x**2 * torch.exp(x)


@workload(
    family="autograd",
    tags=("training",),
    sizes={"seed": dict(rows=3, cols=3), "smoke": dict(rows=32, cols=32), "full": dict(rows=4096, cols=4096)},
    items=lambda rows, cols, **_: rows * cols,
)
def grad_x2_exp(ctx: RunContext, rows: int, cols: int, dtype: torch.dtype) -> Callable[[], torch.Tensor]:
    """Forward and backward of y = x**2 * e**x for x in [0, 1); returns dy/dx."""
    x = ctx.rand(rows, cols, dtype=dtype).requires_grad_(True)

    def forward_backward() -> torch.Tensor:
        x.grad = None
        y = x2_exp(x)
        y.backward(torch.ones_like(y))
        return x.grad

    return forward_backward


def regression_data(points: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """The tutorial's data and start point: y = 3x + 2 + noise, then w ~ N(0,1), b ~ N(0,1).

    Drawn on the CPU from a generator seeded 42, in the tutorial's order, so every
    device starts from the same numbers.
    """
    g = torch.Generator().manual_seed(REGRESSION_SEED)
    x = torch.randn(points, 1, generator=g)
    y = 3 * x + 2 + torch.randn(points, 1, generator=g)
    w = torch.randn(1, 1, generator=g)
    b = torch.randn(1, generator=g)
    return tuple(t.to(device=device, dtype=dtype) for t in (x, y, w, b))


REGRESSION_SIZES = {
    "seed": dict(points=100, steps=100),
    "smoke": dict(points=100, steps=10),
    "full": dict(points=1_000_000, steps=100),
}


@workload(family="autograd", tags=("training",), sizes=REGRESSION_SIZES, items=lambda steps, **_: steps)
def linreg_manual(
    ctx: RunContext, points: int, steps: int, dtype: torch.dtype
) -> Callable[[], tuple[torch.Tensor, ...]]:
    """The tutorial's regression: `steps` of gradient descent (lr 0.01) on leaf tensors w, b.

    Returns (w, b, last loss).  The tutorial's early exit on a vanishing gradient
    is left out: it never fires within 100 steps, and it would force a host
    sync each step.
    """
    x, y, w0, b0 = regression_data(points, ctx.device, dtype)

    def train() -> tuple[torch.Tensor, ...]:
        w = w0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        for _ in range(steps):
            loss = torch.mean((torch.mm(x, w) + b - y) ** 2)
            loss.backward()
            with torch.no_grad():
                w -= LEARNING_RATE * w.grad
                b -= LEARNING_RATE * b.grad
            w.grad = None
            b.grad = None
        return w.detach(), b.detach(), loss.detach()

    return train


@workload(family="autograd", tags=("training", "nn"), sizes=REGRESSION_SIZES, items=lambda steps, **_: steps)
def linreg_module(
    ctx: RunContext, points: int, steps: int, dtype: torch.dtype
) -> Callable[[], tuple[torch.Tensor, ...]]:
    """The same regression with nn.Linear(1, 1), nn.MSELoss and optim.SGD(lr=0.01).

    Starts from the same w and b as the manual version, so both give the same line.
    """
    x, y, w0, b0 = regression_data(points, ctx.device, dtype)
    model = torch.nn.Linear(1, 1).to(device=ctx.device, dtype=dtype)
    criterion = torch.nn.MSELoss()

    def train() -> tuple[torch.Tensor, ...]:
        with torch.no_grad():
            model.weight.copy_(w0.T)
            model.bias.copy_(b0)
        optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
        for _ in range(steps):
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
        return model.weight.detach().T.clone(), model.bias.detach().clone(), loss.detach()

    return train
