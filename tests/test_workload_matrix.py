"""Correctness of the matrix workloads: products, shapes, joins, linear algebra."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workloads.matrix import DIAGONAL, SHAPE_OPS


def _inputs(ctx, *shapes):
    ctx.seed_everything()
    return [ctx.randn(*s).double().numpy() for s in shapes]


@pytest.mark.parametrize("op", ["mm", "matmul"])
def test_mm_matches_float64(ctx, run, op: str) -> None:
    out = run("mm", "smoke", op=op)
    a, b = _inputs(ctx, (64, 64), (64, 64))
    np.testing.assert_allclose(out.double().numpy(), a @ b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("op", ["matmul", "einsum"])
def test_batched_matmul_matches_float64(ctx, run, op: str) -> None:
    out = run("batched_matmul", "smoke", op=op)
    a, b = _inputs(ctx, (4, 32, 32), (4, 32, 32))
    np.testing.assert_allclose(out.double().numpy(), np.einsum("bij,bjk->bik", a, b), rtol=1e-4, atol=1e-4)


EXPECTED_SHAPES = {
    "transpose": (2, 8, 4, 8),
    "permute": (2, 8, 8, 4),
    "view": (2, 256),
    "reshape": (2, 256),
    "flatten": (2, 256),
    "squeeze": (2, 4, 8, 8),
    "unsqueeze": (2, 1, 4, 8, 8),
    "permute_contiguous": (2, 8, 8, 4),
}


@pytest.mark.parametrize("op", sorted(SHAPE_OPS))
def test_shape_ops(ctx, run, op: str) -> None:
    out = run("shape_ops", "smoke", op=op)
    (x,) = _inputs(ctx, (2, 4, 8, 8))
    assert tuple(out.shape) == EXPECTED_SHAPES[op]
    moved = {
        "transpose": x.transpose(0, 2, 1, 3),
        "permute": x.transpose(0, 2, 3, 1),
        "permute_contiguous": x.transpose(0, 2, 3, 1),
    }.get(op, x)
    np.testing.assert_array_equal(out.double().numpy().ravel(), np.ascontiguousarray(moved).ravel())
    assert out.is_contiguous() == (op not in ("transpose", "permute"))


@pytest.mark.parametrize("op", ["cat", "stack", "split", "chunk"])
def test_join_split(ctx, run, op: str) -> None:
    out = run("join_split", "smoke", op=op)
    parts = _inputs(ctx, *[(16, 16)] * 4)
    if op == "cat":
        np.testing.assert_array_equal(out.numpy(), np.concatenate(parts))
    elif op == "stack":
        np.testing.assert_array_equal(out.numpy(), np.stack(parts))
    else:
        assert len(out) == 4
        for got, want in zip(out, parts, strict=True):
            np.testing.assert_array_equal(got.numpy(), want)


def test_linalg_on_the_tutorial_matrix(run) -> None:
    """[[1, 2], [3, 4]]: the tutorial prints singular values 5.4645 / 0.3650 and
    eigenvalues 0.3723 / 5.6277 — both wrong; the true values are below."""
    assert run("linalg", "seed", op="det").item() == pytest.approx(-2.0, abs=1e-5)
    np.testing.assert_allclose(run("linalg", "seed", op="inverse").numpy(), [[-2, 1], [1.5, -0.5]], atol=1e-5)
    _, s, _ = run("linalg", "seed", op="svd")
    np.testing.assert_allclose(s.numpy(), [5.4650, 0.3660], atol=1e-4)
    eigenvalues, _ = run("linalg", "seed", op="eig")
    root = np.sqrt(33)
    np.testing.assert_allclose(np.sort(eigenvalues.real.numpy()), [(5 - root) / 2, (5 + root) / 2], atol=1e-5)


@pytest.mark.parametrize("op", ["det", "inverse", "svd", "eig"])
def test_linalg_matches_numpy(ctx, run, op: str) -> None:
    out = run("linalg", "smoke", op=op)
    ctx.seed_everything()
    a = (torch.eye(16) + ctx.randn(16, 16) / 4).double().numpy()
    if op == "det":
        assert out.item() == pytest.approx(np.linalg.det(a), rel=1e-4)
    elif op == "inverse":
        np.testing.assert_allclose(out.double().numpy(), np.linalg.inv(a), rtol=1e-3, atol=1e-4)
    elif op == "svd":
        u, s, vh = (t.double().numpy() for t in out)
        np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=1e-4)
        np.testing.assert_allclose(u @ np.diag(s) @ vh, a, atol=1e-4)
    else:
        values, vectors = (t.to(torch.complex128).numpy() for t in out)
        np.testing.assert_allclose(a @ vectors, vectors * values, atol=1e-4)


@pytest.mark.parametrize("op", sorted(DIAGONAL))
def test_diagonal(ctx, run, op: str) -> None:
    out = run("diagonal", "seed", op=op)
    (x,) = _inputs(ctx, (3, 3))
    expected = {"trace": np.trace(x), "diag": np.diag(x), "diag_embed": np.diag(x[0])}[op]
    np.testing.assert_allclose(out.double().numpy(), expected, rtol=1e-6)
