"""CIFAR-10 data: found, checked and held as uint8 arrays, with a record of where it came from.

Sources, in the order ``auto`` tries them:

* ``torchvision`` — torchvision's own download and layout under the data root (md5-checked);
* ``folder`` — a folder in torchvision's layout (``cifar-10-batches-py/``) made elsewhere;
* ``npz`` — one ``.npz`` with ``train_images`` (N x 32 x 32 x 3 uint8), ``train_labels``,
  ``test_images``, ``test_labels``;
* ``imagefolder`` — ``train/<class>/*.png|jpg`` and ``test/<class>/…``;
* ``synthetic`` — CIFAR-shaped images with learnable class structure, used only when nothing
  else is there; every result made with it says ``synthetic``.

Every problem with a file is one :class:`DataError` line naming the file. Files come from users,
so nothing they declare is trusted before it is checked:

* only regular files are opened, and without blocking (a FIFO named ``data_batch_1`` would hang a
  plain ``open``, ``/dev/zero`` never ends); each is read up to a cap that fits its kind;
* sizes are checked before anything that large is allocated or decoded: the shape and dtype in each
  .npy header of an .npz (and its member's unpacked size), an image's width and height, the type of
  what a pickled batch holds; a split has at most :data:`MAX_IMAGES` images;
* an ImageFolder tree is walked without following links to folders below the class folders, and
  links are followed only inside the data root (see :func:`_list_images`).
"""

from __future__ import annotations

import functools
import hashlib
import io
import math
import os
import pickle
import pickletools
import socket
import sys
import tokenize
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.api import DataSettings, UsageError, open_regular, read_bounded

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SHAPE = (32, 32, 3)
BATCHES_DIR = "cifar-10-batches-py"
# sha256 of data files we know, so results name them rightly (see ../shared/datasets/cifar10-jpeg/README.md)
KNOWN_FILES = {"b6cbef6522983e33c458a5f83f3ee9a01926d2e8c8e3fe1a61317f356c52253e": "cifar10-jpeg"}
SYNTHETIC_SIZES = (10_000, 2_000)
SYNTHETIC_SEED = 1234  # the synthetic set is one fixed data set, whatever the run's seed
SYNTHETIC_CHUNK = 256  # images drawn at a time: its temporaries stay in the cache
MAX_IMAGES = 1_000_000  # per split: 20 x CIFAR-10's 50000 training images, 3 GB of pixels at most
MAX_BATCH_BYTES = 64 * 2**20  # one pickled batch: twice CIFAR-10's (31 MB)
MAX_PICKLE_OPS = 1_000_000  # in one batch: CIFAR-10's have tens of thousands (10000 labels, 10000 file names)
MAX_IMAGE_BYTES = 2**20  # one image file: a 32 x 32 PNG or JPEG is a few KB, even with metadata
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")  # compared in lower case, as torchvision does
IMAGE_FORMATS = ("PNG", "JPEG")  # what is decoded, whatever the name: no other Pillow plugin is reached
NPZ_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")


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


def sha256(file: IO[bytes]) -> str:
    """The digest of an open file, read again from its start."""
    file.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: file.read(1 << 20), b""):
        digest.update(block)
    return digest.hexdigest()


def check_layout(
    where: str, split: str, images: tuple[tuple[int, ...], np.dtype], labels: tuple[tuple[int, ...], np.dtype]
) -> None:
    """The (shape, dtype) of one split's images and labels, or a DataError naming ``where``: checked
    on an .npz's headers before its arrays are allocated, and on every split by :func:`check_split`."""
    (shape, dtype), (labels_shape, labels_dtype) = images, labels
    if dtype != np.uint8:
        raise DataError(f"{where}: {split} images have dtype {dtype}, expected uint8")
    if len(shape) != 4 or shape[1:] != SHAPE:
        raise DataError(f"{where}: {split} images have shape {shape}, expected N x 32 x 32 x 3")
    if shape[0] <= 0:
        raise DataError(f"{where}: no {split} images")
    if shape[0] > MAX_IMAGES:
        raise DataError(f"{where}: {shape[0]} {split} images, more than the {MAX_IMAGES} this suite reads")
    if labels_shape != shape[:1]:
        raise DataError(f"{where}: {shape[0]} {split} images but labels of shape {labels_shape}")
    if not np.issubdtype(labels_dtype, np.integer):
        raise DataError(f"{where}: {split} labels have dtype {labels_dtype}, expected integers")


def check_split(where: str, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Shape, dtype and label range of one split, or a DataError naming ``where``."""
    check_layout(where, split, (images.shape, images.dtype), (labels.shape, labels.dtype))
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


def _check_pickle(path: Path, content: bytes) -> None:
    """Refuses a pickle that would take far more memory than its size, before it is unpickled: one
    with more than MAX_PICKLE_OPS operations (each may make an object: 64 MB of EMPTY_SET make 14 GB
    of sets), or a memo index beyond that (the C unpickler makes its memo as long as the largest
    index: the 5 bytes of one LONG_BINPUT can ask for 64 GB)."""
    try:
        for count, (opcode, arg, _) in enumerate(pickletools.genops(content)):
            if count >= MAX_PICKLE_OPS:
                raise DataError(f"{path}: more than {MAX_PICKLE_OPS} pickle operations, not a CIFAR batch")
            if opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and arg >= MAX_PICKLE_OPS:
                raise DataError(f"{path}: pickle memo index {arg}, not a CIFAR batch")
    except ValueError as error:
        raise DataError(f"{path}: not a readable CIFAR batch ({error})") from None


@dataclass(frozen=True)
class _Batch:
    images: np.ndarray
    labels: np.ndarray
    md5: str
    sha256: str


def _read_batch(path: Path) -> _Batch:
    """One pickled batch, read once (its digests from the same bytes). Only an array is taken as
    data and only integers as labels: ``np.asarray`` of a list holding one 1 MB array 100000 times
    (1 MB of pickle) would allocate 100 GB."""
    content = read_bounded(path, MAX_BATCH_BYTES, "a CIFAR batch")
    _check_pickle(path, content)
    try:
        batch = _BatchUnpickler(io.BytesIO(content), encoding="latin1").load()
    except Exception as error:  # noqa: BLE001 - unpickling and numpy's reconstruction fail in many ways
        raise DataError(f"{path}: not a readable CIFAR batch ({error or type(error).__name__})") from None
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise DataError(f"{path}: not a CIFAR batch (no 'data' and 'labels')")
    data, labels = batch["data"], batch["labels"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        found = f"{data.shape} {data.dtype} array" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: batch data is a {found}, expected N x 3072 uint8")
    if not isinstance(labels, np.ndarray):
        items = labels if isinstance(labels, list) else [labels]
        odd = next((type(label).__name__ for label in items if type(label) is not int), None)
        if odd:
            raise DataError(f"{path}: batch labels must be integers (found {odd})")
        try:
            labels = np.array(items, dtype=np.int64)
        except OverflowError:
            raise DataError(f"{path}: batch labels out of range 0..9") from None
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    md5 = hashlib.md5(content, usedforsecurity=False).hexdigest()
    return _Batch(images, labels, md5, hashlib.sha256(content).hexdigest())


def from_folder(root: Path, source: str = "folder") -> CifarData:
    """Read ``root/cifar-10-batches-py`` ourselves (safely), and check it against the official md5s."""
    folder = root / BATCHES_DIR
    if not folder.is_dir():
        raise DataError(f"{folder}: missing (expected torchvision's CIFAR-10 layout)")
    import torchvision  # noqa: PLC0415 - only the data sets need it: a side without it runs the rest

    spec = torchvision.datasets.CIFAR10
    batches = {name: _read_batch(folder / name) for name, _ in spec.train_list + spec.test_list}
    official = all(batches[name].md5 == md5 for name, md5 in spec.train_list + spec.test_list)
    parts = [batches[name] for name, _ in spec.train_list]
    train = (np.concatenate([p.images for p in parts]), np.concatenate([p.labels for p in parts]))
    test = batches[spec.test_list[0][0]]
    record = {
        "label": "cifar10" if official else "cifar10-layout-unverified",
        "source": source,
        "path": str(folder),
        "verified": "official md5" if official else "md5 differs from the official CIFAR-10 files",
        "files": {name: batch.sha256 for name, batch in batches.items()},
    }
    return _data(train, (test.images, test.labels), str(folder), record)


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


def _npy_layout(archive: zipfile.ZipFile, name: str, where: Path) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype member ``name`` declares, from its .npy header alone; refused when the
    member unpacks to more bytes than that header accounts for (a zip bomb)."""
    info = archive.getinfo(f"{name}.npy")
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f".npy format {version[0]}.{version[1]}, expected 1.0 or 2.0")
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read(member)
            declared = member.tell() + math.prod(shape) * dtype.itemsize
    except (ValueError, tokenize.TokenError) as error:  # TokenError: numpy's parsing of a Python 2 header
        raise DataError(f"{where}: not a readable .npz ({info.filename}: {error})") from None
    if info.file_size > declared:
        raise DataError(f"{where}: {info.filename} unpacks to {info.file_size} bytes, more than its header declares")
    return shape, dtype


def from_npz(path: Path) -> CifarData:
    """An .npz whose every array is checked from its header (shape, dtype, size) before it is read."""
    try:
        with open_regular(path) as file:
            with zipfile.ZipFile(file) as archive:
                members = archive.namelist()
                missing = [name for name in NPZ_ARRAYS if f"{name}.npy" not in members]
                if missing:
                    has = ", ".join(member.removesuffix(".npy") for member in members) or "none"
                    raise DataError(f"{path}: missing arrays {', '.join(missing)} (has: {has})")
                layout = {name: _npy_layout(archive, name, path) for name in NPZ_ARRAYS}
                for split in ("train", "test"):
                    check_layout(str(path), split, layout[f"{split}_images"], layout[f"{split}_labels"])
                arrays = []
                for name in NPZ_ARRAYS:  # now at most MAX_IMAGES images each
                    with archive.open(f"{name}.npy") as member:
                        arrays.append(np.lib.format.read_array(member, allow_pickle=False))
            digest = sha256(file)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as error:
        # NotImplementedError: a compression method zipfile lacks; RuntimeError: an encrypted member
        raise DataError(f"{path}: not a readable .npz ({error or type(error).__name__})") from None
    record = {
        "label": KNOWN_FILES.get(digest, "npz-unverified"),
        "source": "npz",
        "path": str(path),
        "files": {path.name: digest},
    }
    return _data((arrays[0], arrays[1]), (arrays[2], arrays[3]), str(path), record)


def _check_link(link: str, top: Path) -> None:
    """A DataError when ``link`` leads out of the data root ``top``."""
    target = Path(os.path.realpath(link))
    if not target.is_relative_to(top):
        raise DataError(f"{link}: a link to {target}, outside the data root {top}; not followed")


def _class_images(folder: str, top: Path, room: int) -> list[str]:
    """The image files under one class folder, at most ``room`` of them, in make_dataset's order
    (folders by path, files by name); walked with a list, not recursion, however deep it goes."""
    found: dict[str, list[str]] = {}
    pending, count = [folder], 0
    while pending:
        current = pending.pop()
        names = found[current] = []
        with os.scandir(current) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
                elif entry.is_symlink() and entry.is_dir():
                    raise DataError(
                        f"{entry.path}: a link to a folder inside a class folder, not followed (it could loop)"
                    )
                elif entry.name.lower().endswith(IMAGE_EXTENSIONS):
                    if entry.is_symlink():
                        _check_link(entry.path, top)
                    names.append(entry.name)
                    count += 1
                    if count > room:
                        raise DataError(
                            f"{os.path.dirname(folder)}: more than the {MAX_IMAGES} images this suite reads"
                        )
    return [os.path.join(path, name) for path in sorted(found) for name in sorted(found[path])]


def _list_images(split: Path, top: Path) -> tuple[list[str], list[tuple[str, int]]]:
    """The class folders of ``split`` (sorted) and its image files with their class index.

    The same folders, files and order as torchvision's find_classes and make_dataset (hidden files
    and folders too, extensions in any case, sub-folders of class folders), walked here because
    make_dataset follows every link to a folder: ``cat/loop -> .`` counts cat's images again at
    each of some 40 levels, and a link may bring in files from anywhere. Links are:

    * followed when they stay inside the data root ``top``: a split or class folder linked there,
      image files linked into a cache there (a common way to lay a data set out);
    * refused in one line when they lead out of it (the record would name the root but count other
      files; give as root a folder that holds both), and when a link to a folder sits inside a class
      folder (a loop, or images counted twice or under two classes; link the class folder instead).

    A link is never skipped in silence, so the image count recorded is that of the tree as laid out.
    """
    try:
        if split.is_symlink():
            _check_link(str(split), top)
        with os.scandir(split) as entries:
            folders = sorted((entry.name, entry.path, entry.is_symlink()) for entry in entries if entry.is_dir())
        samples: list[tuple[str, int]] = []
        for index, (_, folder, linked) in enumerate(folders):
            if linked:
                _check_link(folder, top)
            samples += [(file, index) for file in _class_images(folder, top, MAX_IMAGES - len(samples))]
    except OSError as error:
        raise DataError(f"{error.filename or split}: cannot list ({error.strerror or error})") from None
    return [name for name, _, _ in folders], samples


def _read_image(file: str) -> np.ndarray:
    """One image's RGB pixels, its size checked from the header (all Image.open reads) before decoding."""
    content = read_bounded(Path(file), MAX_IMAGE_BYTES, "a 32 x 32 image")
    try:
        with Image.open(io.BytesIO(content), formats=IMAGE_FORMATS) as image:
            if image.size != (32, 32):
                raise DataError(f"{file}: image is {image.width} x {image.height}, expected 32 x 32")
            return np.asarray(image.convert("RGB"))
    except Image.DecompressionBombError as error:  # what Image.open itself refuses: more than 179 M pixels
        raise DataError(f"{file}: image is too large, expected 32 x 32 ({error})") from None
    except UnidentifiedImageError:
        raise DataError(f"{file}: not a readable image (not a PNG or JPEG file)") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise DataError(f"{file}: not a readable image ({error})") from None


def _read_image_tree(split: Path, top: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    classes, samples = _list_images(split, top)
    if not classes:
        raise DataError(f"{split}: no class folders")
    empty = sorted(set(classes) - {classes[label] for _, label in samples})
    if empty:
        raise DataError(f"{split}: no .png, .jpg or .jpeg files for the classes {', '.join(empty)}")
    if len(classes) != len(CLASSES):
        raise DataError(f"{split}: {len(classes)} class folders, expected {len(CLASSES)}")
    images = np.empty((len(samples), *SHAPE), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked before decoding
        for i, (file, _) in enumerate(samples):
            images[i] = _read_image(file)
    return images, np.array([label for _, label in samples], dtype=np.int64), classes


def from_imagefolder(root: Path) -> CifarData:
    top = Path(os.path.realpath(root))  # Path.resolve raises RuntimeError on a link loop
    train_images, train_labels, classes = _read_image_tree(root / "train", top)
    test_images, test_labels, test_classes = _read_image_tree(root / "test", top)
    if classes != test_classes:
        raise DataError(f"{root}: train and test have different class folders")
    record = {"label": "imagefolder", "source": "imagefolder", "path": str(root), "class_folders": classes}
    return _data((train_images, train_labels), (test_images, test_labels), str(root), record)


# -- synthetic -------------------------------------------------------------------------------------


def synthetic(reason: str) -> CifarData:
    """A fixed, learnable stand-in: each class a blocky colour pattern, each image that pattern plus noise."""
    rng = np.random.default_rng(SYNTHETIC_SEED)
    templates = rng.uniform(0, 255, size=(len(CLASSES), 4, 4, 3)).repeat(8, axis=1).repeat(8, axis=2)
    means = 0.5 * templates + 64  # per class: each pixel's value before the noise

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        """``clip(means[labels] + 48 * noise)`` as uint8, a few hundred images at a time: the same bytes
        as in one go (the generator's stream does not depend on how it is split), where whole-set
        float64 temporaries cost every process that trains on it 2.2 s of CPU instead of 0.5."""
        labels = rng.integers(0, len(CLASSES), count)
        images = np.empty((count, *SHAPE), np.uint8)
        for start in range(0, count, SYNTHETIC_CHUNK):
            part = slice(start, min(start + SYNTHETIC_CHUNK, count))
            noise = rng.standard_normal((part.stop - start, *SHAPE), dtype=np.float32)
            noise *= 48
            pixels = means[labels[part]]
            pixels += noise
            images[part] = np.clip(pixels, 0, 255, out=pixels)
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
    # two lines: the reason names a folder and an error of any length, the consequence must stay readable
    print(
        f"bench: {reason}\nbench: training on SYNTHETIC CIFAR-shaped data, every result marked data=synthetic",
        file=sys.stderr,
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
