"""Correctness of the layer workloads against float64 and the tutorial's printed outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from workloads.layers import FEATURE_LAYERS, edge_kernel


def _module_weights(ctx, build):
    """Rebuild the module the workload made, from the same seed, to read its weights."""
    ctx.seed_everything()
    return build()


def test_edge_conv_matches_numpy_correlation(ctx, run) -> None:
    out = run("conv2d_edge", "smoke")
    assert out.shape == (1, 1, 30, 29)  # H - 2, W - 2
    _module_weights(ctx, lambda: torch.nn.Conv2d(1, 1, (3, 3), bias=False))  # the draws made before the image
    image = ctx.rand(1, 1, 32, 31)[0, 0].double().numpy()
    kernel = edge_kernel().double().numpy()
    expected = np.zeros((30, 29))
    for dy in range(3):
        for dx in range(3):
            expected += kernel[dy, dx] * image[dy : dy + 30, dx : dx + 29]
    np.testing.assert_allclose(out[0, 0].double().numpy(), expected, rtol=1e-5, atol=1e-6)


def test_edge_conv_seed_shape(run) -> None:
    """The tutorial's 480 x 479 grayscale image gives a 478 x 477 map."""
    assert run("conv2d_edge", "seed").shape == (1, 1, 478, 477)


def test_edge_kernel_is_the_tutorials() -> None:
    expected = np.full((3, 3), -1 / 9)
    expected[1, 1] = 1
    np.testing.assert_allclose(edge_kernel().numpy(), expected, rtol=1e-6)


def test_conv2d_forward_and_backward_match_float64(ctx, run) -> None:
    out, grad_out, grad_x = run("conv2d", "smoke", mode="fwd_bwd")
    layer = _module_weights(ctx, lambda: torch.nn.Conv2d(3, 8, 3, 1, padding=1))
    x = ctx.randn(2, 3, 16, 16).double().requires_grad_(True)
    ref = F.conv2d(x, layer.weight.double(), layer.bias.double(), padding=1)
    ref.backward(grad_out.double())
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad_x.double(), x.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["avg", "max"])
def test_pool2d_matches_numpy(ctx, run, op: str) -> None:
    out = run("pool2d", "smoke", op=op, mode="fwd")
    ctx.seed_everything()
    x = ctx.randn(2, 8, 16, 16).double().numpy().reshape(2, 8, 8, 2, 8, 2)
    expected = x.mean(axis=(3, 5)) if op == "avg" else x.max(axis=(3, 5))
    np.testing.assert_allclose(out.double().numpy(), expected, rtol=1e-6, atol=1e-6)


def test_batchnorm_reproduces_the_tutorial_example() -> None:
    """BatchNorm2d(1) on [[9, 1], [8, 9]] prints [[0.6727, -1.7191], [0.3737, 0.6727]]."""
    out = FEATURE_LAYERS["batchnorm2d"](1)(torch.tensor([[[[9.0, 1.0], [8.0, 9.0]]]]))
    np.testing.assert_allclose(out.detach().numpy().ravel(), [0.6727, -1.7191, 0.3737, 0.6727], atol=1e-4)


def test_softmax_dim3_reproduces_the_tutorial_example() -> None:
    out = FEATURE_LAYERS["softmax_dim3"](1)(torch.tensor([[[[7.0, 5.0, 2.0, 0.0]]]]))
    np.testing.assert_allclose(out.numpy().ravel(), [8.7490e-01, 1.1841e-01, 5.8950e-03, 7.9781e-04], rtol=1e-3)


@pytest.mark.parametrize("op", sorted(FEATURE_LAYERS))
def test_feature_layers(ctx, run, op: str) -> None:
    out = run("feature_layer", "smoke", op=op, mode="fwd")
    ctx.seed_everything()
    FEATURE_LAYERS[op](8)  # the same draws as the workload's layer init (none for most)
    x = ctx.randn(2, 8, 16, 16).double()
    if op == "batchnorm2d":
        mean, var = x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
        expected = (x - mean) / torch.sqrt(var + 1e-5)
    elif op == "relu":
        expected = x.clamp(min=0)
    elif op == "softmax_dim3":
        expected = torch.softmax(x, dim=3)
    elif op == "softmax2d":
        expected = torch.softmax(x, dim=1)
    else:  # dropout2d: whole channels are zeroed, the rest scaled by 1 / (1 - 0.5)
        kept = out.double().flatten(2).abs().sum(-1) > 0
        expected = x * 2 * kept[..., None, None]
        assert 0 < kept.sum() < kept.numel()
    torch.testing.assert_close(out.double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["nn", "custom"])
def test_linear_forward_backward_matches_float64(ctx, prepare, op: str) -> None:
    from workloads.layers import SeedLinear  # noqa: PLC0415

    out, grad_out, grad_x = prepare("linear", "seed", op=op, mode="fwd_bwd").call()
    layer = _module_weights(ctx, lambda: torch.nn.Linear(4, 1) if op == "nn" else SeedLinear(4, 1))
    weight = (layer.weight.T if op == "nn" else layer.w).double()
    bias = (layer.bias if op == "nn" else layer.b).double()
    x = ctx.randn(3, 4).double()
    assert out.shape == (3, 1)
    torch.testing.assert_close(out.double(), x @ weight + bias, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(grad_x.double(), grad_out.double() @ weight.T, rtol=1e-6, atol=1e-6)


def test_seed_mlp_output_shape_and_values(ctx, run) -> None:
    from workloads.layers import SeedMLP  # noqa: PLC0415

    out = run("mlp", "seed", mode="fwd")
    assert out.shape == (200, 1)
    model = _module_weights(ctx, lambda: SeedMLP(784, 512, 1)).double()
    x = ctx.randn(200, 784).double()
    torch.testing.assert_close(out.double(), model(x).detach(), rtol=1e-5, atol=1e-5)
