"""Checkpoint round-trips: bitwise-equal state, the same next step, metrics recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hostile import RunsCode
from processes import run_python

from bench.errors import UsageError
from workloads.checkpoint import load_weights


def _equal_states(a: dict, b: dict) -> bool:
    if a.keys() != b.keys():
        return False
    for key, x in a.items():
        y = b[key]
        if isinstance(x, dict):
            if not _equal_states(x, y):
                return False
        elif isinstance(x, torch.Tensor):
            if not (x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y)):
                return False
        elif x != y:
            return False
    return True


@pytest.mark.parametrize(("size", "model"), [("seed", "seed_linear"), ("smoke", "mlp")])
def test_roundtrip_restores_model_and_optimizer_bitwise(prepare, size: str, model: str) -> None:
    prepared = prepare("checkpoint_roundtrip", size)
    trip = prepared.call()
    assert trip.loaded is not trip.source
    assert _equal_states(trip.source.state_dict(), trip.loaded.state_dict())
    source_opt, loaded_opt = trip.source_optimizer.state_dict(), trip.loaded_optimizer.state_dict()
    assert len(source_opt["state"]) == (0 if size == "seed" else 4)  # momentum buffers after one step
    assert _equal_states(source_opt, loaded_opt)
    # the same next training step from both gives the same loss and the same weights
    for net, opt in ((trip.source, trip.source_optimizer), (trip.loaded, trip.loaded_optimizer)):
        opt.zero_grad()
        net.loss = net(trip.batch).square().mean()
        net.loss.backward()
        opt.step()
    assert torch.equal(trip.source.loss, trip.loaded.loss)
    assert _equal_states(trip.source.state_dict(), trip.loaded.state_dict())
    metrics = prepared.metrics()
    assert metrics["file_bytes"] > 0 and metrics["save_median_s"] > 0 and metrics["load_median_s"] > 0


def test_seed_linear_weights_come_back(run) -> None:
    trip = run("checkpoint_roundtrip", "seed")
    torch.testing.assert_close(trip.loaded.weight.detach(), torch.tensor([[1.0, 2.0, 3.0]]))
    torch.testing.assert_close(trip.loaded.bias.detach(), torch.tensor([4.0]))


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    evil = tmp_path / "evil.pt"
    torch.save({"model": {"weight": torch.ones(2)}, "payload": RunsCode(f"touch {marker}")}, evil)
    # the file really is hostile: an unrestricted load, in a throwaway process, runs its command
    done = run_python("-c", f"import torch; torch.load({str(evil)!r}, weights_only=False)", cwd=tmp_path)
    assert done.returncode == 0 and marker.exists(), done.stderr
    marker.unlink()

    with pytest.raises(UsageError, match=r"evil\.pt: refused, not a weights-only checkpoint: .*posix\.system"):
        load_weights(evil, torch.device("cpu"))
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04 truncated zip"])
def test_a_corrupt_checkpoint_is_one_clear_error(tmp_path: Path, content: bytes) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(content)
    with pytest.raises(UsageError, match=r"broken\.pt: (not a readable checkpoint|refused)"):
        load_weights(broken, torch.device("cpu"))
