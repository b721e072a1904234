"""CIFAR-10 data: found, checked and held as uint8 arrays, with a record of where it came from.

Sources, in the order ``auto`` tries them:

* ``torchvision`` — torchvision's own download and layout under the data root (md5-checked);
* ``folder`` — a folder in torchvision's layout (``cifar-10-batches-py/``) made elsewhere;
* ``npz`` — one ``.npz`` with ``train_images`` (N x 32 x 32 x 3 uint8), ``train_labels``,
  ``test_images``, ``test_labels``;
* ``imagefolder`` — ``train/<class>/*.png|jpg`` and ``test/<class>/…``;
* ``synthetic`` — CIFAR-shaped images with learnable class structure, used only when nothing
  else is there; every result made with it says ``synthetic``.

Every problem with a file is one :class:`DataError` line naming the file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import pickle
import socket
import sys
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.api import DataSettings, UsageError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SHAPE = (32, 32, 3)
BATCHES_DIR = "cifar-10-batches-py"
# sha256 of data files we know, so results name them rightly (see ../shared/datasets/cifar10-jpeg/README.md)
KNOWN_FILES = {"b6cbef6522983e33c458a5f83f3ee9a01926d2e8c8e3fe1a61317f356c52253e": "cifar10-jpeg"}
SYNTHETIC_SIZES = (10_000, 2_000)
SYNTHETIC_SEED = 1234  # the synthetic set is one fixed data set, whatever the run's seed


class DataError(UsageError):
    """A data file that cannot be used: one line naming it and what is wrong."""


@dataclass(frozen=True, eq=False)
class CifarData:
    train_images: np.ndarray  # N x 32 x 32 x 3, uint8, RGB
    train_labels: np.ndarray  # N, int64 in 0..9
    test_images: np.ndarray
    test_labels: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """What results must call this data: cifar10, cifar10-jpeg, synthetic, …"""
        return self.record["label"]


def default_root() -> Path:
    return Path(os.environ.get("BENCH_DATA_ROOT", Path.home() / ".cache" / "torch-bench-suite" / "data"))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_split(where: str, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Shape, dtype and label range of one split, or a DataError naming ``where``."""
    if images.dtype != np.uint8:
        raise DataError(f"{where}: {split} images have dtype {images.dtype}, expected uint8")
    if images.ndim != 4 or images.shape[1:] != SHAPE:
        raise DataError(f"{where}: {split} images have shape {images.shape}, expected N x 32 x 32 x 3")
    if len(images) == 0:
        raise DataError(f"{where}: no {split} images")
    if labels.ndim != 1 or len(labels) != len(images):
        raise DataError(f"{where}: {len(images)} {split} images but labels of shape {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: {split} labels have dtype {labels.dtype}, expected integers")
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= len(CLASSES):
        raise DataError(f"{where}: {split} labels out of range 0..9 (found {low}..{high})")


def _data(train: tuple, test: tuple, where: str, record: dict[str, Any]) -> CifarData:
    check_split(where, "train", *train)
    check_split(where, "test", *test)
    record = {**record, "train_count": len(train[0]), "test_count": len(test[0]), "classes": list(CLASSES)}
    return CifarData(train[0], train[1].astype(np.int64), test[0], test[1].astype(np.int64), record)


# -- torchvision's layout ------------------------------------------------------------------------


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles CIFAR batch files and nothing else: numpy arrays, lists, dicts, strings."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open("rb") as f:
            batch = _BatchUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError) as error:
        raise DataError(f"{path}: not a readable CIFAR batch ({error or type(error).__name__})") from None
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: not a CIFAR batch (no 'data' and 'labels')")
    data = np.asarray(batch["data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        raise DataError(f"{path}: batch data has shape {data.shape} and dtype {data.dtype}, expected N x 3072 uint8")
    images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), np.asarray(batch["labels"])


def from_folder(root: Path, source: str = "folder") -> CifarData:
    """Read ``root/cifar-10-batches-py`` ourselves (safely), and check it against the official md5s."""
    folder = root / BATCHES_DIR
    if not folder.is_dir():
        raise DataError(f"{folder}: missing (expected torchvision's CIFAR-10 layout)")
    import torchvision  # noqa: PLC0415 - only the data sets need it: a side without it runs the rest

    spec = torchvision.datasets.CIFAR10
    official = all(
        torchvision.datasets.utils.check_integrity(str(folder / name), md5)
        for name, md5 in spec.train_list + spec.test_list
    )
    parts = [_read_batch(folder / name) for name, _ in spec.train_list]
    train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    test = _read_batch(folder / spec.test_list[0][0])
    record = {
        "label": "cifar10" if official else "cifar10-layout-unverified",
        "source": source,
        "path": str(folder),
        "verified": "official md5" if official else "md5 differs from the official CIFAR-10 files",
        "files": {name: sha256(folder / name) for name, _ in spec.train_list + spec.test_list},
    }
    return _data(train, test, str(folder), record)


DOWNLOAD_TIMEOUT = 60.0  # seconds a silent network may hold the download before it counts as failed


def from_torchvision(root: Path) -> CifarData:
    """torchvision's download (skipped when the verified files are already there)."""
    import torchvision  # noqa: PLC0415 - only the data sets need it

    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)  # torchvision's urllib calls take no timeout of their own
    try:
        torchvision.datasets.CIFAR10(str(root), train=True, download=True)
        torchvision.datasets.CIFAR10(str(root), train=False, download=True)
    finally:
        socket.setdefaulttimeout(previous)
    return from_folder(root, source="torchvision")


# -- npz and ImageFolder ---------------------------------------------------------------------------


def from_npz(path: Path) -> CifarData:
    names = ("train_images", "train_labels", "test_images", "test_labels")
    try:
        with path.open("rb") as file, np.load(file, allow_pickle=False) as npz:  # our handle: closed on errors too
            missing = [n for n in names if n not in npz.files]
            if missing:
                raise DataError(f"{path}: missing arrays {', '.join(missing)} (has: {', '.join(npz.files) or 'none'})")
            arrays = [npz[n] for n in names]
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
        raise DataError(f"{path}: not a readable .npz ({error or type(error).__name__})") from None
    digest = sha256(path)
    record = {
        "label": KNOWN_FILES.get(digest, "npz-unverified"),
        "source": "npz",
        "path": str(path),
        "files": {path.name: digest},
    }
    return _data((arrays[0], arrays[1]), (arrays[2], arrays[3]), str(path), record)


def _read_image_tree(root: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    import torchvision  # noqa: PLC0415 - only the data sets need it

    try:
        classes, index = torchvision.datasets.folder.find_classes(str(root))
        samples = torchvision.datasets.folder.make_dataset(str(root), index, extensions=(".png", ".jpg", ".jpeg"))
    except (FileNotFoundError, NotADirectoryError) as error:
        raise DataError(f"{root}: {str(error).splitlines()[0]}") from None
    if len(classes) != len(CLASSES):
        raise DataError(f"{root}: {len(classes)} class folders, expected {len(CLASSES)}")
    images = np.empty((len(samples), *SHAPE), dtype=np.uint8)
    for i, (file, _) in enumerate(samples):
        try:
            with Image.open(file) as image:
                pixels = np.asarray(image.convert("RGB"))
        except (UnidentifiedImageError, OSError, SyntaxError) as error:
            raise DataError(f"{file}: not a readable image ({error})") from None
        if pixels.shape != SHAPE:
            raise DataError(f"{file}: image is {pixels.shape[1]} x {pixels.shape[0]}, expected 32 x 32")
        images[i] = pixels
    return images, np.array([label for _, label in samples], dtype=np.int64), classes


def from_imagefolder(root: Path) -> CifarData:
    train_images, train_labels, classes = _read_image_tree(root / "train")
    test_images, test_labels, test_classes = _read_image_tree(root / "test")
    if classes != test_classes:
        raise DataError(f"{root}: train and test have different class folders")
    record = {"label": "imagefolder", "source": "imagefolder", "path": str(root), "class_folders": classes}
    return _data((train_images, train_labels), (test_images, test_labels), str(root), record)


# -- synthetic -------------------------------------------------------------------------------------


def synthetic(reason: str) -> CifarData:
    """A fixed, learnable stand-in: each class a blocky colour pattern, each image that pattern plus noise."""
    rng = np.random.default_rng(SYNTHETIC_SEED)
    templates = rng.uniform(0, 255, size=(len(CLASSES), 4, 4, 3)).repeat(8, axis=1).repeat(8, axis=2)

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, len(CLASSES), count)
        noise = rng.standard_normal((count, *SHAPE), dtype=np.float32) * 48
        images = np.clip(0.5 * templates[labels] + 64 + noise, 0, 255).astype(np.uint8)
        return images, labels

    record = {"label": "synthetic", "source": "synthetic", "reason": reason, "seed": SYNTHETIC_SEED}
    return _data(draw(SYNTHETIC_SIZES[0]), draw(SYNTHETIC_SIZES[1]), "synthetic", record)


# -- choosing a source -----------------------------------------------------------------------------


def _guess(root: Path) -> str:
    if root.is_file():
        return "npz"
    if (root / BATCHES_DIR).is_dir():
        return "folder"
    if (root / "train").is_dir() and (root / "test").is_dir():
        return "imagefolder"
    if not root.exists():
        raise DataError(f"{root}: no such file or folder")
    raise DataError(f"{root}: neither an .npz, a folder with {BATCHES_DIR}/, nor one with train/ and test/")


def _auto(root: Path | None) -> CifarData:
    if root is not None:
        return _load(_guess(root), root)
    root = default_root()
    if os.environ.get("BENCH_OFFLINE"):
        reason = "BENCH_OFFLINE is set"
    else:
        try:
            return from_torchvision(root)
        except (OSError, RuntimeError) as error:  # no network, refused, or a corrupt download
            reason = f"CIFAR-10 download to {root} failed: {str(error).splitlines()[0]}"
    print(
        f"bench: {reason}; training on SYNTHETIC CIFAR-shaped data, every result marked data=synthetic", file=sys.stderr
    )
    return synthetic(reason)


def _load(source: str, root: Path | None) -> CifarData:
    if source == "auto":
        return _auto(root)
    if source == "synthetic":
        return synthetic("asked for with --data-source synthetic")
    if source == "torchvision":
        try:
            return from_torchvision(root or default_root())
        except (OSError, RuntimeError) as error:
            raise DataError(
                f"{root or default_root()}: torchvision's CIFAR-10 download or check failed: {error}"
            ) from None
    if root is None:
        raise DataError(f"--data-source {source} needs --data-root")
    return {"folder": from_folder, "npz": from_npz, "imagefolder": from_imagefolder}[source](root)


@functools.lru_cache(maxsize=4)
def load(settings: DataSettings) -> CifarData:
    """The data set the settings name, read and checked once per process."""
    return _load(settings.source, None if settings.root is None else Path(settings.root))


def subset(data: CifarData, train: int, test: int, seed: int) -> CifarData:
    """At most ``train`` / ``test`` images, a seeded random choice (the jpeg copy is sorted by class)."""
    rng = np.random.default_rng(seed)

    def pick(images: np.ndarray, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        if count >= len(images):
            return images, labels
        chosen = np.sort(rng.permutation(len(images))[:count])
        return images[chosen], labels[chosen]

    train_part, test_part = (
        pick(data.train_images, data.train_labels, train),
        pick(data.test_images, data.test_labels, test),
    )
    record = {**data.record, "train_used": len(train_part[0]), "test_used": len(test_part[0])}
    return CifarData(*train_part, *test_part, record)
