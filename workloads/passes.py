"""Forward-only and forward+backward calls, shared by the layer-like workloads, in the case's execution mode."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch

from bench.api import RunContext

MODES = ("fwd", "fwd_bwd")

# A backward pass costs about twice the forward (gradients of inputs and weights).
PASS_COST = {"fwd": 1, "fwd_bwd": 3}


def pass_call(
    forward: Callable[..., torch.Tensor],
    inputs: tuple[torch.Tensor, ...],
    mode: str,
    params: list[torch.nn.Parameter] | None = None,
    grad_inputs: int | None = None,
    autocast: Callable[[], contextlib.AbstractContextManager[Any]] = contextlib.nullcontext,
) -> Callable[[], Any]:
    """The timed call for one pass of ``forward`` over ``inputs``.

    ``fwd`` runs under ``torch.no_grad`` and returns the output; ``fwd_bwd``
    clears the parameters' gradients, runs forward with gradients of the
    floating inputs too (of the first ``grad_inputs`` only, when given),
    back-propagates a fixed random output gradient and returns (output,
    output gradient, input gradients...). Forward runs under ``autocast()``
    (the case's precision), backward outside it, as autocast asks.
    """
    if mode == "fwd":

        def forward_only() -> torch.Tensor:
            with torch.no_grad(), autocast():
                return forward(*inputs)

        return forward_only
    if mode != "fwd_bwd":
        raise ValueError(f"unknown mode {mode!r}")
    wanted = len(inputs) if grad_inputs is None else grad_inputs
    leaves = tuple(x.detach().requires_grad_(i < wanted and x.is_floating_point()) for i, x in enumerate(inputs))
    with torch.no_grad(), autocast():
        out = forward(*inputs)
        # drawn in the output's logical order, then laid out as it is: the same numbers in any memory format
        grad_out = torch.empty_like(out).copy_(torch.randn(out.shape, dtype=out.dtype, device=out.device))
    params = params or []

    def forward_backward() -> tuple[torch.Tensor, ...]:
        for p in params:
            p.grad = None
        for x in leaves:
            x.grad = None
        with autocast():
            out = forward(*leaves)
        out.backward(grad_out)
        return out, grad_out, *(x.grad for x in leaves if x.requires_grad)

    return forward_backward


def module_call(
    ctx: RunContext, module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], mode: str
) -> Callable[[], Any]:
    """:func:`pass_call` for an ``nn.Module`` (kept in training mode, as in training), in the case's
    execution mode: the module laid out and compiled as it asks, forward under its autocast."""
    module.train()
    return pass_call(ctx.module(module), inputs, mode, list(module.parameters()), autocast=ctx.autocast)
