"""Run context: devices, seeds, determinism flags, threads, and what is recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from processes import run_python

from bench.context import EpochDone, RunContext, RunSettings, resolve_device
from bench.errors import DeviceUnavailable, UsageError


@pytest.mark.parametrize("name", ["tpu0", "banana", "cuda:x"])
def test_unknown_devices_are_refused(name: str) -> None:
    with pytest.raises(UsageError, match="device"):
        resolve_device(name)


def test_unsupported_device_types_are_refused() -> None:
    with pytest.raises(UsageError, match="unsupported device 'meta'"):
        resolve_device("meta")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU; the no-GPU path cannot be seen")
def test_cuda_without_a_gpu_is_unavailable_not_wrong() -> None:
    with pytest.raises(DeviceUnavailable, match="no CUDA GPU"):
        resolve_device("cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_index_beyond_the_visible_gpus() -> None:
    with pytest.raises(DeviceUnavailable, match="GPU"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


@pytest.mark.parametrize("mode", ["strict", "warn", "off"])
def test_determinism_modes_set_and_record_torch_flags(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    try:
        ctx = RunContext(RunSettings(determinism=mode))
        ctx.apply()
        record = ctx.record()
        assert record["deterministic_algorithms"] is (mode != "off")
        assert record["deterministic_warn_only"] is (mode == "warn")
        assert record["cudnn_deterministic"] is (mode != "off")
        assert record["cudnn_benchmark"] is (mode == "off")
        assert record["determinism"] == mode
        # strict needs it on older torch; warn leaves it as found (it slows small cuBLAS calls)
        assert record["cublas_workspace_config"] == (":4096:8" if mode == "strict" else None)
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[2], before[3]


SETTING_IN_A_FRESH_PROCESS = """
import json, sys
import torch
from bench.context import RunContext, RunSettings

RunContext(RunSettings(determinism=sys.argv[1])).apply()
imported_at_start = "torch._inductor.config" in sys.modules
import torch._inductor.config as inductor

print(json.dumps([imported_at_start, torch.are_deterministic_algorithms_enabled(),
                  torch.is_deterministic_algorithms_warn_only_enabled(), inductor.deterministic]))
"""


@pytest.mark.parametrize("mode", ["warn", "off"])
def test_determinism_is_set_without_importing_inductor_which_still_follows_it(mode: str, tmp_path: Path) -> None:
    """Inductor's import costs a second of every process's start; a compile made later still gets the switch."""
    done = run_python("-c", SETTING_IN_A_FRESH_PROCESS, mode, cwd=tmp_path, env={"TORCHINDUCTOR_DETERMINISTIC": ""})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [False, mode != "off", mode == "warn", mode != "off"]


def test_same_seed_same_numbers_different_seed_different_numbers() -> None:
    def draw(seed: int) -> torch.Tensor:
        ctx = RunContext(RunSettings(seed=seed))
        ctx.apply()
        return ctx.randn(8)

    assert torch.equal(draw(3), draw(3))
    assert not torch.equal(draw(3), draw(4))


def test_threads_are_applied_and_recorded() -> None:
    before = torch.get_num_threads()
    try:
        ctx = RunContext(RunSettings(threads=1))
        ctx.apply()
        assert ctx.record()["threads"] == 1 == torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def test_scratch_folder_is_removed_on_close() -> None:
    ctx = RunContext(RunSettings())
    folder = ctx.scratch
    (folder / "x").write_text("x")
    ctx.close()
    assert not folder.exists()


def test_an_epoch_reported_where_nobody_listens_is_nothing() -> None:
    """A unit test calling a workload, the ab worker: no progress display, no output."""
    ctx = RunContext(RunSettings())
    assert ctx.on_epoch is None
    ctx.report_epoch(1, 10, 0.25, 2.0)


def test_an_epoch_reaches_the_listener_in_the_words_progress_shows() -> None:
    ctx = RunContext(RunSettings())
    heard: list[EpochDone] = []
    ctx.on_epoch = heard.append
    ctx.report_epoch(3, 10, 0.412, 1.6)
    assert heard == [EpochDone(3, 10, 0.412, 1.6)]
    assert str(heard[0]) == "epoch 3/10, acc 41.2%, loss 1.600"
