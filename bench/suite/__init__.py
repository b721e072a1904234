"""The pytest-benchmark entry point: one parametrized test runs every selected case.

Run it through ``python -m bench run`` (which also makes the run folder), or
directly: ``pytest bench/suite --bench-device cuda -k matmul``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

SUITE_DIR = Path(__file__).parent


def pytest_args(json_path: Path, options: Sequence[str]) -> list[str]:
    """pytest's arguments for a suite run whose record goes to ``json_path``."""
    return [
        str(SUITE_DIR),
        "-p",
        "no:cacheprovider",
        f"--rootdir={SUITE_DIR}",
        f"--benchmark-json={json_path}",
        f"--benchmark-storage=file://{json_path.parent}",  # else pytest-benchmark makes ./.benchmarks
        "--benchmark-columns=median,iqr,rounds,iterations",
        "--benchmark-sort=fullname",
        *options,
    ]
