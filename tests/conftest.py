"""Shared fixtures: a CPU run context and a way to run any case's timed call once.

Under pytest-xdist (the slow tier runs on two workers), a worker's ``PYTEST_XDIST_*`` variables are
dropped here, so that the suites and nox sessions the tests start as users do are not taken for
xdist workers themselves (pytest-benchmark would write no record in them). The slow tier's work is
handed out a file at a time (the record fuzz a test at a time), longest first.
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

# The slow tier's files longest first, all that take over about 10 s (measured on 2 workers,
# 2026-12-01): pytest-xdist hands work out in collection order, and a long file
# left for last keeps one worker busy alone at the end (CI's last 40 s ran on one core when the
# 20-30 s files came last in alphabetical order). The rest, a few seconds each, come after them.
LONGEST_FIRST = (
    "test_record_fuzz.py",  # its readers spread over the workers: 15 to 100 s each
    "test_suite_run.py",
    "test_determinism.py",
    "test_ddp.py",
    "test_multinode.py",
    "test_ab.py",
    "test_cifar_train.py",
    "test_devices.py",
    "test_interruption.py",
    "test_reproduce.py",
    "test_history.py",
    "test_user_workloads.py",
    "test_modes_compiled.py",
    "test_soak.py",
    "test_bad_inputs.py",
    "test_failure_isolation.py",
    "test_compare.py",
)
SPREAD = "test_record_fuzz.py"  # its tests go one by one; every other file's to one worker, whole


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: unknown where it is not installed
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """The slow tier's work units (``--dist loadscope``): a test file, whole (its module fixtures run
    once), but each test of the record fuzz on its own; in the order the workers collected them.
    (``--dist loadgroup`` would say this with marks, but does not group under pytest 9.2: xdist's
    issue 1386.)"""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 - only under xdist

    class FilesButTheFuzz(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            file = nodeid.split("::", 1)[0]
            return nodeid if file.endswith(SPREAD) else file

    return FilesButTheFuzz(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a pytest-xdist worker, the longest files first (it is the workers' collection that the
    scheduler hands out)."""
    if hasattr(config, "workerinput"):
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
