"""The two data paths that feed training, each an iterable of (images, labels) batches on the device.

``seed`` is the tutorial's way: a Dataset that turns each uint8 image into a PIL image, the
torchvision transforms per sample, a DataLoader that collates batches on the host.
``tensor`` keeps the whole split on the device as uint8 once, and does the same normalization and
augmentations batched there — the data path airbench uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler

if TYPE_CHECKING:  # torchvision is imported where it is used: a side without it runs the rest
    from torchvision import transforms

MEAN = STD = (0.5, 0.5, 0.5)
PAD = 4  # RandomCrop(32, padding=4)

Batch = tuple[torch.Tensor, torch.Tensor]
Shard = tuple[int, int]  # (rank, world size): this process's share of each epoch, as DDP splits it


def shard_sampler(count: int, shard: Shard, shuffle: bool, seed: int) -> DistributedSampler:
    """torch's own DistributedSampler: rank r takes every world-th index of the seeded epoch order."""
    rank, world = shard
    return DistributedSampler(range(count), num_replicas=world, rank=rank, shuffle=shuffle, seed=seed)


class ArrayDataset(Dataset):
    """uint8 HWC arrays served as torchvision's CIFAR10 serves them: a PIL image through the transform."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: transforms.Compose) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])


def seed_transform(augment: bool) -> transforms.Compose:
    from torchvision import transforms  # noqa: PLC0415 - only the seed data path needs it

    steps = [transforms.RandomCrop(32, padding=PAD), transforms.RandomHorizontalFlip()] if augment else []
    return transforms.Compose([*steps, transforms.ToTensor(), transforms.Normalize(MEAN, STD)])


class SeedLoader:
    """The tutorial's DataLoader (batch, shuffle), seeded, with workers and pinned memory as options."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        batch: int,
        shuffle: bool,
        augment: bool,
        device: torch.device,
        seed: int,
        workers: int = 0,
        pin_memory: bool = False,
        shard: Shard | None = None,
    ) -> None:
        self.device, self.non_blocking, self.seed = device, pin_memory, seed
        self.generator = torch.Generator().manual_seed(seed)
        self.sampler = shard_sampler(len(labels), shard, shuffle, seed) if shard else None
        self.loader = DataLoader(
            ArrayDataset(images, labels, seed_transform(augment)),
            batch_size=batch,
            shuffle=shuffle and self.sampler is None,
            sampler=self.sampler,
            num_workers=workers,
            pin_memory=pin_memory,
            generator=self.generator,  # shuffling, and the seeds of the worker processes
        )
        self.count = len(self.sampler) if self.sampler else len(labels)  # images this process sees per epoch
        self.epoch = 0
        self.resident_bytes = 0  # nothing is held on the device between batches

    def restart(self) -> None:
        """Back to the first epoch's order and draws."""
        self.generator.manual_seed(self.seed)
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[Batch]:
        if self.sampler:
            self.sampler.set_epoch(self.epoch)
        self.epoch += 1
        for images, labels in self.loader:
            yield images.to(self.device, non_blocking=self.non_blocking), labels.to(self.device, non_blocking=True)


def crop_and_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """RandomCrop(32, padding=4) and RandomHorizontalFlip for a whole uint8 N x C x 32 x 32 batch."""
    n, channels, height, width = images.shape
    device = images.device
    padded = F.pad(images, (PAD, PAD, PAD, PAD))
    dy = torch.randint(0, 2 * PAD + 1, (n,), generator=generator, device=device)
    dx = torch.randint(0, 2 * PAD + 1, (n,), generator=generator, device=device)
    rows = (dy[:, None] + torch.arange(height, device=device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(width, device=device))[:, None, None, :]
    batch = torch.arange(n, device=device)[:, None, None, None]
    channel = torch.arange(channels, device=device)[None, :, None, None]
    cropped = padded[batch, channel, rows, cols]
    flip = torch.rand(n, generator=generator, device=device) < 0.5
    return torch.where(flip[:, None, None, None], cropped.flip(3), cropped)


class TensorLoader:
    """The split held once on the device as uint8 N x C x H x W; batches normalized (and augmented) there."""

    def __init__(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        batch: int,
        shuffle: bool,
        augment: bool,
        device: torch.device,
        seed: int,
        shard: Shard | None = None,
    ) -> None:
        self.sampler = shard_sampler(len(labels), shard, shuffle, seed) if shard else None
        self.count = len(self.sampler) if self.sampler else len(labels)  # images this process sees per epoch
        self.epoch = 0
        self.images = torch.from_numpy(images).to(device).permute(0, 3, 1, 2).contiguous()
        self.labels = torch.from_numpy(labels).to(device)
        self.batch, self.shuffle, self.augment, self.seed = batch, shuffle, augment, seed
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.mean = torch.tensor(MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(STD, device=device).view(1, 3, 1, 1)
        self.resident_bytes = self.images.nbytes + self.labels.nbytes

    def restart(self) -> None:
        """Back to the first epoch's order and draws."""
        self.generator.manual_seed(self.seed)
        self.epoch = 0

    def __len__(self) -> int:
        return (self.count + self.batch - 1) // self.batch

    def _order(self) -> torch.Tensor | None:
        device = self.images.device
        if self.sampler:
            self.sampler.set_epoch(self.epoch)
            return torch.tensor(list(self.sampler), device=device)
        return torch.randperm(self.count, generator=self.generator, device=device) if self.shuffle else None

    def __iter__(self) -> Iterator[Batch]:
        order = self._order()
        self.epoch += 1
        for start in range(0, self.count, self.batch):
            index = order[start : start + self.batch] if order is not None else slice(start, start + self.batch)
            images = self.images[index]
            if self.augment:
                images = crop_and_flip(images, self.generator)
            yield (images.float().div_(255) - self.mean) / self.std, self.labels[index]


PATHS = ("seed", "tensor")
