"""CIFAR-10 training: the data paths agree, both models train on both paths, runs reproduce bit for bit."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cifar_fixtures import SHARED_NPZ, write_npz
from processes import run_python

from bench.context import DataSettings, EpochDone, RunContext, RunSettings
from workloads.cifar import data as cifar_data
from workloads.cifar.loaders import PAD, SeedLoader, TensorLoader, crop_and_flip
from workloads.cifar.models import LeNet5
from workloads.cifar.train import Training

CPU = torch.device("cpu")


def test_lenet5_is_the_tutorials() -> None:
    model = LeNet5()
    assert [type(m).__name__ for m in model.features] == ["Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "MaxPool2d"]
    assert [(m.in_features, m.out_features) for m in model.classifier if isinstance(m, torch.nn.Linear)] == [
        (400, 120),
        (120, 84),
        (84, 10),
    ]
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)


def test_tensor_path_normalizes_exactly_as_the_seed_transforms() -> None:
    images = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(10)
    kwargs = dict(batch=4, shuffle=False, augment=False, device=CPU, seed=0)
    for (a, la), (b, lb) in zip(
        SeedLoader(images, labels, **kwargs), TensorLoader(images, labels, **kwargs), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
        assert torch.equal(la, lb)


def test_batched_crop_and_flip_is_a_random_crop_of_the_padded_image_maybe_flipped() -> None:
    images = torch.randint(0, 256, (64, 3, 32, 32), dtype=torch.uint8)
    out = crop_and_flip(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = F.pad(images, (PAD, PAD, PAD, PAD))

    def window(n: int, dy: int, dx: int, flip: bool) -> torch.Tensor:
        crop = padded[n, :, dy : dy + 32, dx : dx + 32]
        return crop.flip(2) if flip else crop

    offsets, flips = set(), 0
    for n in range(len(images)):
        found = [
            (dy, dx, flip)
            for dy in range(9)
            for dx in range(9)
            for flip in (False, True)
            if torch.equal(out[n], window(n, dy, dx, flip))
        ]
        assert found, f"sample {n} is no crop of its padded image"
        offsets.add(found[0][:2])
        flips += found[0][2]
    assert len(offsets) > 20 and 15 < flips < 49, "offsets and flips are spread, as RandomCrop + Flip(p=0.5)"


def _training(model: str, path: str, data: cifar_data.CifarData, epochs: int = 1, seed: int = 0) -> Training:
    ctx = RunContext(RunSettings(seed=seed, data=DataSettings(source="synthetic")))
    ctx.apply()
    return Training(ctx, data, model, path, epochs=epochs, batch=64, lr=0.001, target_accuracy=0.0)


@pytest.fixture(scope="module")
def tiny() -> cifar_data.CifarData:
    return cifar_data.subset(cifar_data.synthetic("test"), 512, 256, seed=0)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["lenet5", "resnet18"])
@pytest.mark.parametrize("path", ["seed", "tensor"])
def test_both_models_train_on_both_paths(tiny, model: str, path: str) -> None:
    summary = _training(model, path, tiny).run().summary()
    (epoch,) = summary["epochs"]
    assert np.isfinite(epoch["train_loss"]) and 0 <= epoch["test_accuracy"] <= 1
    assert epoch["seconds"] > 0 and epoch["images_per_s"] == pytest.approx(512 / epoch["seconds"])
    assert 0 <= epoch["data_wait_seconds"] < epoch["seconds"]
    assert summary["data_label"] == "synthetic" and len(summary["weights_sha256"]) == 64
    assert summary["train_images"] == 512 and summary["test_images"] == 256
    assert summary["resident_data_bytes"] == (768 * 3072 + 768 * 8 if path == "tensor" else 0)


def test_a_rerun_from_the_same_start_is_bitwise_identical(tiny) -> None:
    training = _training("lenet5", "seed", tiny)
    first = training.run().summary()
    second = training.run().summary()
    assert first["weights_sha256"] == second["weights_sha256"]
    assert first["epochs"][0]["test_accuracy"] == second["epochs"][0]["test_accuracy"]
    other_seed = _training("lenet5", "seed", tiny, seed=1).run().summary()
    assert other_seed["weights_sha256"] != first["weights_sha256"]


@pytest.mark.slow
def test_synthetic_data_is_learnable() -> None:
    data = cifar_data.subset(cifar_data.synthetic("test"), 4000, 1000, seed=0)
    training = _training("lenet5", "tensor", data, epochs=3)
    training.lr = 0.01  # the recipe's 0.001 learns this too, only slower than a unit test should wait
    summary = training.run().summary()
    assert summary["final_test_accuracy"] > 0.5, "ten classes: chance is 0.1"


def test_each_epoch_is_reported_to_the_harness_as_it_ends(tiny) -> None:
    training = _training("lenet5", "tensor", tiny, epochs=2)
    heard: list[EpochDone] = []
    training.ctx.on_epoch = heard.append
    history = training.run().history
    assert heard == [EpochDone(e.epoch, 2, e.test_accuracy, e.train_loss) for e in history]


def test_target_accuracy_gives_the_time_to_reach_it(tiny) -> None:
    training = _training("lenet5", "tensor", tiny, epochs=2)
    training.target = 0.01
    summary = training.run().summary()
    first = summary["epochs"][0]
    assert summary["epochs_to_target"] == 1
    assert summary["seconds_to_target"] == pytest.approx(first["seconds"] + first["eval_seconds"])


@pytest.mark.slow
@pytest.mark.skipif(not SHARED_NPZ.exists(), reason="the cifar10-jpeg copy in ../shared is not on this machine")
def test_lenet5_learns_the_jpeg_copy_in_one_epoch() -> None:
    data = cifar_data.from_npz(SHARED_NPZ)
    summary = _training("lenet5", "tensor", data).run().summary()
    # 10 classes: chance is 10 %; with 10,000 test images its standard deviation is 0.3 points
    assert summary["final_test_accuracy"] > 0.12
    assert summary["resident_data_bytes"] < 300e6, "CIFAR-10 held as uint8 in under 300 MB"


def _run(out: Path, npz: Path) -> dict:
    done = run_python(
        "-m",
        "bench",
        "run",
        "--quick",
        "--workload",
        "cifar_train",
        "--param",
        "model=lenet5",
        "--data-root",
        str(npz),
        "--out",
        str(out),
        "--",
        "-q",
        cwd=out.parent,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (run_dir,) = out.iterdir()
    return json.loads((run_dir / "benchmark.json").read_text()) | {"run_dir": str(run_dir), "stdout": done.stdout}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[dict, dict]:
    root = tmp_path_factory.mktemp("repro")
    npz = write_npz(root / "data.npz", train=600, test=200)
    return _run(root / "a", npz), _run(root / "b", npz)


@pytest.mark.slow
def test_two_processes_give_bitwise_identical_weights_and_accuracies(two_runs) -> None:
    a, b = ({r["param"]: r["extra_info"]["metrics"] for r in run["benchmarks"]} for run in two_runs)
    assert set(a) == set(b) and len(a) == 2  # lenet5 on both paths
    for case in a:
        assert a[case]["weights_sha256"] == b[case]["weights_sha256"]
        assert [e["test_accuracy"] for e in a[case]["epochs"]] == [e["test_accuracy"] for e in b[case]["epochs"]]
        assert [e["train_loss"] for e in a[case]["epochs"]] == [e["train_loss"] for e in b[case]["epochs"]]


@pytest.mark.slow
def test_in_a_pipe_each_epoch_is_a_plain_progress_line(two_runs) -> None:
    """Reported from inside the timed call, past pytest's output capture, before the case's own line."""
    lines = [line for line in two_runs[0]["stdout"].splitlines() if line.startswith("[")]
    labels, notes = zip(*(line.split("  ")[1:] for line in lines), strict=True)
    assert labels == ("cifar_train[seed]",) * 2 + ("cifar_train[tensor]",) * 2
    assert notes[0].startswith("epoch 1/1, acc ") and notes[2].startswith("epoch 1/1, acc ")
    assert all(re.fullmatch(r"[\d.]+ m?s", note) for note in notes[1::2]), "then the case's median"
    assert re.fullmatch(
        r"\[1/2\] \d:\d\d elapsed, ~\d:\d\d left  cifar_train\[seed\]  epoch 1/1, acc \d+\.\d%, loss \d\.\d{3}",
        lines[0],
    )
    assert "\r" not in two_runs[0]["stdout"]


@pytest.mark.slow
def test_every_training_result_carries_its_data_record(two_runs) -> None:
    for result in two_runs[0]["benchmarks"]:
        info = result["extra_info"]
        assert info["data"]["label"] == "npz-unverified" and info["data"]["source"] == "npz"
        assert info["data"]["train_count"] == 600 and len(info["data"]["files"]["data.npz"]) == 64
        assert info["rates"]["items_per_s"] == pytest.approx(512 / result["stats"]["median"])
        assert info["plan"] == {"iterations": 1, "rounds": 1, "warmup_rounds": 0}
        assert result["stats"]["rounds"] == 1


@pytest.mark.slow
def test_show_gives_accuracy_data_and_loader_flag(two_runs) -> None:
    done = run_python("-m", "bench", "show", two_runs[0]["run_dir"], cwd=Path(two_runs[0]["run_dir"]))
    rows = [line for line in done.stdout.splitlines() if line.startswith("  cifar_train")]
    assert len(rows) == 2 and all(" img/s, acc " in row and " npz-unverified" in row for row in rows)


@pytest.mark.slow
def test_tensorboard_event_files_hold_scalars_histograms_graph_and_images(two_runs) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: PLC0415

    run_dir = Path(two_runs[0]["run_dir"])
    for result in two_runs[0]["benchmarks"]:
        folder = run_dir / result["extra_info"]["metrics"]["side_files"]
        events = EventAccumulator(str(folder), size_guidance={"histograms": 0, "images": 0}).Reload()
        tags = events.Tags()
        assert {"train/loss", "test/accuracy", "train/learning_rate", "throughput/images_per_s"} <= set(tags["scalars"])
        assert events.Scalars("train/learning_rate")[0].value == pytest.approx(0.001)
        assert events.Scalars("test/accuracy")[0].value == pytest.approx(
            result["extra_info"]["metrics"]["final_test_accuracy"]
        )
        assert any(t.startswith("weights/features.0.weight") for t in tags["histograms"])
        assert tags["images"] == ["inputs/first_batch"] and tags["graph"] is True
        history = json.loads((folder / "history.json").read_text())
        assert history["weights_sha256"] == result["extra_info"]["metrics"]["weights_sha256"]
