"""Checkpoint round-trips: model and optimizer state saved to a real file and loaded back."""

from __future__ import annotations

import pickle
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.api import Prepared, RunContext, UsageError, workload
from workloads.cifar.models import resnet18_cifar
from workloads.layers import SeedMLP


def seed_linear() -> nn.Module:
    """The tutorial's Linear(3, 1) with weight [[1, 2, 3]] and bias [4]."""
    layer = nn.Linear(3, 1)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2.0, 3.0]]))
        layer.bias.copy_(torch.tensor([4.0]))
    return layer


def load_weights(path: Path, device: torch.device) -> Any:
    """``torch.load`` with ``weights_only=True``: tensors and plain containers come back; a pickle that
    would import or call anything else (and so could run code) is refused before anything of it runs."""
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line for line in str(error).splitlines() if line.strip()]
        why = next((line for line in lines if "GLOBAL" in line or "Unsupported" in line), lines[0] if lines else "")
        raise UsageError(f"{path}: refused, not a weights-only checkpoint: {why}") from None
    except (RuntimeError, EOFError, OSError) as error:
        why = (str(error).splitlines() or [type(error).__name__])[0]
        raise UsageError(f"{path}: not a readable checkpoint ({why})") from None


MODELS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    # name: (constructor, input shape of one sample)
    "seed_linear": (seed_linear, (3,)),
    "mlp": (lambda: SeedMLP(784, 512, 1), (784,)),
    "resnet18": (resnet18_cifar, (3, 32, 32)),
}


def make_trained(
    name: str, steps: int, ctx: RunContext, dtype: torch.dtype
) -> tuple[nn.Module, torch.optim.Optimizer, torch.Tensor]:
    """A model and an SGD-with-momentum optimizer after `steps` steps (so both have state), and a batch."""
    build, sample_shape = MODELS[name]
    model = build().to(ctx.device, dtype)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9)
    batch = ctx.randn(4, *sample_shape, dtype=dtype)
    for _ in range(steps):
        optimizer.zero_grad()
        model(batch).square().mean().backward()
        optimizer.step()
    return model, optimizer, batch


@dataclass
class Roundtrip:
    """What one round-trip leaves: the saved objects, the loaded ones, a batch to step them with."""

    source: nn.Module
    source_optimizer: torch.optim.Optimizer
    loaded: nn.Module
    loaded_optimizer: torch.optim.Optimizer
    batch: torch.Tensor


@workload(
    family="checkpoint",
    tags=("io",),
    sizes={
        "seed": dict(model="seed_linear", steps=0),  # the tutorial saves the layer as it set it
        "smoke": dict(model="mlp", steps=1),
        "full": [dict(model="mlp", steps=1), dict(model="resnet18", steps=1)],
    },
    items=lambda **_: 1,
)
def checkpoint_roundtrip(ctx: RunContext, model: str, steps: int, dtype: torch.dtype) -> Prepared:
    """torch.save of model + optimizer state_dicts to a file, then torch.load(weights_only=True) into fresh objects.

    Returns a :class:`Roundtrip`; metrics give the file's bytes and the median
    save and load times.
    """
    source, source_opt, batch = make_trained(model, steps, ctx, dtype)
    target, target_opt, _ = make_trained(model, steps, ctx, dtype)  # other weights, overwritten by each load
    path = ctx.scratch / f"{model}.pt"
    save_s: list[float] = []
    load_s: list[float] = []

    def roundtrip() -> Roundtrip:
        start = time.perf_counter()
        torch.save({"model": source.state_dict(), "optimizer": source_opt.state_dict()}, path)
        saved = time.perf_counter()
        state = load_weights(path, ctx.device)
        target.load_state_dict(state["model"])
        target_opt.load_state_dict(state["optimizer"])
        ctx.synchronize()
        save_s.append(saved - start)
        load_s.append(time.perf_counter() - saved)
        return Roundtrip(source, source_opt, target, target_opt, batch)

    def metrics() -> dict[str, Any]:
        size = path.stat().st_size
        save, load = statistics.median(save_s), statistics.median(load_s)
        return {
            "file_bytes": size,
            "save_median_s": save,
            "load_median_s": load,
            "save_gbytes_per_s": size / save / 1e9,
            "load_gbytes_per_s": size / load / 1e9,
        }

    return Prepared(roundtrip, metrics)
