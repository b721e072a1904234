"""The tutorial's CIFAR-10 training recipes as one workload: model x data path, epochs with test accuracy.

One timed call is one whole training run (every epoch, each followed by a test pass), restarted
from the same initial weights and seeds each time, so it reproduces bit for bit on the CPU. After
each epoch it tells the harness where it is (``ctx.report_epoch``): the run's progress line.
Per-epoch results, the weight digest and the data's record go into the result's metrics; side
files (history, TensorBoard events) into the run folder.
"""

from __future__ import annotations

import copy
import hashlib
import resource
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.api import DeviceEvent, Prepared, RunContext, RunSettings, Work, backend_for, workload, write_json
from workloads.cifar import data as cifar_data
from workloads.cifar.loaders import MEAN, PATHS, STD, SeedLoader, Shard, TensorLoader
from workloads.cifar.models import AUGMENTED, MODELS

MOMENTUM = 0.9
LOADER_BOUND = 0.5  # an epoch spending more than this share of its time waiting for data is loader-bound


@dataclass
class Epoch:
    epoch: int
    train_loss: float  # mean of the batch losses, as the tutorial prints it
    test_accuracy: float  # fraction of test images classified right
    seconds: float  # training wall time (host, synchronized)
    device_seconds: float | None  # the same epoch by CUDA events, on a GPU
    data_wait_seconds: float  # host time spent waiting for the next batch
    images_per_s: float
    eval_seconds: float

    @property
    def data_wait_fraction(self) -> float:
        return self.data_wait_seconds / self.seconds if self.seconds else 0.0


def weights_digest(model: nn.Module, parameters_only: bool = False) -> str:
    """sha256 over every tensor of the state dict (or only the trained parameters, leaving out
    buffers such as batch norm's running statistics): names, dtypes, shapes and bytes."""
    digest = hashlib.sha256()
    tensors = dict(model.named_parameters()) if parameters_only else model.state_dict()
    for name, tensor in tensors.items():
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)};".encode())
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _timed_batches(batches: Iterator, wait: list[float]) -> Iterator:
    """Yield batches, adding the time spent waiting for each to ``wait[0]``."""
    while True:
        start = time.perf_counter()
        try:
            batch = next(batches)
        except StopIteration:
            return
        wait[0] += time.perf_counter() - start
        yield batch


class Training:
    """One recipe on one data set and path, runnable again from the same start."""

    def __init__(
        self,
        ctx: RunContext,
        data: cifar_data.CifarData,
        model: str,
        path: str,
        epochs: int,
        batch: int,
        lr: float,
        target_accuracy: float,
        shard: Shard | None = None,
        wrap: Callable[[nn.Module], nn.Module] | None = None,
    ) -> None:
        """``shard`` and ``wrap`` make one rank of a data-parallel job: its share of every epoch,
        and the model wrapped for training (e.g. in DistributedDataParallel)."""
        self.ctx, self.data, self.path = ctx, data, path
        self.model_name, self.epochs, self.lr, self.target = model, epochs, lr, target_accuracy
        self.model = MODELS[model]().to(ctx.device)  # initialised from the harness's seed
        self.initial_state = copy.deepcopy(self.model.state_dict())
        # what training steps call: wrapped (DDP), then laid out and compiled as the case's mode asks
        self.net = ctx.module(wrap(self.model) if wrap else self.model)
        self.scaler = ctx.grad_scaler()
        self.backend = backend_for(ctx.device)
        if path == "tensor":
            loader, options = TensorLoader, {}
        else:
            loader, options = (
                SeedLoader,
                {"workers": ctx.settings.data.workers, "pin_memory": ctx.settings.data.pin_memory},
            )
        common = {"batch": batch, "device": ctx.device, "seed": ctx.settings.seed, **options}
        self.train_batches = loader(
            data.train_images, data.train_labels, shuffle=True, augment=AUGMENTED[model], shard=shard, **common
        )
        self.test_batches = loader(data.test_images, data.test_labels, shuffle=False, augment=False, **common)
        self.history: list[Epoch] = []
        self.digest = ""
        self.peak_memory = 0

    def _event(self) -> DeviceEvent | None:
        """A recorded device event on a GPU (None on the CPU, where host time tells all)."""
        if self.backend is None:
            return None
        event = self.backend.event()
        event.record()
        return event

    def step(
        self, images: torch.Tensor, labels: torch.Tensor, optimizer: torch.optim.Optimizer, criterion: nn.Module
    ) -> torch.Tensor:
        """One training step in the case's execution mode (forward under its autocast, the loss scaled
        under amp-fp16); the loss, detached."""
        optimizer.zero_grad()
        with self.ctx.autocast():
            loss = criterion(self.net(self.ctx.laid_out(images)), labels)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()
        return loss.detach()

    def _train_epoch(
        self, optimizer: torch.optim.Optimizer, criterion: nn.Module
    ) -> tuple[float, float, float, float | None]:
        self.net.train()
        self.ctx.synchronize()
        wait = [0.0]
        losses = []
        start, start_event = time.perf_counter(), self._event()
        for images, labels in _timed_batches(iter(self.train_batches), wait):
            losses.append(self.step(images, labels, optimizer, criterion))
        end_event = self._event()
        self.ctx.synchronize()
        seconds = time.perf_counter() - start
        device_seconds = start_event.elapsed_time(end_event) / 1e3 if start_event and end_event else None
        return torch.stack(losses).mean().item(), seconds, wait[0], device_seconds

    def _evaluate(self) -> float:
        self.model.eval()
        correct = torch.zeros((), dtype=torch.int64, device=self.ctx.device)
        with torch.no_grad(), self.ctx.autocast():
            for images, labels in self.test_batches:
                correct += (self.model(self.ctx.laid_out(images)).argmax(1) == labels).sum()
        return correct.item() / len(self.data.test_labels)

    def run(self, writer: Any | None = None) -> Training:
        """Train every epoch from the initial weights; fills history, digest and peak memory."""
        self.ctx.seed_everything(offset=1)  # the per-sample transforms of the seed path draw from it
        self.train_batches.restart()
        self.model.load_state_dict(self.initial_state)
        optimizer = torch.optim.SGD(self.model.parameters(), lr=self.lr, momentum=MOMENTUM)
        criterion = nn.CrossEntropyLoss()
        if self.ctx.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.ctx.device)
        self.history = []
        for epoch in range(1, self.epochs + 1):
            loss, seconds, wait, device_seconds = self._train_epoch(optimizer, criterion)
            start = time.perf_counter()
            accuracy = self._evaluate()
            images_per_s = self.train_batches.count / (device_seconds or seconds)
            record = Epoch(
                epoch, loss, accuracy, seconds, device_seconds, wait, images_per_s, time.perf_counter() - start
            )
            self.history.append(record)
            if writer is not None:
                log_epoch(writer, self.model, record, self.lr)
            self.ctx.report_epoch(epoch, self.epochs, accuracy, loss)  # the harness shows it, or nothing
        self.digest = weights_digest(self.model)
        self.peak_memory = (
            torch.cuda.max_memory_allocated(self.ctx.device)
            if self.ctx.device.type == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        return self

    def computed(self) -> dict[str, Any]:
        """What the run computed, without its timings: the case's result, equal bit for bit when it reproduces."""
        return {
            "epochs": [{"train_loss": e.train_loss, "test_accuracy": e.test_accuracy} for e in self.history],
            "weights_sha256": self.digest,
        }

    def summary(self) -> dict[str, Any]:
        reached = next((e for e in self.history if self.target and e.test_accuracy >= self.target), None)
        elapsed = 0.0
        for e in self.history:
            elapsed += e.seconds + e.eval_seconds
            if e is reached:
                break
        train_s = sum(e.seconds for e in self.history)
        wait_s = sum(e.data_wait_seconds for e in self.history)
        return {
            "model": self.model_name,
            "path": self.path,
            "data_label": self.data.label,
            "train_images": len(self.data.train_labels),
            "test_images": len(self.data.test_labels),
            "epochs": [
                asdict(e)
                | {"compute_seconds": e.seconds - e.data_wait_seconds, "data_wait_fraction": e.data_wait_fraction}
                for e in self.history
            ],
            "final_test_accuracy": self.history[-1].test_accuracy,
            "final_train_loss": self.history[-1].train_loss,
            "images_per_s": self.train_batches.count * len(self.history) / train_s,
            "data_wait_fraction": wait_s / train_s,
            "loader_bound": any(e.data_wait_fraction > LOADER_BOUND for e in self.history),
            "target_accuracy": self.target or None,
            "epochs_to_target": reached.epoch if reached else None,
            "seconds_to_target": elapsed if reached else None,
            "weights_sha256": self.digest,
            "peak_memory_bytes": self.peak_memory,
            "peak_memory_kind": "cuda_max_allocated" if self.ctx.device.type == "cuda" else "process_peak_rss",
            "resident_data_bytes": self.train_batches.resident_bytes + self.test_batches.resident_bytes,
        }


def log_epoch(writer: Any, model: nn.Module, epoch: Epoch, lr: float) -> None:
    writer.add_scalar("train/loss", epoch.train_loss, epoch.epoch)
    writer.add_scalar("test/accuracy", epoch.test_accuracy, epoch.epoch)
    writer.add_scalar("train/learning_rate", lr, epoch.epoch)
    writer.add_scalar("throughput/images_per_s", epoch.images_per_s, epoch.epoch)
    writer.add_scalar("time/data_wait_fraction", epoch.data_wait_fraction, epoch.epoch)
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            writer.add_histogram(f"weights/{name}", tensor, epoch.epoch)


def open_writer(folder: Path, training: Training) -> Any:
    """A TensorBoard writer with the model graph and a grid of the first training images.

    Made before timing starts, so the timed run only adds its per-epoch scalars and histograms.
    """
    from torch.utils.tensorboard import SummaryWriter  # noqa: PLC0415 - tensorboard is slow to import
    from torchvision.utils import make_grid  # noqa: PLC0415

    writer = SummaryWriter(log_dir=str(folder))
    images, _ = next(iter(training.train_batches))
    shown = images[:32] * torch.tensor(STD, device=images.device).view(1, 3, 1, 1)
    shown += torch.tensor(MEAN, device=images.device).view(1, 3, 1, 1)
    writer.add_image("inputs/first_batch", make_grid(shown.clamp(0, 1).cpu(), nrow=8), 0)
    training.model.eval()
    with warnings.catch_warnings():  # add_graph traces with torch.jit, which warns that it is deprecated
        warnings.simplefilter("ignore", FutureWarning)
        writer.add_graph(training.model, images[:2])
    return writer


def preflight(settings: RunSettings) -> dict[str, Any]:
    """Find and check the data set before anything is written; its record goes with every result."""
    return cifar_data.load(settings.data).record


@workload(
    family="cifar10",
    tags=("training",),
    sizes={
        # the tutorial's recipe: all of CIFAR-10, batch 64, SGD lr 0.001 momentum 0.9, 10 epochs
        "seed": dict(epochs=10, batch=64, lr=0.001, train_images=50_000, test_images=10_000, target_accuracy=0.0),
        "smoke": dict(epochs=1, batch=64, lr=0.001, train_images=512, test_images=256, target_accuracy=0.0),
        "full": dict(epochs=1, batch=64, lr=0.001, train_images=50_000, test_images=10_000, target_accuracy=0.0),
    },
    variants={"model": tuple(MODELS), "path": PATHS},
    items=lambda epochs, train_images, **_: epochs * train_images,
    timed_once=True,
    preflight=preflight,
    modes=("compile", "precision", "memory_format"),
)
def cifar_train(
    ctx: RunContext,
    epochs: int,
    batch: int,
    lr: float,
    train_images: int,
    test_images: int,
    target_accuracy: float,
    model: str,
    path: str,
    dtype: torch.dtype,
) -> Prepared:
    """Train `model` for `epochs` epochs on CIFAR-10 (or the data given), testing after each; items: images trained."""
    data = cifar_data.subset(cifar_data.load(ctx.settings.data), train_images, test_images, ctx.settings.seed)
    training = Training(ctx, data, model, path, epochs, batch, lr, target_accuracy)
    folder = ctx.artifact_dir(f"{model}-{path}")
    writer = open_writer(folder, training) if folder else None

    def metrics() -> dict[str, Any]:
        summary = training.summary()
        if folder:
            writer.close()
            write_json(folder / "history.json", summary)
            summary["side_files"] = str(folder.relative_to(ctx.artifacts))
        return summary

    return Prepared(
        lambda: training.run(writer),
        metrics,
        work=Work(items=float(epochs * len(data.train_labels))),
        result=Training.computed,
    )
