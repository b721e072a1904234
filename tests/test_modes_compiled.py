"""Execution modes that take seconds: torch.compile (Inductor builds C++ at run time on the CPU), and
every mode's determinism across two processes.

The determinism check runs two ``bench run`` processes side by side with the same seed over the
MLP forward, conv2d forward and LeNet5's training step in every CPU mode (eager and compiled,
fp32 and bf16 autocast, contiguous and channels last): what each case computed must be the same
bit for bit in both.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from processes import run_python

from bench.context import RunContext
from bench.registry import all_workloads
from bench.runner import run_case
from bench.timing import RoundPolicy

pytestmark = pytest.mark.slow  # compiling takes seconds a case; the determinism check runs the suite twice

QUICK = RoundPolicy(warmup_rounds=1, min_rounds=3, max_rounds=5, round_time=0.001, max_time=0.01)
MODES = ["--compile", "off,default", "--precision", "fp32,amp-bf16", "--memory-format", "contiguous,channels_last"]


def test_a_compiled_case_records_its_compile_apart_from_its_rounds(ctx: RunContext) -> None:
    (case,) = [
        c
        for c in all_workloads()["mlp"].cases("smoke", "cpu", {"compile": ("default",)})
        if c.params["mode"] == "fwd_bwd"
    ]
    result = run_case(case, ctx, QUICK)
    execution = result.execution
    assert case.id.endswith("/mode=fwd_bwd/compile=default/float32") and execution["compile"] == "default"
    assert execution["graphs"] >= 1 and execution["recompiles"] == 0, execution
    assert execution["first_call_s"] > 10 * result.timing.median_s, "the first call compiles; the rounds do not"
    numerics = execution["numerics"]
    assert numerics["within"] and numerics["max_error"] <= numerics["tolerance"] == 1e-3


def test_every_mode_computes_the_same_in_two_processes(tmp_path: Path) -> None:
    def run(name: str) -> dict[str, str]:
        out = tmp_path / name
        argv = ["-m", "bench", "run", "--quick", "--seed", "3", "--max-time", "0.01", "--telemetry-hz", "0"]
        argv += ["--workload", "mlp", "--workload", "conv2d", "--workload", "cifar_step", *MODES]
        argv += ["--out", str(out), "--", "-q", "-k", "(mlp or conv2d) and fwd and not fwd_bwd or lenet5"]
        done = run_python(*argv, cwd=tmp_path, env={"OMP_WAIT_POLICY": "PASSIVE"})
        assert done.returncode == 0, f"run {name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        (folder,) = out.iterdir()
        record = json.loads((folder / "benchmark.json").read_text())
        return {b["param"]: b["extra_info"]["result_sha256"] for b in record["benchmarks"]}

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(run, ("first", "second"))
    assert len(first) == 4 + 8 + 8 and first.keys() == second.keys()  # the MLP takes no memory format
    differing = sorted(case for case in first if first[case] != second[case])
    assert not differing and all(first.values()), f"computed differently: {differing}"
