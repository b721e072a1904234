"""Reference bands and ``python -m bench reproduce``: the table, the verdicts, the exit codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from cifar_fixtures import write_npz
from processes import run_python

from bench.bands import DEFAULT_BANDS, load_bands
from bench.errors import UsageError

BAND = """
[[band]]
model = "lenet5"
recipe = "seed"
epochs = 1
data = "{data}"
device = "cpu"
low = {low}
high = {high}
provenance = "a test band"
"""


def test_committed_bands_are_valid_and_cover_the_measured_recipes() -> None:
    bands = {b.key(): b for b in load_bands(DEFAULT_BANDS)}
    assert ("lenet5", "seed", 10, "cifar10-jpeg", "cpu") in bands
    assert ("resnet18", "seed", 1, "cifar10-jpeg", "cpu") in bands
    assert all(b.provenance for b in bands.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not [ toml", "not a readable TOML bands file"),
        ("[other]\nx = 1", "no [[band]] entries"),
        (BAND.format(data="cifar10", low=0.6, high=0.5), "need 0 <= low <= high <= 1"),
        (BAND.format(data="synthetic", low=0.1, high=0.5), "synthetic data has no reference accuracy"),
        (BAND.format(data="cifar10", low="'x'", high=0.5), "'low' must be a float"),
        (
            BAND.format(data="cifar10", low=0.1, high=0.5).replace('recipe = "seed"', 'recipe = "fast"'),
            "unknown recipe",
        ),
        (BAND.format(data="cifar10", low=0.1, high=0.5) * 2, "two bands for the same"),
    ],
)
def test_bad_bands_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bands.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)):
        load_bands(path)


@pytest.fixture(scope="module")
def small_cifar(tmp_path_factory) -> Path:
    return write_npz(tmp_path_factory.mktemp("data") / "small.npz", train=300, test=100)


def reproduce(tmp_path: Path, bands: str, *argv: str) -> tuple[int, list[str]]:
    path = tmp_path / "bands.toml"
    path.write_text(bands)
    argv = ("--epochs", "1", "--bands", str(path), "--out", str(tmp_path / "runs"), *argv)
    done = run_python("-m", "bench", "reproduce", *argv, cwd=tmp_path, timeout=600)
    return done.returncode, done.stdout.strip().splitlines()


@pytest.mark.slow
@pytest.mark.parametrize(("low", "high", "code", "word"), [(0.0, 1.0, 0, "PASS"), (0.99, 1.0, 1, "MISS")])
def test_verdict_against_the_band(
    tmp_path: Path, small_cifar: Path, low: float, high: float, code: int, word: str
) -> None:
    got, lines = reproduce(
        tmp_path, BAND.format(data="npz-unverified", low=low, high=high), "--data-root", str(small_cifar)
    )
    assert got == code
    header, row = lines[-2:]
    assert header.split() == ["model", "path", "epochs", "data", "device", "expected", "band", "measured", "verdict"]
    assert row.split()[:5] == ["lenet5", "tensor", "1", "npz-unverified", "cpu"] and row.endswith(word)
    assert f"{low:.1%} .. {high:.1%}" in row
    (epoch,) = [line for line in lines if "  epoch " in line]  # training shows its epochs as it goes
    assert re.fullmatch(
        r"\[1/1\] \d:\d\d elapsed, ~\d:\d\d left  cifar_train  epoch 1/1, acc [\d.]+%, loss [\d.]+", epoch
    )


@pytest.mark.slow
def test_synthetic_data_never_meets_a_band(tmp_path: Path) -> None:
    got, lines = reproduce(tmp_path, BAND.format(data="cifar10", low=0.0, high=1.0), "--data-source", "synthetic")
    assert got == 1
    assert lines[-1].split()[3] == "synthetic" and lines[-1].endswith("NO BAND")


@pytest.mark.slow
def test_bad_bands_file_is_refused_before_training(tmp_path: Path) -> None:
    got, _ = reproduce(tmp_path, "not [ toml", "--data-source", "synthetic")
    assert got == 2 and not (tmp_path / "runs").exists()
