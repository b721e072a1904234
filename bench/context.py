"""Device, seeds, determinism and threads: set once per run, recorded once.

Workloads see only :class:`RunContext` — its device, its seeded tensor helpers,
a scratch folder, and where a training case may say how far it is — so the same
workload code runs on any device, with or without a progress display.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.errors import DeviceUnavailable, UsageError
from bench.modes import Mode, float32_math, set_float32_math

DETERMINISM_MODES = ("strict", "warn", "off")
"""``strict``: nondeterministic ops raise; ``warn``: they warn (default);
``off``: seeds only, cuDNN autotuning on (fastest, not reproducible)."""

CUBLAS_WORKSPACE = ":4096:8"


def resolve_device(name: str) -> torch.device:
    """Parse ``cpu``, ``cuda`` or ``cuda:N`` and check this machine has it."""
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r} (use cpu, cuda or cuda:N; bench run also takes cuda:all)") from None
    if device.type not in ("cpu", "cuda"):
        raise UsageError(f"unsupported device {name!r} (use cpu, cuda or cuda:N)")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"device {name!r} requested but no CUDA GPU is available on this machine")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise DeviceUnavailable(
                f"device {name!r} requested but only {torch.cuda.device_count()} GPU(s) are visible"
            )
        device = torch.device("cuda", index)
    return device


DATA_SOURCES = ("auto", "torchvision", "folder", "npz", "imagefolder", "synthetic")


@dataclass(frozen=True)
class DataSettings:
    """Where data-driven workloads find their data set, and how they load it."""

    source: str = "auto"
    root: str | None = None
    workers: int = 0
    pin_memory: bool = False

    def __post_init__(self) -> None:
        if self.source not in DATA_SOURCES:
            raise UsageError(f"unknown data source {self.source!r} (use {', '.join(DATA_SOURCES)})")


@dataclass(frozen=True)
class RunSettings:
    device: str = "cpu"
    seed: int = 0
    determinism: str = "warn"
    threads: int | None = None
    data: DataSettings = DataSettings()
    telemetry_hz: float = 20.0  # 0: no sampler thread at all

    def __post_init__(self) -> None:
        if self.determinism not in DETERMINISM_MODES:
            raise UsageError(f"unknown determinism mode {self.determinism!r} (use {', '.join(DETERMINISM_MODES)})")
        if self.seed < 0:
            raise UsageError(f"seed must be >= 0, got {self.seed}")
        if self.threads is not None and self.threads < 1:
            raise UsageError(f"threads must be >= 1, got {self.threads}")
        if not 0 <= self.telemetry_hz <= 1000:
            raise UsageError(f"telemetry rate must be within 0..1000 Hz, got {self.telemetry_hz}")


@dataclass(frozen=True)
class EpochDone:
    """Where a training case is: what the harness's progress display shows between its epochs."""

    epoch: int
    epochs: int
    test_accuracy: float  # fraction of test images right after this epoch
    train_loss: float

    def __str__(self) -> str:
        return f"epoch {self.epoch}/{self.epochs}, acc {self.test_accuracy:.1%}, loss {self.train_loss:.3f}"


# The node's place in a fleet or a job across machines, as the launcher or scheduler gives it: a
# label of the operator's choosing (the cluster examples pass the node's name) and torchrun's
# rendezvous (docs/ddp.md). Recorded as given.
NODE_ENV = {
    "label": "BENCH_NODE_LABEL",
    "nnodes": "BENCH_NNODES",
    "node_rank": "BENCH_NODE_RANK",
    "rdzv_id": "BENCH_RDZV_ID",
    "rdzv_endpoint": "BENCH_RDZV_ENDPOINT",
}


def node_placement() -> dict[str, str]:
    """The ``NODE_ENV`` variables that are set, one-line printable ones only (a record holds names)."""
    found = {key: os.environ.get(variable, "") for key, variable in NODE_ENV.items()}
    return {key: value for key, value in found.items() if value and value.isprintable()}


def use_deterministic_algorithms(on: bool, warn_only: bool) -> None:
    """``torch.use_deterministic_algorithms`` without the import of Inductor it makes to set Inductor's
    own switch (1.1 s of CPU at each process's start here: every run, DDP rank and A/B worker). Inductor
    reads that switch from its environment variable when a compile first imports it; where it is
    imported already, or this torch lacks the flag's setter, torch's own call sets both."""
    if "torch._inductor.config" in sys.modules or not hasattr(torch._C, "_set_deterministic_algorithms"):
        torch.use_deterministic_algorithms(on, warn_only=warn_only)
        return
    os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1" if on else "0"
    torch._C._set_deterministic_algorithms(on, warn_only=warn_only)


class RunContext:
    """The run's device and reproducibility settings, applied to the process."""

    def __init__(self, settings: RunSettings, artifacts: Path | None = None) -> None:
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.artifacts = artifacts  # the run folder, where workloads may leave side files
        self._scratch: Path | None = None
        # the harness's progress display, set where one is shown (bench run, reproduce); None: nobody listens
        self.on_epoch: Callable[[EpochDone], None] | None = None
        self.mode = Mode()  # the current case's execution mode, set by the harness around the case

    # -- set up -----------------------------------------------------------------
    def apply(self) -> None:
        """Configure threads and determinism for this process (idempotent)."""
        if self.settings.threads is not None:
            torch.set_num_threads(self.settings.threads)
        mode = self.settings.determinism
        deterministic = mode != "off"
        if mode == "strict":
            # Older torch raises in strict mode without it; cuBLAS reads it when its handle is
            # created, so it is set before first use. Not in warn mode: on an H200 (torch 2.11) it
            # made every small cuBLAS call about 36 us slower (docs/determinism.md).
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
        use_deterministic_algorithms(deterministic, warn_only=mode == "warn")
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic
        # fp32 means fp32: cuDNN's convolutions default to TF32 on CUDA; a case asks for tf32 by its mode
        set_float32_math("ieee")
        self.seed_everything()

    def seed_everything(self, offset: int = 0) -> None:
        """Seed python, numpy and torch (all CUDA devices too)."""
        seed = self.settings.seed + offset
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)  # also seeds every CUDA device

    def record(self) -> dict[str, Any]:
        """What a result needs to be reproduced: the settings as applied."""
        return {
            "device": str(self.device),
            "device_type": self.device.type,
            "seed": self.settings.seed,
            "determinism": self.settings.determinism,
            "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
            "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
            "cudnn_deterministic": torch.backends.cudnn.deterministic,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            # on with deterministic algorithms: torch.empty's memory is filled (NaN for floats)
            "fill_uninitialized_memory": torch.utils.deterministic.fill_uninitialized_memory,
            "cublas_workspace_config": os.environ.get("CUBLAS_WORKSPACE_CONFIG"),
            "float32_math": float32_math(),  # "ieee": fp32 (each case's own is in its execution section)
            "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(),
            "data": dataclasses.asdict(self.settings.data),
            "telemetry_hz": self.settings.telemetry_hz,
        } | ({"node": node} if (node := node_placement()) else {})

    # -- helpers for workloads ----------------------------------------------------
    def randn(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """Normal random numbers on the device, in the case's memory format (4-D: channels last where asked)."""
        return self.mode.laid_out(torch.randn(shape, device=self.device, dtype=dtype))

    def rand(self, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return self.mode.laid_out(torch.rand(shape, device=self.device, dtype=dtype))

    def module(self, module: torch.nn.Module) -> torch.nn.Module:
        """``module`` as the case's mode runs it: in its memory format, compiled where asked. A
        workload that takes execution modes passes its modules through here."""
        return self.mode.module(module)

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        """Where a workload runs its forward pass: autocast for the amp precisions, else nothing."""
        return self.mode.autocast(self.device)

    def laid_out(self, tensor: torch.Tensor) -> torch.Tensor:
        """A tensor the workload did not make with :meth:`randn` (a data batch) in the case's memory format."""
        return self.mode.laid_out(tensor)

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A training step's loss scaler: active under amp-fp16 (fp16 gradients underflow), a no-op otherwise."""
        return torch.amp.GradScaler(self.device.type, enabled=self.mode.precision == "amp-fp16")

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def report_epoch(self, epoch: int, epochs: int, test_accuracy: float, train_loss: float) -> None:
        """Say that epoch ``epoch`` of ``epochs`` is done: a training case is one timed call of minutes,
        silent otherwise. Cheap (a line written, or nothing where no display listens), but inside the
        timed call: for work whose steps are long, never within the rounds of a short call."""
        if self.on_epoch is not None:
            self.on_epoch(EpochDone(epoch, epochs, test_accuracy, train_loss))

    def artifact_dir(self, name: str, shared: bool = False) -> Path | None:
        """A folder for side files in the run folder (None outside a run): a new one for each
        caller, or with ``shared`` the same one for all."""
        if self.artifacts is None:
            return None
        if shared:
            folder = self.artifacts / "artifacts" / name
            folder.mkdir(parents=True, exist_ok=True)
            return folder
        for n in range(1000):
            folder = self.artifacts / "artifacts" / (name if n == 0 else f"{name}-{n}")
            try:
                folder.mkdir(parents=True)
                return folder
            except FileExistsError:
                continue
        raise RuntimeError(f"too many artifact folders named {name}")

    @property
    def scratch(self) -> Path:
        """A private temporary folder, removed by :meth:`close`."""
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="bench-"))
        return self._scratch

    def close(self) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
