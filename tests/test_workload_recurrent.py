"""Correctness of the RNN / LSTM / GRU workloads against float64 numpy recurrences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workloads.recurrent import CELLS


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def numpy_recurrence(cell: str, model: torch.nn.RNNBase, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer, one direction, sequence-first, in float64, from PyTorch's documented equations."""
    w_ih, w_hh, b_ih, b_hh = (
        getattr(model, f"{n}_l0").detach().double().numpy() for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )
    hidden = w_hh.shape[1]
    h = np.zeros((x.shape[1], hidden))
    c = np.zeros_like(h)
    outputs = []
    for xt in x:
        gi, gh = xt @ w_ih.T + b_ih, h @ w_hh.T + b_hh
        if cell == "rnn":
            h = np.tanh(gi + gh)
        elif cell == "lstm":
            i, f, g, o = np.split(gi + gh, 4, axis=1)
            c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
            h = _sigmoid(o) * np.tanh(c)
        else:
            (ir, iz, in_), (hr, hz, hn) = np.split(gi, 3, axis=1), np.split(gh, 3, axis=1)
            r, z = _sigmoid(ir + hr), _sigmoid(iz + hz)
            n = np.tanh(in_ + r * hn)
            h = (1 - z) * n + z * h
        outputs.append(h)
    return np.stack(outputs), h, c


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_seed_shapes_and_values(ctx, run, cell: str) -> None:
    output, state = run("recurrent", "seed", cell=cell, mode="fwd")
    hidden, cell_state = state if cell == "lstm" else (state, None)
    assert output.shape == (3, 2, 3) and hidden.shape == (1, 2, 3)
    ctx.seed_everything()
    model = CELLS[cell](4, 3, 1)
    x = ctx.randn(3, 2, 4).double().numpy()
    out_ref, h_ref, c_ref = numpy_recurrence(cell, model, x)
    np.testing.assert_allclose(output.double().numpy(), out_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hidden[0].double().numpy(), h_ref, rtol=1e-5, atol=1e-6)
    if cell == "lstm":
        assert cell_state.shape == (1, 2, 3)
        np.testing.assert_allclose(cell_state[0].double().numpy(), c_ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_smoke_is_batch_first_bidirectional_and_trains(run, cell: str) -> None:
    output, _ = run("recurrent", "smoke", cell=cell, mode="fwd")
    assert output.shape == (4, 8, 2 * 16)  # batch, seq, 2 directions x hidden
    out, grad_out, grad_x = run("recurrent", "smoke", cell=cell, mode="fwd_bwd")
    assert out.shape == grad_out.shape == (4, 8, 32)
    assert grad_x.shape == (4, 8, 16) and torch.isfinite(grad_x).all() and grad_x.abs().sum() > 0
