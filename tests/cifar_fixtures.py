"""Small CIFAR-10 data sets written in the real formats: torchvision's pickled batches, .npz, ImageFolder."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
from PIL import Image

from workloads.cifar.data import BATCHES_DIR, CLASSES

# The lossy JPEG copy of CIFAR-10 beside the checkout (not on users' machines: tests that need it skip)
SHARED_NPZ = Path(__file__).parents[2] / "shared" / "datasets" / "cifar10-jpeg" / "cifar10.npz"


def images_and_labels(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(CLASSES)
    return rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), labels.astype(np.int64)


def write_batches(root: Path, per_batch: int = 20, test: int = 30) -> Path:
    """torchvision's layout: cifar-10-batches-py/data_batch_1..5, test_batch, batches.meta (protocol 2 pickles)."""
    folder = root / BATCHES_DIR
    folder.mkdir(parents=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for index, name in enumerate(names):
        images, labels = images_and_labels(test if name == "test_batch" else per_batch, seed=index)
        batch = {
            "batch_label": name,
            "labels": labels.tolist(),
            "data": images.transpose(0, 3, 1, 2).reshape(len(images), 3072),  # rows: R plane, G plane, B plane
            "filenames": [f"{name}_{i}.png" for i in range(len(images))],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": list(CLASSES)}, protocol=2))
    return root


def write_npz(path: Path, train: int = 100, test: int = 40, **override: np.ndarray) -> Path:
    train_images, train_labels = images_and_labels(train, seed=1)
    test_images, test_labels = images_and_labels(test, seed=2)
    arrays = dict(
        train_images=train_images, train_labels=train_labels, test_images=test_images, test_labels=test_labels
    )
    arrays.update(override)
    np.savez_compressed(path, **arrays)
    return path


def write_imagefolder(root: Path, per_class: int = 2) -> Path:
    for split in ("train", "test"):
        for label, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            images, _ = images_and_labels(per_class, seed=label)
            for i, pixels in enumerate(images):
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root
