"""Forward-only and forward+backward calls, shared by the layer-like workloads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

MODES = ("fwd", "fwd_bwd")

# A backward pass costs about twice the forward (gradients of inputs and weights).
PASS_COST = {"fwd": 1, "fwd_bwd": 3}


def pass_call(
    forward: Callable[..., torch.Tensor],
    inputs: tuple[torch.Tensor, ...],
    mode: str,
    params: list[torch.nn.Parameter] | None = None,
    grad_inputs: int | None = None,
) -> Callable[[], Any]:
    """The timed call for one pass of ``forward`` over ``inputs``.

    ``fwd`` runs under ``torch.no_grad`` and returns the output; ``fwd_bwd``
    clears the parameters' gradients, runs forward with gradients of the
    floating inputs too (of the first ``grad_inputs`` only, when given),
    back-propagates a fixed random output gradient and returns (output,
    output gradient, input gradients...).
    """
    if mode == "fwd":

        def forward_only() -> torch.Tensor:
            with torch.no_grad():
                return forward(*inputs)

        return forward_only
    if mode != "fwd_bwd":
        raise ValueError(f"unknown mode {mode!r}")
    wanted = len(inputs) if grad_inputs is None else grad_inputs
    leaves = tuple(x.detach().requires_grad_(i < wanted and x.is_floating_point()) for i, x in enumerate(inputs))
    with torch.no_grad():
        grad_out = torch.randn_like(forward(*inputs))
    params = params or []

    def forward_backward() -> tuple[torch.Tensor, ...]:
        for p in params:
            p.grad = None
        for x in leaves:
            x.grad = None
        out = forward(*leaves)
        out.backward(grad_out)
        return out, grad_out, *(x.grad for x in leaves if x.requires_grad)

    return forward_backward


def module_call(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...], mode: str) -> Callable[[], Any]:
    """:func:`pass_call` for an ``nn.Module`` (kept in training mode, as in training)."""
    module.train()
    return pass_call(module, inputs, mode, list(module.parameters()))
