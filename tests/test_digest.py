"""``result_sha256``: canonical (equal values, equal digests), sensitive to every bit, dtype and shape,
loud about types it does not know, and blind to training timings."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from bench.context import DataSettings, RunContext, RunSettings
from bench.digest import result_sha256
from workloads.cifar import data as cifar_data
from workloads.cifar.train import Training


@dataclasses.dataclass
class Pair:
    left: object
    right: object


def test_equal_values_give_equal_digests_whatever_their_layout_or_history() -> None:
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    leaf = x.clone().requires_grad_(True)
    assert result_sha256(x) == result_sha256(x.clone()) == result_sha256(leaf) == result_sha256(x.T.contiguous().T)
    assert result_sha256({"b": 1, "a": [x, 2.5]}) == result_sha256({"a": [x.clone(), 2.5], "b": 1})
    torch.manual_seed(0)
    first = nn.Linear(3, 2)
    torch.manual_seed(0)
    assert result_sha256(first) == result_sha256(nn.Linear(3, 2))
    assert result_sha256(Pair(x, None)) == result_sha256(Pair(x.clone(), None))
    assert result_sha256(np.arange(4)) == result_sha256(np.arange(4)[::-1].copy()[::-1])


def test_any_changed_bit_changes_the_digest() -> None:
    x = torch.randn(64)
    flipped = x.clone()
    flipped.view(torch.int32)[17] ^= 1  # the last bit of one mantissa
    assert result_sha256(x) != result_sha256(flipped)
    assert result_sha256(1.0) != result_sha256(1.0 + 2**-52)
    assert result_sha256(0.0) != result_sha256(-0.0)
    bf16 = torch.ones(4, dtype=torch.bfloat16)
    assert result_sha256(bf16) != result_sha256(bf16 + torch.tensor([0, 0, 0, 2**-7], dtype=torch.bfloat16))


def test_dtype_shape_and_type_count_not_just_bytes() -> None:
    x = torch.zeros(4, dtype=torch.int32)
    digests = {
        result_sha256(x),
        result_sha256(x.view(torch.float32)),  # the same bytes as another dtype
        result_sha256(x.reshape(2, 2)),  # the same bytes in another shape
        result_sha256(x.numpy()),  # the same numbers as a numpy array
        result_sha256([0, 0, 0, 0]),
        result_sha256((0, 0, 0, 0)),
        result_sha256(torch.Size([0, 0, 0, 0])),
        result_sha256([[0, 0], [0, 0]]),  # nesting is part of the value
        result_sha256([[0, 0, 0], [0]]),
        result_sha256(False),
        result_sha256(0),
        result_sha256(0.0),
        result_sha256("0"),
        result_sha256(None),
        result_sha256(torch.float32),
    }
    assert len(digests) == 15


def test_optimizer_state_counts() -> None:
    param = nn.Parameter(torch.ones(3))
    optimizer = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    before = result_sha256(optimizer)
    param.grad = torch.ones(3)
    optimizer.step()  # adds a momentum buffer
    assert result_sha256(optimizer) != before


@pytest.mark.parametrize("value", [object(), {1, 2}, lambda: 0, [torch.ones(1), b"bytes"], np.array([None])])
def test_an_unknown_type_raises_naming_it(value: object) -> None:
    with pytest.raises(TypeError, match="cannot digest"):
        result_sha256(value)


@pytest.mark.slow
def test_a_training_result_leaves_its_timings_out() -> None:
    """Two runs of the same training agree on every number but no timing; their results digest alike."""
    ctx = RunContext(RunSettings(seed=0, data=DataSettings(source="synthetic"), telemetry_hz=0))
    ctx.apply()
    data = cifar_data.subset(cifar_data.load(ctx.settings.data), 128, 64, ctx.settings.seed)
    training = Training(ctx, data, "lenet5", "tensor", epochs=2, batch=64, lr=0.01, target_accuracy=0.0)
    first = training.run().computed()
    seconds = [e.seconds for e in training.history]
    again = training.run().computed()
    assert seconds != [e.seconds for e in training.history] and again == first
    assert result_sha256(again) == result_sha256(first)
    assert [e["train_loss"] for e in first["epochs"]] == [e.train_loss for e in training.history]
    training.history[-1] = dataclasses.replace(training.history[-1], test_accuracy=0.5)
    assert result_sha256(training.computed()) != result_sha256(first)
    ctx.close()
