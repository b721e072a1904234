"""Shared fixtures: a CPU run context and a way to run any case's timed call once.

Under pytest-xdist (the slow tier runs on two workers), a worker's ``PYTEST_XDIST_*`` variables are
dropped here, so that the suites and nox sessions the tests start as users do are not taken for
xdist workers themselves (pytest-benchmark would write no record in them). With ``--dist
loadgroup`` the work is handed out longest first (see :func:`pytest_collection_modifyitems`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from bench.context import RunContext, RunSettings
from bench.registry import Case, Prepared, all_workloads

for _name in [name for name in os.environ if name.startswith("PYTEST_XDIST_")]:
    del os.environ[_name]

# The slow tier's longest files, longest first (measured on 2 workers, 2026-12-01): pytest-xdist hands
# work out in collection order, and a long file left for last keeps one worker busy alone at the end.
LONGEST_FIRST = (
    "test_record_fuzz.py",  # its readers spread over the workers: 15 to 90 s each
    "test_suite_run.py",
    "test_cifar_train.py",
    "test_determinism.py",
    "test_ddp.py",
    "test_multinode.py",
    "test_reproduce.py",
)
SPREAD = "test_record_fuzz.py"  # its tests go one by one; every other file's to one worker, whole


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under ``--dist loadgroup``: each test file is one group (its module fixtures run once), but the
    record fuzz's tests, the longest, are handed out one by one; and the longest files go first."""
    if getattr(config.option, "dist", "no") != "loadgroup":
        return
    for item in items:
        if item.path.name != SPREAD:
            item.add_marker(pytest.mark.xdist_group(item.path.name))
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONGEST_FIRST)))  # stable: file order kept


@pytest.fixture
def ctx() -> Iterator[RunContext]:
    context = RunContext(RunSettings(device="cpu", seed=0, determinism="warn"))
    context.apply()
    yield context
    context.close()


def find_case(name: str, size: str, dtype: str = "float32", **params: Any) -> Case:
    """The one case of workload ``name`` at ``size`` whose params include ``params``."""
    matches = [
        c
        for c in all_workloads()[name].cases(size, "cpu")
        if c.dtype == dtype and all(c.params.get(k) == v for k, v in params.items())
    ]
    assert len(matches) == 1, f"{name}/{size}/{params}: {len(matches)} cases match"
    return matches[0]


@pytest.fixture
def prepare(ctx: RunContext):
    """prepare(name, size, **params): the case's Prepared, seeded the harness's way."""

    def prepare_case(name: str, size: str = "smoke", **params: Any) -> Prepared:
        ctx.seed_everything()
        return find_case(name, size, **params).prepare(ctx)

    return prepare_case


@pytest.fixture
def run(prepare):
    """run(name, size, **params): prepare the case and call it once."""
    return lambda name, size="smoke", **params: prepare(name, size, **params).call()
