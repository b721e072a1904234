"""CIFAR-10 data sources, read from small files in the real formats, and every way a file can be bad."""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cifar_fixtures import SHARED_NPZ, images_and_labels, write_batches, write_imagefolder, write_npz
from hostile import RunsCode
from PIL import Image

from bench.context import DataSettings
from bench.errors import BenchError, UsageError
from workloads.cifar import data as cifar_data
from workloads.cifar.data import BATCHES_DIR, from_folder, from_imagefolder, from_npz, subset


def load(source: str = "auto", root: Path | None = None) -> cifar_data.CifarData:
    return cifar_data._load(source, root)


def test_torchvision_layout_is_read_with_the_right_pixels(tmp_path: Path) -> None:
    data = from_folder(write_batches(tmp_path))
    images, labels = images_and_labels(20, seed=0)  # data_batch_1
    np.testing.assert_array_equal(data.train_images[:20], images)
    np.testing.assert_array_equal(data.train_labels[:20], labels)
    assert data.train_images.shape == (100, 32, 32, 3) and data.test_images.shape == (30, 32, 32, 3)
    record = data.record
    assert record["label"] == "cifar10-layout-unverified", "a copy whose md5s differ is not called CIFAR-10"
    assert record["train_count"] == 100 and record["test_count"] == 30
    assert set(record["files"]) == {f"data_batch_{i}" for i in range(1, 6)} | {"test_batch"}
    assert all(len(digest) == 64 for digest in record["files"].values())


def test_npz_source_names_known_copies_by_checksum(tmp_path: Path, monkeypatch) -> None:
    path = write_npz(tmp_path / "small.npz")
    assert from_npz(path).label == "npz-unverified"
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(cifar_data.KNOWN_FILES, digest, "cifar10-jpeg")
    data = from_npz(path)
    assert data.label == "cifar10-jpeg" and data.record["files"]["small.npz"] == digest
    assert len(data.train_labels) == 100 and data.train_labels.dtype == np.int64


def test_imagefolder_source(tmp_path: Path) -> None:
    data = from_imagefolder(write_imagefolder(tmp_path))
    assert data.train_images.shape == (20, 32, 32, 3)
    assert sorted(set(data.train_labels.tolist())) == list(range(10))
    images, _ = images_and_labels(2, seed=3)  # class 3, "cat", is the fourth folder in sorted order
    np.testing.assert_array_equal(data.train_images[6:8], images)
    assert data.label == "imagefolder"


def test_auto_tells_the_sources_apart(tmp_path: Path) -> None:
    assert load(root=write_npz(tmp_path / "a.npz")).record["source"] == "npz"
    assert load(root=write_batches(tmp_path / "b")).record["source"] == "folder"
    assert load(root=write_imagefolder(tmp_path / "c")).record["source"] == "imagefolder"


def test_synthetic_fallback_when_nothing_is_there_and_the_download_fails(tmp_path: Path, monkeypatch, capsys) -> None:
    def no_network(root: Path) -> None:
        raise OSError("[Errno -2] Name or service not known")

    monkeypatch.setattr(cifar_data, "from_torchvision", no_network)
    monkeypatch.delenv("BENCH_OFFLINE", raising=False)
    data = load()
    assert data.label == "synthetic" and "download" in data.record["reason"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "download" in err[0] and "SYNTHETIC" in err[1] and "data=synthetic" in err[1]
    assert len(err[1]) <= 120, "the consequence fits a terminal whatever the reason's length"


# the synthetic set's bytes (train and test images, then labels as int64) as the first release drew them
# in one go; drawn a few hundred images at a time since, they must not change
SYNTHETIC_SHA256 = "a5e012a0f64802ed780552a7db214130182f72dcc2a483b1f606d04d61c5d3f2"


def test_synthetic_data_is_one_fixed_data_set() -> None:
    a, b = cifar_data.synthetic("test"), cifar_data.synthetic("test")
    np.testing.assert_array_equal(a.train_images, b.train_images)
    assert a.train_images.shape == (10_000, 32, 32, 3) and a.train_images.dtype == np.uint8
    assert len(set(a.train_labels.tolist())) == 10
    digest = hashlib.sha256()
    for array in (a.train_images, a.train_labels, a.test_images, a.test_labels):
        digest.update(array.tobytes())
    assert digest.hexdigest() == SYNTHETIC_SHA256


def test_explicit_sources_never_fall_back(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="needs --data-root"):
        load("npz")
    with pytest.raises(BenchError, match="missing"):
        load("folder", tmp_path)


def test_subset_is_seeded_and_random(tmp_path: Path) -> None:
    data = from_npz(write_npz(tmp_path / "s.npz", train=100))
    a, b, c = subset(data, 30, 10, seed=0), subset(data, 30, 10, seed=0), subset(data, 30, 10, seed=1)
    np.testing.assert_array_equal(a.train_images, b.train_images)
    assert not np.array_equal(a.train_labels, c.train_labels) or not np.array_equal(a.train_images, c.train_images)
    assert len(a.train_labels) == 30 and len(a.test_labels) == 10
    assert subset(data, 10**6, 10**6, seed=0).train_images is data.train_images


def _bad_npz(tmp_path: Path, **override: np.ndarray) -> Path:
    return write_npz(tmp_path / "bad.npz", **override)


BAD_NPZ = {
    "wrong dtype": (dict(train_images=np.zeros((4, 32, 32, 3), np.float32)), "dtype float32, expected uint8"),
    "wrong shape": (dict(train_images=np.zeros((4, 3, 32, 32), np.uint8)), "expected N x 32 x 32 x 3"),
    "labels out of range": (dict(test_labels=np.full(40, 10)), "labels out of range 0..9 (found 10..10)"),
    "negative labels": (dict(test_labels=np.full(40, -1)), "labels out of range"),
    "label count": (dict(train_labels=np.zeros(3, np.int64)), "100 train images but labels of shape (3,)"),
    "float labels": (dict(train_labels=np.zeros(100, np.float64)), "labels have dtype float64"),
    "empty": (dict(test_images=np.zeros((0, 32, 32, 3), np.uint8), test_labels=np.zeros(0, np.int64)), "no test"),
}


@pytest.mark.parametrize("case", sorted(BAD_NPZ))
def test_bad_arrays_are_named_in_one_line(tmp_path: Path, case: str) -> None:
    override, message = BAD_NPZ[case]
    path = _bad_npz(tmp_path, **override)
    with pytest.raises(BenchError) as error:
        from_npz(path)
    assert message in str(error.value) and str(path) in str(error.value) and "\n" not in str(error.value)


def test_truncated_corrupt_and_incomplete_npz(tmp_path: Path) -> None:
    good = write_npz(tmp_path / "good.npz").read_bytes()
    cases = {
        "truncated.npz": good[: len(good) // 2],
        "garbage.npz": b"this is not a zip file" * 100,
        "flipped.npz": good[:200] + bytes(b ^ 0xFF for b in good[200:400]) + good[400:],
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(BenchError, match=f"{path}: "):
            from_npz(path)
    partial = tmp_path / "partial.npz"
    np.savez(partial, train_images=np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(BenchError, match="missing arrays train_labels, test_images, test_labels"):
        from_npz(partial)


def test_bad_batches(tmp_path: Path) -> None:
    root = write_batches(tmp_path)
    batch = root / BATCHES_DIR / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:500])
    with pytest.raises(BenchError, match="data_batch_3: not a readable CIFAR batch"):
        from_folder(root)
    batch.write_bytes(pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, protocol=2))
    with pytest.raises(BenchError, match="expected N x 3072 uint8"):
        from_folder(root)
    fresh = write_batches(tmp_path / "fresh")
    (fresh / BATCHES_DIR / "test_batch").unlink()
    with pytest.raises(BenchError, match="test_batch: no such file"):
        from_folder(fresh)


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    root = write_batches(tmp_path)
    hostile = pickle.dumps({"data": RunsCode("touch pwned"), "labels": []}, protocol=2)
    (root / BATCHES_DIR / "data_batch_1").write_bytes(hostile)
    with pytest.raises(BenchError, match=r"refusing to load posix\.system"):
        from_folder(root)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_bad_imagefolders(tmp_path: Path) -> None:
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "test").mkdir()
    with pytest.raises(BenchError, match="train: no class folders"):
        from_imagefolder(tmp_path / "empty")
    root = write_imagefolder(tmp_path / "tree")
    (root / "train" / "cat" / "0.png").write_bytes(b"not a png")
    with pytest.raises(BenchError, match=r"cat/0\.png: not a readable image"):
        from_imagefolder(root)
    Image.new("RGB", (64, 48)).save(root / "train" / "cat" / "0.png")
    with pytest.raises(BenchError, match="image is 64 x 48, expected 32 x 32"):
        from_imagefolder(root)


def test_unknown_root_and_source(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no such file or folder"):
        load(root=tmp_path / "nothing")
    with pytest.raises(BenchError, match=r"neither an \.npz"):
        load(root=tmp_path)
    with pytest.raises(UsageError, match="unknown data source 'ftp'"):
        DataSettings(source="ftp")


@pytest.mark.slow
def test_cli_refuses_bad_data_before_writing_anything(tmp_path: Path) -> None:
    from processes import run_python  # noqa: PLC0415

    bad = _bad_npz(tmp_path, train_labels=np.full(100, 12))
    out = tmp_path / "runs"
    done = run_python(
        "-m",
        "bench",
        "run",
        "--quick",
        "--workload",
        "cifar_train",
        "--data-root",
        str(bad),
        "--out",
        str(out),
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"bench: error: {bad}: train labels out of range 0..9 (found 12..12)"]
    assert not out.exists()


@pytest.mark.skipif(not SHARED_NPZ.exists(), reason="the cifar10-jpeg copy in ../shared is not on this machine")
def test_the_shared_jpeg_copy_is_recognised() -> None:
    data = from_npz(SHARED_NPZ)
    assert data.label == "cifar10-jpeg"
    assert data.record["train_count"] == 50_000 and data.record["test_count"] == 10_000


# -- data made to hang, loop or fill memory -----------------------------------------------------------


def test_symlink_loops_in_an_image_tree_are_refused(tmp_path: Path) -> None:
    """torchvision's make_dataset follows ``cat/loop -> .`` about 40 times, counting cat's images again each time."""
    root = write_imagefolder(tmp_path / "tree")
    for target in (".", "..", "../.."):
        loop = root / "train" / "cat" / "loop"
        loop.unlink(missing_ok=True)
        loop.symlink_to(target)
        with pytest.raises(BenchError) as error:
            from_imagefolder(root)
        assert str(error.value) == f"{loop}: a link to a folder inside a class folder, not followed (it could loop)"


@pytest.mark.parametrize("link", ["train/cat/9.png", "train/cat", "test"])
def test_links_leaving_the_data_root_are_refused(tmp_path: Path, link: str) -> None:
    outside = write_imagefolder(tmp_path / "elsewhere").resolve()
    root = write_imagefolder(tmp_path / "tree")
    target = outside / ("train/cat/0.png" if link.endswith(".png") else link)
    shutil.rmtree(root / link, ignore_errors=True)
    (root / link).symlink_to(target)
    with pytest.raises(BenchError) as error:
        from_imagefolder(root)
    assert (
        str(error.value) == f"{root / link}: a link to {target}, outside the data root {root.resolve()}; not followed"
    )


def test_links_inside_the_data_root_are_followed_once(tmp_path: Path) -> None:
    """A tree of links into a cache inside the root (and a linked class folder) reads like the tree itself."""
    root = write_imagefolder(tmp_path / "tree")
    expected = from_imagefolder(root)
    cache = root / ".cache"
    cache.mkdir()
    for number, image in enumerate(sorted((root / "train").glob("*/*.png"))):
        image.rename(cache / f"{number}.png")
        image.symlink_to(Path("..", "..", ".cache", f"{number}.png"))
    (root / "test" / "cat").rename(cache / "cat")
    (root / "test" / "cat").symlink_to(cache / "cat")
    data = from_imagefolder(root)
    assert data.record["train_count"] == 20 and data.record["test_count"] == 20
    np.testing.assert_array_equal(data.train_images, expected.train_images)
    np.testing.assert_array_equal(data.test_images, expected.test_images)
    np.testing.assert_array_equal(data.train_labels, expected.train_labels)


def test_image_tree_files_and_order_are_torchvisions(tmp_path: Path) -> None:
    """Without links, the files found and their order are make_dataset's: hidden files, any case, sub-folders."""
    from torchvision.datasets.folder import find_classes, make_dataset  # noqa: PLC0415

    split = tmp_path / "train"
    files = ["a/0.png", "a/.hidden.PNG", "a/b.JPeG", "a/notes.txt", "a/x.gif", "a/sub/2.jpg", "a/sub/deep/3.png"]
    for name in [*files, "a/sub-x/4.png", "a b/1.jpg", "a-b/sub/0.png", ".hidden/0.png", "Z/0.png", "not-a-class.png"]:
        (split / name).parent.mkdir(parents=True, exist_ok=True)
        (split / name).touch()
    classes, index = find_classes(split)
    assert cifar_data._list_images(split, tmp_path) == (classes, make_dataset(split, index, (".png", ".jpg", ".jpeg")))


def test_a_deep_image_tree_is_walked_without_recursion(tmp_path: Path) -> None:
    """os.walk, in make_dataset, recursed once per level: 1100 nested folders raised RecursionError."""
    root = write_imagefolder(tmp_path / "tree")
    folders = [str(root / "train" / "cat")]
    for _ in range(1100):
        folders.append(f"{folders[-1]}/d")
        os.mkdir(folders[-1])
    os.rename(root / "train" / "cat" / "0.png", f"{folders[-1]}/0.png")
    try:
        assert from_imagefolder(root).record["train_count"] == 20
    finally:  # shutil.rmtree, with which pytest removes old temporary folders, recurses too
        os.remove(f"{folders[-1]}/0.png")
        for folder in reversed(folders[1:]):
            os.rmdir(folder)


def _png_declaring(width: int, height: int) -> bytes:
    """A PNG of 80 bytes whose header declares ``width`` x ``height`` 1-bit pixels (its data is cut short)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")
    )


HUGE_IMAGES = {  # Image.open refuses more than twice Pillow's MAX_IMAGE_PIXELS, and warns past it
    "refused by Pillow": ((20_000, 20_000), "image is too large, expected 32 x 32 (Image size (400000000 pixels)"),
    "warned by Pillow": ((10_000, 10_000), "image is 10000 x 10000, expected 32 x 32"),
}


@pytest.mark.parametrize("case", sorted(HUGE_IMAGES))
def test_an_image_declaring_a_huge_size_is_refused_before_decoding(tmp_path: Path, case: str) -> None:
    size, message = HUGE_IMAGES[case]
    root = write_imagefolder(tmp_path / "tree")
    image = root / "train" / "cat" / "0.png"
    image.write_bytes(_png_declaring(*size))
    with warnings.catch_warnings(record=True) as caught, pytest.raises(BenchError) as error:
        warnings.simplefilter("always")
        from_imagefolder(root)
    assert str(error.value).startswith(f"{image}: {message}") and "\n" not in str(error.value)
    assert not [str(warning.message) for warning in caught]


def test_an_image_in_another_format_is_refused(tmp_path: Path) -> None:
    """Only PNG and JPEG are decoded, whatever the name says: Pillow's other plugins are never reached."""
    root = write_imagefolder(tmp_path / "tree")
    Image.new("RGB", (32, 32)).save(root / "train" / "cat" / "0.png", format="GIF")
    with pytest.raises(BenchError, match=r"cat/0\.png: not a readable image \(not a PNG or JPEG"):
        from_imagefolder(root)


def _npz_with_member(path: Path, name: str, content: bytes, compression: int = zipfile.ZIP_STORED) -> Path:
    """write_npz's small arrays, with member ``name`` holding ``content`` instead."""
    write_npz(path, train=20, test=10)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    members[name] = content
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data, compress_type=compression if member == name else zipfile.ZIP_DEFLATED)
    return path


def _npy_header(shape: tuple[int, ...], dtype: str) -> bytes:
    header = io.BytesIO()
    descr = np.lib.format.dtype_to_descr(np.dtype(dtype))
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue()


HUGE_NPZ = {
    "images": ("train_images.npy", (10**9, 32, 32, 3), "u1", "1000000000 train images, more than the 1000000"),
    "labels": ("test_labels.npy", (10**12,), "<i8", "10 test images but labels of shape (1000000000000,)"),
    "dtype": ("train_images.npy", (10**8, 32, 32, 3), "<f8", "train images have dtype float64, expected uint8"),
}


@pytest.mark.parametrize("case", sorted(HUGE_NPZ))
def test_an_npz_declaring_huge_arrays_is_refused_before_reading_them(tmp_path: Path, case: str) -> None:
    """The file is a few KB; numpy would allocate what the .npy header says (terabytes) before reading."""
    member, shape, dtype, message = HUGE_NPZ[case]
    path = _npz_with_member(tmp_path / "huge.npz", member, _npy_header(shape, dtype) + bytes(16))
    with pytest.raises(BenchError) as error:
        from_npz(path)
    assert str(error.value).startswith(f"{path}: {message}") and "\n" not in str(error.value)


def test_an_npz_member_holding_more_than_its_header_declares_is_refused(tmp_path: Path) -> None:
    """A zip bomb: the member's uncompressed size, not its .npy header, bounds what is inflated."""
    labels = np.arange(20) % 10
    padded = _npy_header((20,), "<i8") + labels.tobytes() + bytes(2**20)
    path = _npz_with_member(tmp_path / "bomb.npz", "train_labels.npy", padded, zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 100_000
    with pytest.raises(BenchError, match=r"train_labels\.npy unpacks to 1048864 bytes, more than its header"):
        from_npz(path)


def _set_central_field(path: Path, offset: int, value: int) -> None:
    """Set a 2-byte field at ``offset`` in every central directory entry of the zip ``path``."""
    raw = bytearray(path.read_bytes())
    at = raw.find(b"PK\x01\x02")
    while at >= 0:
        raw[at + offset : at + offset + 2] = value.to_bytes(2, "little")
        at = raw.find(b"PK\x01\x02", at + 4)
    path.write_bytes(raw)


def test_npz_members_that_are_not_readable_arrays(tmp_path: Path) -> None:
    """np.load returns a member that is not .npy as bytes; zipfile raises NotImplementedError and RuntimeError."""
    path = _npz_with_member(tmp_path / "bytes.npz", "train_images.npy", b"no array here")
    with pytest.raises(BenchError, match=r"bytes\.npz: not a readable \.npz \(train_images\.npy: .*magic"):
        from_npz(path)
    for name, offset, value in (("method.npz", 10, 99), ("encrypted.npz", 8, 1)):
        path = write_npz(tmp_path / name, train=20, test=10)
        _set_central_field(path, offset, value)
        with pytest.raises(BenchError, match=f"{name}: not a readable .npz"):
            from_npz(path)


def test_a_batch_far_larger_than_cifars_is_refused_before_it_is_read(tmp_path: Path) -> None:
    root = write_batches(tmp_path)
    with (root / BATCHES_DIR / "data_batch_2").open("r+b") as batch:
        batch.truncate(2**30)  # sparse: nothing written
    with pytest.raises(BenchError, match=r"data_batch_2: 1024 MB, more than a CIFAR batch \(64 MB\)"):
        from_folder(root)


# Run in a child that may use at most 8 GiB and stops any case after 20 s, so that this test fails
# (rather than hangs or fills the machine) on a loader that waits or allocates what a file declares
HOSTILE_CHILD = """
import json, resource, signal, sys, warnings
resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
from bench.api import DataSettings
from workloads.cifar.data import load

class Hung(BaseException):  # not an OSError, which a loader may catch
    pass

def hung(*_):
    raise Hung("still reading after 20 s")

signal.signal(signal.SIGALRM, hung)
outcomes = {}
for name, (source, root) in json.loads(sys.argv[1]).items():
    signal.alarm(20)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            load(DataSettings(source=source, root=root))
            outcomes[name] = "loaded"
        except BaseException as error:
            outcomes[name] = f"{type(error).__name__}: {error}"
    signal.alarm(0)
    outcomes[name] += "".join(f" / warning: {warning.message}" for warning in caught)
print(json.dumps(outcomes))
"""


def _replace(path: Path, by: str | bytes) -> Path:
    """``path`` replaced by a FIFO (``by`` "fifo"), a link (``by`` a path) or the bytes ``by``."""
    path.unlink(missing_ok=True)
    if by == "fifo":
        os.mkfifo(path)
    elif isinstance(by, str):
        path.symlink_to(by)
    else:
        path.write_bytes(by)
    return path


def _in_batches(name: str, by: str | bytes) -> Callable[[Path], tuple[str, Path]]:
    return lambda ws: ("folder", _replace(write_batches(ws) / BATCHES_DIR / name, by).parents[1])


def _labels_bomb(ws: Path) -> tuple[str, Path]:
    """10**5 references to one 1 MB array as labels: a 1 MB pickle that np.asarray would make 100 GB."""
    big = np.zeros(2**20, np.uint8)
    bomb = pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [big] * 10**5}, protocol=2)
    return _in_batches("data_batch_1", bomb)(ws)


HOSTILE: dict[str, tuple[Callable[[Path], tuple[str, Path]], str]] = {
    "fifo batch": (_in_batches("data_batch_1", "fifo"), "data_batch_1: not a regular file"),
    "/dev/zero batch": (_in_batches("data_batch_1", "/dev/zero"), "data_batch_1: not a regular file"),
    "labels bomb": (
        _labels_bomb,
        "labels must be integers (found ndarray)",
    ),
    # a few bytes that the C unpickler would turn into gigabytes: LONG_BINPUT makes its memo 2**33 entries long,
    # EMPTY_SET makes a 216-byte set (14 GB from a 64 MB file)
    "pickle memo bomb": (_in_batches("data_batch_4", b"\x80\x02Nr\xff\xff\xff\xff."), "pickle memo index 4294967295"),
    "pickle of sets": (_in_batches("data_batch_4", b"\x80\x04" + b"\x8f" * 10**6 + b"."), "more than 1000000 pickle"),
    "fifo image": (
        lambda ws: ("imagefolder", _replace(write_imagefolder(ws, per_class=1) / "train/cat/0.png", "fifo").parents[2]),
        "0.png: not a regular file",
    ),
    "fifo npz": (lambda ws: ("npz", _replace(ws / "data.npz", "fifo")), "data.npz: not a regular file"),
    "huge npz": (
        lambda ws: (
            "npz",
            _npz_with_member(ws / "huge.npz", "train_images.npy", _npy_header((10**9, 32, 32, 3), "u1")),
        ),
        "1000000000 train images, more than the 1000000",
    ),
}


@pytest.fixture(scope="module")
def hostile_outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """What loading each HOSTILE data set did, all loaded in one child (one import of torch)."""
    from processes import run_python  # noqa: PLC0415

    ws = tmp_path_factory.mktemp("hostile")
    roots = {}
    for number, (name, (setup, _)) in enumerate(HOSTILE.items()):
        (ws / str(number)).mkdir()
        source, root = setup(ws / str(number))
        roots[name] = (source, str(root))
    done = run_python("-c", HOSTILE_CHILD, json.dumps(roots), cwd=ws, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_data_is_refused_in_one_line_without_hanging_or_filling_memory(
    hostile_outcomes: dict[str, str], case: str
) -> None:
    outcome, says = hostile_outcomes[case], HOSTILE[case][1]
    assert outcome.startswith(("DataError: ", "FileError: ")) and says in outcome and "\n" not in outcome, outcome
