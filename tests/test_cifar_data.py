"""CIFAR-10 data sources, read from small files in the real formats, and every way a file can be bad."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from cifar_fixtures import SHARED_NPZ, images_and_labels, write_batches, write_imagefolder, write_npz
from hostile import RunsCode

from bench.context import DataSettings
from bench.errors import UsageError
from workloads.cifar import data as cifar_data
from workloads.cifar.data import BATCHES_DIR, DataError, from_folder, from_imagefolder, from_npz, subset


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
    monkeypatch.setitem(cifar_data.KNOWN_FILES, cifar_data.sha256(path), "cifar10-jpeg")
    data = from_npz(path)
    assert data.label == "cifar10-jpeg" and data.record["files"]["small.npz"] == cifar_data.sha256(path)
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
    assert len(err) == 1 and "SYNTHETIC" in err[0] and "data=synthetic" in err[0]


def test_synthetic_data_is_one_fixed_data_set() -> None:
    a, b = cifar_data.synthetic("test"), cifar_data.synthetic("test")
    np.testing.assert_array_equal(a.train_images, b.train_images)
    assert a.train_images.shape == (10_000, 32, 32, 3) and a.train_images.dtype == np.uint8
    assert len(set(a.train_labels.tolist())) == 10


def test_explicit_sources_never_fall_back(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="needs --data-root"):
        load("npz")
    with pytest.raises(DataError, match="missing"):
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
    with pytest.raises(DataError) as error:
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
        with pytest.raises(DataError, match=f"{path}: "):
            from_npz(path)
    partial = tmp_path / "partial.npz"
    np.savez(partial, train_images=np.zeros((1, 32, 32, 3), np.uint8))
    with pytest.raises(DataError, match="missing arrays train_labels, test_images, test_labels"):
        from_npz(partial)


def test_bad_batches(tmp_path: Path) -> None:
    root = write_batches(tmp_path)
    batch = root / BATCHES_DIR / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:500])
    with pytest.raises(DataError, match="data_batch_3: not a readable CIFAR batch"):
        from_folder(root)
    batch.write_bytes(pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, protocol=2))
    with pytest.raises(DataError, match="expected N x 3072 uint8"):
        from_folder(root)
    fresh = write_batches(tmp_path / "fresh")
    (fresh / BATCHES_DIR / "test_batch").unlink()
    with pytest.raises(DataError, match="test_batch: missing"):
        from_folder(fresh)


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    root = write_batches(tmp_path)
    hostile = pickle.dumps({"data": RunsCode("touch pwned"), "labels": []}, protocol=2)
    (root / BATCHES_DIR / "data_batch_1").write_bytes(hostile)
    with pytest.raises(DataError, match=r"refusing to load posix\.system"):
        from_folder(root)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_bad_imagefolders(tmp_path: Path) -> None:
    (tmp_path / "empty" / "train").mkdir(parents=True)
    (tmp_path / "empty" / "test").mkdir()
    with pytest.raises(DataError, match="Couldn't find any class folder"):
        from_imagefolder(tmp_path / "empty")
    root = write_imagefolder(tmp_path / "tree")
    (root / "train" / "cat" / "0.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cat/0\.png: not a readable image"):
        from_imagefolder(root)
    from PIL import Image  # noqa: PLC0415

    Image.new("RGB", (64, 48)).save(root / "train" / "cat" / "0.png")
    with pytest.raises(DataError, match="image is 64 x 48, expected 32 x 32"):
        from_imagefolder(root)


def test_unknown_root_and_source(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file or folder"):
        load(root=tmp_path / "nothing")
    with pytest.raises(DataError, match=r"neither an \.npz"):
        load(root=tmp_path)
    with pytest.raises(UsageError, match="unknown data source 'ftp'"):
        DataSettings(source="ftp")


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
