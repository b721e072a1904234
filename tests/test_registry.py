"""The workload registry: declarations, cases, selection, work counts."""

from __future__ import annotations

import pytest

from bench.errors import UsageError
from bench.registry import DEVICE_TYPES, REQUIRED_SIZES, all_workloads, plan, select, workload

SEED_FAMILIES = {
    "tensors",
    "math",
    "matrix",
    "autograd",
    "layers",
    "losses",
    "optim",
    "recurrent",
    "checkpoint",
    "cifar10",
}


def test_every_family_of_the_tutorial_is_there() -> None:
    assert {w.family for w in all_workloads().values()} == SEED_FAMILIES


@pytest.mark.parametrize("name", sorted(all_workloads()))
def test_each_workload_is_fully_declared(name: str) -> None:
    w = all_workloads()[name]
    assert w.description, "the first docstring line says what one call does"
    assert all(size in w.sizes for size in REQUIRED_SIZES)
    assert set(w.devices) <= set(DEVICE_TYPES) and "cpu" in w.devices
    for size in w.sizes:
        cases = w.cases(size, "cpu")
        assert cases
        assert len({c.id for c in cases}) == len(cases), "case ids are unique"
        for case in cases:
            work = case.work()
            assert work.items > 0
            assert work.flops is None or work.flops > 0
            assert work.bytes is None or work.bytes > 0


def test_work_counts_give_flops_and_bytes() -> None:
    mm = all_workloads()["mm"]
    (case,) = [c for c in mm.cases("full", "cuda") if c.params == {"n": 1024, "op": "mm"} and c.dtype == "bfloat16"]
    work = case.work()
    assert work.flops == 2 * 1024**3
    assert work.bytes == 3 * 1024 * 1024 * 2  # three bf16 matrices
    rates = work.rates(0.001)
    assert rates["gflops"] == pytest.approx(2 * 1024**3 / 1e6)
    assert rates["items_per_s"] == pytest.approx(1000)


def test_half_precision_matmul_is_offered_on_cuda_only() -> None:
    mm = all_workloads()["mm"]
    assert mm.dtypes["cpu"] == ("float32",)
    assert set(mm.dtypes["cuda"]) == {"float32", "bfloat16", "float16"}
    with pytest.raises(UsageError, match="float16 is not supported on cpu"):
        plan([mm], "smoke", "cpu", ["float16"])
    assert {c.dtype for c in plan([mm], "smoke", "cuda", ["float16"])} == {"float16"}


def test_selection_by_name_family_and_tag() -> None:
    assert [w.name for w in select(names=["mm"])] == ["mm"]
    assert {w.family for w in select(families=["recurrent", "optim"])} == {"recurrent", "optim"}
    assert all("linalg" in w.tags for w in select(tags=["linalg"]))
    # kinds narrow each other: the matrix family has no 'training' tag
    assert select(families=["matrix"], tags=["training"]) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"names": ["matmull"]}, "unknown workload 'matmull' (did you mean 'mm'?)|unknown workload 'matmull'"),
        ({"families": ["nope"]}, "unknown family 'nope'"),
        ({"tags": ["nope"]}, "unknown tag 'nope'"),
    ],
)
def test_unknown_names_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        select(**kwargs)


def test_plan_refuses_unknown_size_device_and_dtype() -> None:
    chosen = select(names=["mm"])
    with pytest.raises(UsageError, match="unknown size 'huge'"):
        plan(chosen, "huge", "cpu")
    with pytest.raises(UsageError, match="unknown device 'tpu'"):
        plan(chosen, "smoke", "tpu")
    with pytest.raises(UsageError, match="unknown dtype 'float8'"):
        plan(chosen, "smoke", "cpu", ["float8"])
    with pytest.raises(UsageError, match="no workload matches"):
        plan([], "smoke", "cpu")
    with pytest.raises(UsageError, match="has a 'seed' size"):
        plan(chosen, "seed", "cpu")  # mm has no configuration in the tutorial


def test_declaration_mistakes_are_caught_at_import() -> None:
    def declare(**kwargs):
        base = dict(family="x", sizes={"smoke": {}, "full": {}}, items=lambda **_: 1)
        return workload(**{**base, **kwargs})(lambda ctx, dtype: lambda: None)

    with pytest.raises(ValueError, match="sizes must include"):
        declare(sizes={"smoke": {}})
    with pytest.raises(ValueError, match="unknown dtypes"):
        declare(dtypes=("float8",))
