"""The cache of ``bench peak`` results, one file per machine fingerprint, read without torch (the report
reads it to put results beside the machine's peak).
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

from bench import runs
from bench.errors import BenchError, file_errors

VERSION = 1  # of the cached file: a file of another version is measured anew
# "tf32" is float32 with TensorFloat-32 allowed in cuBLAS; the CPU has no such mode
PRECISIONS = {"cpu": ("float32", "bfloat16"), "cuda": ("float32", "tf32", "bfloat16", "float16")}


def cache_folder() -> Path:
    """``$BENCH_RESULTS/peak``, else ``results/peak``."""
    return runs.results_root() / "peak"


def cache_file(print_: dict[str, Any], folder: Path | None = None) -> Path:
    """The cache file of a fingerprint: its device type and a short hash of all of it."""
    key = hashlib.sha256(json.dumps(print_, sort_keys=True).encode()).hexdigest()[:12]
    return (folder or cache_folder()) / f"{print_['device_type']}-{key}.json"


def _usable(data: Any, print_: dict[str, Any]) -> bool:
    """A cached result of this version and fingerprint with every number the table reads."""
    try:
        return (
            data["version"] == VERSION
            and data["fingerprint"] == print_
            and isinstance(data["max_n"], int)
            and set(data["matmul"]) == set(PRECISIONS[print_["device_type"]])
            and all(math.isfinite(entry["best_gflops"]) for entry in data["matmul"].values())
            and math.isfinite(data["copy"]["best_gbps"])
        )
    except (KeyError, TypeError, AttributeError):
        return False


def load(print_: dict[str, Any], folder: Path | None = None) -> dict[str, Any] | None:
    """The cached result of a fingerprint, or None: none yet, or a file that is unreadable, of another
    version or not ours (measured anew, then replaced)."""
    file = cache_file(print_, folder)
    if not file.is_file():
        return None
    try:
        data = runs.read_json(file, max_bytes=2**20)
    except BenchError:
        return None
    return data if _usable(data, print_) else None


def save(result: dict[str, Any], folder: Path | None = None) -> Path:
    """Write ``result`` to its cache file (atomically: a reader sees the old file or the new one)."""
    file = cache_file(result["fingerprint"], folder)
    runs.check_folder(file.parent)
    with file_errors(f"cannot write {file}"):
        file.parent.mkdir(parents=True, exist_ok=True)
        runs.write_json(file, result)
    return file
