"""``bench peak``: the probe's numbers, TF32 left as found, the per-machine cache, the CLI, the datasheets."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from processes import run_python

from bench import datasheets, peak, peak_cache, runs
from bench.cli import main
from bench.commands.peak import table
from bench.modes import Mode


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Short batches, small copies, and the cache under ``tmp_path``: a probe in well under a second."""
    monkeypatch.setattr(peak, "BATCH_S", 0.01)
    monkeypatch.setitem(peak.COPY_MIB, "cpu", (4, 8))
    monkeypatch.setenv(runs.RESULTS_ENV, str(tmp_path))
    return tmp_path / "peak"


def tf32_state() -> tuple[Any, ...]:
    matmul = torch.backends.cuda.matmul
    return matmul.fp32_precision, matmul.allow_tf32, torch.get_float32_matmul_precision()


def test_the_probe_gives_positive_finite_rates_and_the_best_of_its_sweep(small: Path) -> None:
    done: list[str] = []
    result = peak.measure("cpu", max_n=256, on_done=lambda what, entry, seconds: done.append(what))
    assert done == ["float32", "bfloat16", "copy"]
    assert set(result["matmul"]) == {"float32", "bfloat16"}
    for entry in result["matmul"].values():
        assert [point["n"] for point in entry["sweep"]] == [128, 256]
        rates = [point["gflops"] for point in entry["sweep"]]
        assert all(math.isfinite(rate) and rate > 0 for rate in rates)
        assert entry["best_gflops"] == max(rates)
        assert entry["sweep"][rates.index(max(rates))]["n"] == entry["best_n"]
    copy = result["copy"]
    assert [point["mib"] for point in copy["sweep"]] == [4, 8]
    assert all(math.isfinite(point["gbps"]) and point["gbps"] > 0 for point in copy["sweep"])
    assert copy["best_gbps"] == max(point["gbps"] for point in copy["sweep"])
    assert result["fingerprint"]["device_type"] == "cpu" and result["fingerprint"]["cpu_count"] >= 1
    assert result["fingerprint"]["torch"] == torch.__version__ and result["fingerprint"]["device_name"]
    assert result["max_n"] == 256 and result["probe_s"] > 0 and result["measured_at"]
    assert json.loads(json.dumps(result)) == result


@pytest.mark.parametrize(
    ("max_n", "sizes"), [(None, [128, 256, 512, 1024, 2048]), (256, [128, 256]), (300, [128, 256]), (64, [64])]
)
def test_sweep_sizes_double_up_to_max_n(max_n: int | None, sizes: list[int]) -> None:
    assert peak.sweep_sizes("cpu", max_n) == sizes
    assert peak.sweep_sizes("cuda")[0] == 256 and peak.sweep_sizes("cuda")[-1] == 8192


def test_tf32_is_on_only_for_its_own_measurement(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """tf32 sweeps run with TF32 allowed, float32 ones with it refused, and either way the flags end as found
    (the CPU ignores the flag; the sweeps' code path is the one CUDA takes)."""
    seen = []
    timed = peak.seconds_per_call
    monkeypatch.setattr(
        peak, "seconds_per_call", lambda *a: (seen.append(torch.backends.cuda.matmul.fp32_precision), timed(*a))[1]
    )
    before = tf32_state()
    peak.matmul_sweep(torch.device("cpu"), "tf32", [32])
    peak.matmul_sweep(torch.device("cpu"), "float32", [32])
    assert seen == ["tf32", "ieee"]
    assert tf32_state() == before
    peak.measure("cpu", max_n=128)
    assert tf32_state() == before


def test_tf32_restores_whatever_was_set_even_on_an_error() -> None:
    matmul = torch.backends.cuda.matmul
    original = matmul.fp32_precision
    try:
        for start in ("ieee", "tf32", original):
            matmul.fp32_precision = start
            with pytest.raises(RuntimeError, match="mid-measurement"), Mode(precision="tf32").math():
                raise RuntimeError("mid-measurement")
            assert matmul.fp32_precision == start
    finally:
        matmul.fp32_precision = original


def test_the_cache_is_written_atomically_then_reused_without_measuring(
    small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = []
    write = runs.write_atomic
    monkeypatch.setattr(runs, "write_atomic", lambda path, text: (written.append(path), write(path, text))[1])
    assert peak.cached_peak("cpu") is None
    first, measured = peak.peak("cpu", max_n=128)
    assert measured
    (file,) = small.iterdir()  # nothing else: no temporary file left behind
    assert written == [file] and file.name.startswith("cpu-") and file == peak_cache.cache_file(first["fingerprint"])
    assert json.loads(file.read_text()) == first

    def no_measuring(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise AssertionError("measured although a cached result covers the request")

    monkeypatch.setattr(peak, "measure", no_measuring)
    assert peak.peak("cpu", max_n=128) == (first, False)
    assert peak.peak("cpu", max_n=64) == (first, False)  # a smaller sweep is covered by the cached one
    assert peak.cached_peak("cpu") == first
    with pytest.raises(AssertionError, match="measured although"):
        peak.peak("cpu", max_n=128, again=True)


def test_again_or_a_larger_sweep_measures_anew(small: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    peak.peak("cpu", max_n=64)
    calls = []
    measure = peak.measure
    monkeypatch.setattr(peak, "measure", lambda *a: (calls.append(a[1]), measure(*a))[1])
    again, measured = peak.peak("cpu", max_n=64, again=True)
    assert measured and calls == [64] and peak.cached_peak("cpu") == again
    wider, measured = peak.peak("cpu", max_n=128)
    assert measured and calls == [64, 128] and wider["max_n"] == 128
    assert peak.cached_peak("cpu") == wider


@pytest.mark.parametrize(
    "spoil",
    [
        lambda text: text[: len(text) // 2],
        lambda text: text.replace('"version": 1', '"version": 99'),
        lambda text: text.replace('"bfloat16"', '"float16"'),
        lambda text: "[]",
    ],
    ids=["truncated", "other version", "other precisions", "not an object"],
)
def test_a_spoiled_cache_file_reads_as_none_and_is_measured_anew(small: Path, spoil: Any) -> None:
    result, _ = peak.peak("cpu", max_n=64)
    file = peak_cache.cache_file(result["fingerprint"])
    file.write_text(spoil(file.read_text()))
    assert peak.cached_peak("cpu") is None
    assert peak.peak("cpu", max_n=64)[1]
    assert peak.cached_peak("cpu") is not None


def test_the_cli_measures_prints_the_table_then_reuses_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {runs.RESULTS_ENV: str(tmp_path)}
    done = run_python("-m", "bench", "peak", "--max-n", "128", cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("float32 ") and "GFLOP/s at n=128" in lines[0]
    assert any(line.startswith("mm bfloat16") and "GFLOP/s" in line for line in lines)
    assert any(line.startswith("copy") and "GB/s" in line and "MiB" in line for line in lines)
    assert lines[-1].startswith("measured now in ") and str(tmp_path / "peak") in lines[-1]
    assert max(map(len, lines[:-1])) <= 120  # the last line holds a path, as long as it is
    monkeypatch.setenv(runs.RESULTS_ENV, str(tmp_path))
    monkeypatch.setattr(peak, "measure", None)  # the cache is read in this process too: nothing measures
    assert main(["peak", "--max-n", "128", "--json"]) == 0
    (file,) = (tmp_path / "peak").iterdir()
    assert json.loads(capsys.readouterr().out) == json.loads(file.read_text())


@pytest.mark.parametrize(
    ("argv", "code", "says"),
    [
        (["--max-n", "0"], 2, "value must be >= 1, got 0"),
        (["--max-n", "big"], 2, "expects an integer, got 'big'"),
        (["--device", "tpu"], 2, "unknown device 'tpu'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], code: int, says: str
) -> None:
    try:
        exit_code = main(["peak", *argv])
    except SystemExit as exit_:
        exit_code = exit_.code
    out, err = capsys.readouterr()
    assert exit_code == code and not out
    assert len(err.splitlines()) == 1 and says in err


@pytest.mark.parametrize("argv", [["--help"], ["peak", "--help"]])
def test_the_help_lists_and_describes_the_command(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0 and "peak" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_cuda_without_a_gpu_is_exit_3(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["peak", "--device", "cuda"]) == 3
    assert "no CUDA GPU" in capsys.readouterr().err


def test_the_table_of_a_known_gpu_shows_the_datasheet_and_fits_120_columns() -> None:
    rates = {"float32": 60_000.0, "tf32": 400_000.0, "bfloat16": 800_000.0, "float16": 790_000.0}
    result = {
        "fingerprint": {"device_type": "cuda", "device_name": "NVIDIA H200", "cpu_count": 16, "torch": "2.14.1"},
        "device": "cuda:0",
        "threads": 16,
        "matmul": {p: {"best_gflops": g, "best_n": 8192, "sweep": []} for p, g in rates.items()},
        "copy": {"best_gbps": 4200.0, "best_mib": 1024, "sweep": []},
        "measured_at": "2026-12-01T00:00:00+00:00",
        "probe_s": 9.5,
    }
    text = table(result, False, Path("results/peak/cuda-0123456789ab.json"))
    lines = text.splitlines()
    assert max(map(len, lines)) <= 120
    bf16 = next(line for line in lines if line.startswith("mm bfloat16"))
    assert bf16.split() == ["mm", "bfloat16", "800.0", "TFLOP/s", "n=8192", "989.5", "TFLOP/s", "81", "%"]
    copy = next(line for line in lines if line.startswith("copy"))
    assert copy.split()[-2:] == ["88", "%"] and "4800.0" in copy
    assert "H200 SXM" in text and lines[-1].startswith("read from ") and "2026-12-01" in lines[-1]


@pytest.mark.parametrize(
    ("name", "card"),
    [
        ("NVIDIA H200", "H200 SXM 141 GB"),
        ("NVIDIA H100 80GB HBM3", "H100 SXM 80 GB"),
        ("NVIDIA A100-SXM4-80GB", "A100 SXM 80 GB"),
        ("nvidia a100 sxm4 80gb", "A100 SXM 80 GB"),
        ("NVIDIA L4", "L4 24 GB"),
        ("NVIDIA L40S", "L40S 48 GB"),
        ("NVIDIA GeForce RTX 4090", "GeForce RTX 4090 24 GB"),
    ],
)
def test_datasheet_lookup_by_torch_name(name: str, card: str) -> None:
    sheet = datasheets.lookup(name)
    assert sheet is not None and sheet.card == card


@pytest.mark.parametrize(
    "name",
    ["NVIDIA H100 PCIe", "NVIDIA H200 NVL", "NVIDIA A100-SXM4-40GB", "Tesla T4", "Intel(R) Xeon(R) Processor", ""],
)
def test_unknown_cards_and_cpus_have_no_datasheet(name: str) -> None:
    assert datasheets.lookup(name) is None
    assert datasheets.lookup(None) is None


def test_every_datasheet_entry_has_a_source_and_positive_numbers() -> None:
    names = [name for sheet in datasheets.DATASHEETS for name in sheet.names]
    assert len(names) == len(set(names))
    for sheet in datasheets.DATASHEETS:
        assert sheet.source and sheet.url.startswith("https://") and " " not in sheet.url
        assert set(sheet.tflops) == {"float32", "tf32", "bfloat16", "float16"}
        assert all(value > 0 for value in sheet.tflops.values()) and sheet.bandwidth_gbs > 0
        assert sheet.tflops["float32"] <= sheet.tflops["tf32"] <= sheet.tflops["bfloat16"] == sheet.tflops["float16"]


def test_share_of_the_measured_and_the_datasheet_peak() -> None:
    measured = {"matmul": {"float32": {"best_gflops": 50_000.0}}, "copy": {"best_gbps": 4000.0}}
    h200 = datasheets.lookup("NVIDIA H200")
    assert datasheets.share(25_000.0, "float32", measured, h200) == pytest.approx((50.0, 100 * 25 / 67))
    assert datasheets.share(2400.0, datasheets.BANDWIDTH, measured, h200) == pytest.approx((60.0, 50.0))
    assert datasheets.share(100_000.0, "bfloat16", measured, h200) == pytest.approx((None, 100 * 100 / 989.5))
    assert datasheets.share(10.0, "float64", measured, h200) == (None, None)
    assert datasheets.share(10.0, "float32") == (None, None)
