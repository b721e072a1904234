"""Correctness of the tensor-creation and math workloads against numpy float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workloads.math_ops import POINTWISE, ROWWISE, pointwise_input

NUMPY_POINTWISE = {
    "abs": np.abs,
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "relu": lambda x: np.maximum(x, 0),
    "clamp": lambda x: np.clip(x, -0.5, 0.5),
    "round": np.round,
    "floor": np.floor,
}


@pytest.mark.parametrize("op", ["rand", "randn", "randint", "normal", "empty"])
@pytest.mark.parametrize("size", ["seed", "smoke"])
def test_create_tensor_shapes_and_ranges(run, op: str, size: str) -> None:
    t = run("create_tensor", size, op=op)
    assert t.shape == ((5, 3) if size == "seed" else (64, 64))
    assert t.dtype == (torch.int64 if op == "randint" else torch.float32)
    if op == "rand":
        assert t.min() >= 0 and t.max() < 1
    if op == "randint":
        assert t.min() >= 0 and t.max() <= 9
    if op in ("randn", "normal") and size == "smoke":
        assert abs(t.mean().item()) < 0.1 and 0.9 < t.std().item() < 1.1


def test_numpy_roundtrip_gives_back_the_same_values(ctx, run) -> None:
    out = run("numpy_roundtrip", "smoke")
    ctx.seed_everything()
    assert torch.equal(out, ctx.randn(64, 64))  # the workload's source, drawn from the same seed
    assert out.device == ctx.device


def test_pointwise_covers_the_tutorial_list() -> None:
    assert set(POINTWISE) == set(NUMPY_POINTWISE)


@pytest.mark.parametrize("op", sorted(POINTWISE))
def test_pointwise_matches_numpy(ctx, run, op: str) -> None:
    out = run("pointwise", "smoke", op=op)
    ctx.seed_everything()
    x = pointwise_input(ctx, 4096, op, torch.float32).double().numpy()
    expected = NUMPY_POINTWISE[op](x)
    np.testing.assert_allclose(out.double().numpy(), expected, rtol=2e-5, atol=1e-6)


NUMPY_ROWWISE = {
    "sum": lambda x: x.sum(-1),
    "mean": lambda x: x.mean(-1),
    "max": lambda x: x.max(-1),
    "min": lambda x: x.min(-1),
    "argmax": lambda x: x.argmax(-1),
    "argmin": lambda x: x.argmin(-1),
    "softmax": lambda x: (
        np.exp(x - x.max(-1, keepdims=True)) / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)
    ),
    "sort": lambda x: np.sort(x, -1),
}


@pytest.mark.parametrize("op", sorted(ROWWISE))
def test_rowwise_matches_numpy(ctx, run, op: str) -> None:
    out = run("rowwise", "smoke", op=op)
    ctx.seed_everything()
    x = ctx.randn(16, 256).double().numpy()
    np.testing.assert_allclose(out.double().numpy(), NUMPY_ROWWISE[op](x), rtol=1e-5, atol=1e-5)


def test_softmax_of_the_tutorial_example() -> None:
    # torch.softmax(tensor([[1, 2], [3, 4]]), dim=1): each row is (1/(1+e), e/(1+e))
    out = ROWWISE["softmax"](torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    low = 1 / (1 + np.e)
    np.testing.assert_allclose(out.numpy(), [[low, 1 - low], [low, 1 - low]], rtol=1e-6)
