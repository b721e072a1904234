"""bench ab: sides, pairing and order, the statistics, partial saves, dead workers, bad sides.

The rates (false alarms, detection) are measured by ``nox -s detector -- --ab``, never here.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from processes import ROOT, run_python

from bench.ab import paired, store
from bench.ab.session import guard
from bench.ab.sides import Side, resolved
from bench.commands.ab import pinned, without_jobs
from bench.commands.base import selector
from bench.errors import UsageError

DYING = '''
import os
from bench.api import workload

@workload(family="test", sizes={"smoke": {}, "full": {}}, items=lambda **_: 1)
def dies_on_one_side(ctx, dtype):
    """Returns at once; on the side whose environment says so, the worker dies in the timed call."""
    def call():
        if os.environ.get("BENCH_TEST_DIE"):
            os._exit(7)
        return 1
    return call

@workload(family="test", sizes={"smoke": {}, "full": {}}, items=lambda **_: 1)
def lives(ctx, dtype):
    """Returns at once."""
    return lambda: 1
'''


def bench(*argv: str, cwd: Path, **kwargs) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "bench", *argv, cwd=cwd, **kwargs)


def test_selection_expressions_are_pytests() -> None:
    case = {"id": "mm/n=64/op=mm/float32", "family": "matrix", "tags": ["blas", "compute"]}
    assert selector("mm and not matmul", None)(case) and not selector("matmul", None)(case)
    assert selector(None, "blas and not training")(case) and not selector(None, "layers")(case)
    with pytest.raises(UsageError, match="bad -k/-m expression"):
        selector("mm and (", None)


def test_distributed_jobs_are_left_out_unless_named() -> None:
    job = {"id": "cifar_ddp/x", "family": "cifar10", "workload": "cifar_ddp", "tags": ["distributed", "training"]}
    left_out: set[str] = set()
    assert not without_jobs(lambda case: True, (), (), left_out)(job) and left_out == {"cifar_ddp/x"}
    assert without_jobs(lambda case: True, ("cifar_ddp",), (), set())(job)
    assert without_jobs(lambda case: True, (), ("distributed",), set())(job)
    assert not without_jobs(lambda case: False, ("cifar_ddp",), (), set())(job), "-k still applies"


def test_the_paired_ratio_and_its_verdicts() -> None:
    rng = np.random.default_rng(1)
    same = [list(rng.normal(0, 0.02, 12)) for _ in range(3)]
    slower = [list(math.log(1.3) + rng.normal(0, 0.02, 12)) for _ in range(3)]
    assert paired.judge_pairs(same, 0.1, 0.99, rng)[3] == "unchanged"
    ratio, low, _, verdict = paired.judge_pairs(slower, 0.1, 0.99, rng)
    assert verdict == "slower" and low > 1.1 and ratio == pytest.approx(1.3, rel=0.05)
    assert paired.judge_pairs([[0.1]], 0.1, 0.99, rng)[3] == "inconclusive", "too few block pairs"


def test_the_interval_includes_the_spread_between_worker_pairs() -> None:
    """Three pairs that disagree (0.9, 1.0, 1.1) widen the interval beyond the spread within each."""
    rng = np.random.default_rng(2)
    groups = [list(math.log(shift) + rng.normal(0, 0.005, 20)) for shift in (0.9, 1.0, 1.1)]
    low, high = paired.interval(groups, 0.99, rng)
    within = paired.interval([groups[1]], 0.99, rng)
    assert low < 0.95 and high > 1.05 and within[1] - within[0] < 0.02


def test_sides_on_different_hardware_are_refused() -> None:
    a, b = Side("current", "current", sys.executable, str(ROOT)), Side("python:x", "python", "x", str(ROOT))
    a.about = {"cpu": "Intel Xeon", "cpus": 2, "gpus": []}
    b.about = {"cpu": "AMD EPYC", "cpus": 2, "gpus": []}
    with pytest.raises(UsageError, match=r"different hardware .*cpu: 'Intel Xeon' vs 'AMD EPYC'"):
        guard([a, b])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("rev:no-such-revision-here", "side rev:no-such-revision-here: unknown revision"),
        ("python:/no/such/python", "side python:/no/such/python: no such interpreter"),
        ("python:/bin/false", "side python:/bin/false: its Python cannot import torch"),
        ("image", "expected current, rev:REVISION, python:PATH or image:NAME"),
        ("nonsense:x", "expected current, rev:REVISION, python:PATH or image:NAME"),
    ],
)
def test_a_side_that_cannot_be_had_is_one_line(spec: str, says: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=re.escape(says)), resolved([spec], tmp_path):
        pass
    done = bench("ab", "current", spec, "--quick", "--workload", "mm", "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and says in done.stderr
    assert not (tmp_path / "runs").exists()


FAKE_ENGINE = """#!{python}
# Stands in for docker/podman: logs its arguments; knows one image, whose suite is this checkout.
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_ENGINE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[:2] == ["image", "inspect"]:
    if args[-1] != "suite:test":
        sys.exit("Error: " + args[-1] + ": image not known")
    print("sha256:" + "ab" * 32)
elif args[0] == "run":
    env = {{**os.environ, "PYTHONPATH": os.environ["FAKE_SUITE"]}}
    env.update(a[len("--env="):].split("=", 1) for a in args if a.startswith("--env="))
    os.chdir(os.environ["FAKE_SUITE"])
    os.execve(sys.executable, [sys.executable, *args[args.index("--entrypoint=python") + 2 :]], env)
"""


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in container engine as ``$BENCH_CONTAINER_ENGINE``; returns its log of calls."""
    fake = tmp_path / "engine"
    fake.write_text(FAKE_ENGINE.format(python=sys.executable))
    fake.chmod(0o755)
    monkeypatch.setenv("BENCH_CONTAINER_ENGINE", str(fake))
    monkeypatch.setenv("FAKE_ENGINE_LOG", str(tmp_path / "engine.log"))
    monkeypatch.setenv("FAKE_SUITE", str(ROOT))
    return tmp_path / "engine.log"


@pytest.mark.slow
def test_an_image_side_runs_its_workers_through_the_engine(engine: Path, tmp_path: Path) -> None:
    out = tmp_path / "runs"
    argv = ("ab", "current", "image:suite:test", "--quick", "--workload", "mm", "--pairs", "1", "--case-time", "0.05")
    done = bench(*argv, "-k", "not matmul", "--out", str(out), cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr[-2000:]
    record = json.loads((next(out.iterdir()) / "ab.json").read_text())
    side = record["sides"]["candidate"]
    assert side["image"] == "suite:test" and side["image_id"] == "sha256:" + "ab" * 32 and side["torch"]
    assert [c["id"] for c in record["cases"]] == ["mm/n=64/op=mm/float32"] and not record["cases"][0]["error"]
    calls = [json.loads(line) for line in engine.read_text().splitlines()]
    (run,) = [c for c in calls if c[0] == "run"]
    assert {"--rm", "--interactive", "--read-only", f"--volume={ROOT / 'bench'}:/opt/suite/bench:ro"} <= set(run)
    assert run[-3:] == ["suite:test", "-m", "bench.ab.worker"] and any(a.startswith("--name=bench-ab-") for a in run)
    assert f"--env=BENCH_AB_CPUS={record['affinity'][0][0]}" in run, "pinned like the other side"
    assert side["affinity"] == record["sides"]["baseline"]["affinity"] == record["affinity"][0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("engine_path", "spec", "says"),
    [
        (None, "image:suite:none", "side image:suite:none: no such image in"),
        ("/no/such/engine", "image:suite:test", "side image:suite:test: cannot run /no/such/engine"),
    ],
)
def test_an_image_that_cannot_be_had_is_one_line(
    engine: Path, engine_path: str | None, spec: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine_path:
        monkeypatch.setenv("BENCH_CONTAINER_ENGINE", engine_path)
    done = bench("ab", "current", spec, "--quick", "--workload", "mm", "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1 and says in done.stderr, done.stderr
    assert not (tmp_path / "runs").exists()


def test_worker_pairs_are_pinned_in_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert pinned(1) == [[0], [1], [2], [3]]
    assert pinned(2) == [[0, 1], [2, 3]]
    assert pinned(3) == [[0, 1, 2], [3, 0, 1]]
    assert pinned(8) == [[0, 1, 2, 3]]


@pytest.mark.slow
def test_a_revision_is_checked_out_in_a_worktree_and_removed_after(tmp_path: Path) -> None:
    with resolved(["rev:HEAD"], tmp_path) as (side,):
        view = Path(side.path)
        assert (view / "workloads").resolve().parent != ROOT and (view / "bench").resolve() == ROOT / "bench"
        tree = (view / "workloads").resolve().parent
        assert (tree / "workloads" / "matrix.py").is_file()
        # a worker starts in the side's folder, so the revision's workloads are the ones imported
        where = subprocess.run(
            [side.python, "-c", "import workloads, bench; print(workloads.__file__, bench.__file__)"],
            env=side.env(),
            cwd=side.path,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert where == [str(view / "workloads" / "__init__.py"), str(view / "bench" / "__init__.py")]
    assert not tree.exists()
    listed = subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True, check=True)
    assert str(tree) not in listed.stdout


@pytest.fixture(scope="module")
def head_to_head(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """current against current, 2 worker pairs, two matrix cases: the whole path once."""
    out = tmp_path_factory.mktemp("ab")
    done = bench("ab", "--quick", "--workload", "mm", "--pairs", "2", "--case-time", "0.1", "--out", str(out), cwd=out)
    return done, next(out.iterdir())


@pytest.mark.slow
def test_a_head_to_head_pairs_fresh_workers_and_balances_the_order(head_to_head) -> None:
    done, run_dir = head_to_head
    assert done.returncode in (0, 1), done.stdout[-2000:] + done.stderr[-2000:]
    record = json.loads((run_dir / "ab.json").read_text())
    assert record["kind"] == "head-to-head" and record["pairs"] == 2 and not record["partial"]
    assert [c["id"] for c in record["cases"]] == ["mm/n=64/op=mm/float32", "mm/n=64/op=matmul/float32"]
    for case in record["cases"]:
        assert (
            len(case["pairs"]) == 2
            and case["iterations"] >= 1
            and case["verdict"] in ("unchanged", "inconclusive", "slower", "faster")
        )
        assert case["digests"]["baseline"] == case["digests"]["candidate"], "both sides built the same case"
        for pair in case["pairs"]:
            # one quad at least (min_quads): more only where the 0.1 s allows, which a busy machine may not
            assert len(pair["orders"]) >= 1 and set(pair["orders"]) <= {"ABBA", "BAAB"}
            assert len(pair["baseline"]) == len(pair["candidate"]) == 2 * len(pair["orders"])
    sides = record["sides"]
    assert sides["baseline"]["pid"] != sides["candidate"]["pid"] and sides["baseline"]["torch"]
    assert "start-up" in done.stdout and "| `mm[op=mm]` |" in done.stdout


@pytest.mark.slow
def test_show_prints_a_head_to_head(head_to_head, tmp_path: Path) -> None:
    shown = bench("show", str(head_to_head[1]), cwd=tmp_path)
    assert shown.returncode == 0 and shown.stdout.startswith("baseline: current")
    assert "| `mm[op=matmul]` |" in shown.stdout and "hierarchical bootstrap" in shown.stdout
    assert "mm/n=" not in shown.stdout, "cases by label, not by id"
    assert "| `mm/n=64/op=matmul/float32` |" in store.render(store.read(head_to_head[1]), full=True)


@pytest.mark.slow
def test_a_head_to_heads_cases_read_as_in_its_progress_lines(head_to_head) -> None:
    """The record keeps cases by id: those of both sides read as in the progress lines, measured or
    failed; one on one side only reads apart from them."""
    record = store.read(head_to_head[1])
    record["cases"][0].update(error="worker exited with code 7", pairs=[])
    record["only_baseline"] = ["mm/n=128/op=mm/float32"]
    shown = store.render(record)
    assert "| `mm[op=matmul]` |" in shown and "FAILED mm[op=mm]: worker exited with code 7" in shown
    assert "Only in the baseline: `mm[n=128, op=mm]`" in shown and "mm/n=" not in shown


@pytest.mark.slow
def test_a_head_to_head_whose_one_sided_cases_are_no_ids_is_one_line(head_to_head, tmp_path: Path) -> None:
    record = store.read(head_to_head[1])
    record["only_candidate"] = [3]
    (tmp_path / "ab.json").write_text(json.dumps(record))
    with pytest.raises(UsageError, match="'only_candidate' must be a list of case ids"):
        store.read(tmp_path)


@pytest.mark.slow
def test_report_adds_a_head_to_head_section_with_its_forest_plot(head_to_head, tmp_path: Path) -> None:
    fixture = ROOT / "tests" / "fixtures" / "runs" / "cpu-smoke"
    done = bench("report", str(head_to_head[1]), str(fixture), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "report" / "report.md").read_text()
    assert "## Head to head: current against current" in text and "| matrix | mm[op=mm] |" in text
    assert "## Timings" in text, "the runs' own sections stay"
    assert (tmp_path / "report" / "head_to_head_1.png").stat().st_size > 1000


@pytest.mark.slow
def test_a_dead_worker_fails_its_case_and_the_rest_go_on(tmp_path: Path) -> None:
    plugin = tmp_path / "dying.py"
    plugin.write_text(DYING)
    wrapper = tmp_path / "python-that-dies"
    wrapper.write_text(f'#!/bin/sh\nBENCH_TEST_DIE=1 exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    out = tmp_path / "runs"
    done = bench(
        "ab",
        "current",
        f"python:{wrapper}",
        "--workloads",
        str(plugin),
        "--quick",
        "--pairs",
        "1",
        "--case-time",
        "0.05",
        "--out",
        str(out),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    record = json.loads((next(out.iterdir()) / "ab.json").read_text())
    dead, alive = record["cases"]
    assert dead["id"].startswith("dies_on_one_side") and "worker exited with code 7" in dead["error"]
    assert alive["id"].startswith("lives") and alive["error"] is None and alive["pairs"]
    assert "FAILED dies_on_one_side" in done.stdout


@pytest.mark.slow
def test_ctrl_c_stops_both_workers_and_keeps_what_was_measured(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "ab",
            "--quick",
            "--family",
            "matrix",
            "--pairs",
            "2",
            "--case-time",
            "0.2",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "case 3/" in line:
            break
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    record = json.loads((next(out.iterdir()) / "ab.json").read_text())
    assert record["partial"] and record["interrupted_by"] == "SIGINT"
    assert sum(1 for c in record["cases"] if c["pairs"]) >= 2
    workers = subprocess.run(["pgrep", "-f", "bench.ab.worker"], capture_output=True, text=True, check=False)
    assert workers.stdout.strip() == "", "no worker is left behind"


def test_torchvision_pairs_with_torch_by_the_published_rule() -> None:
    pytest.importorskip("nox", reason="the noxfile needs nox")
    spec = importlib.util.spec_from_file_location("noxfile_under_test", ROOT / "noxfile.py")
    noxfile = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(noxfile)
    assert [noxfile.torchvision_for(v) for v in ("2.14.1", "2.13.0+cpu", "2.12.0")] == ["0.29.1", "0.28.0", "0.27.0"]
    with pytest.raises(ValueError, match="no torchvision pairing rule"):
        noxfile.torchvision_for("1.13.1")


def test_the_rates_scratch_revision_does_more_work_in_the_touched_workloads(tmp_path: Path) -> None:
    """tools.ab_rates' A/B side: a commit off every branch whose touched workloads run every fifth call twice."""
    from tools import ab_rates  # noqa: PLC0415 - the tool, not the product

    with ab_rates.scratch_revision(tmp_path) as (commit, tree):
        changed = subprocess.run(
            ["git", "-C", str(ROOT), "diff", "--stat", "HEAD", commit], capture_output=True, text=True, check=True
        ).stdout
        assert "workloads/matrix.py" in changed and changed.count("|") == 1, changed
        source = (tree / "workloads" / "matrix.py").read_text()
        compile(source, "matrix.py", "exec")  # not imported: it declares the built-in workloads again
        assert source.count("return _more_work(") == len(ab_rates.RETURNS)
        helper: dict[str, object] = {}
        exec(ab_rates.HELPER, helper)  # the scratch's own helper, from the tool
        calls: list[int] = []
        wrapped = helper["_more_work"](lambda: calls.append(1))  # type: ignore[operator]
        for _ in range(10):
            wrapped()
        assert len(calls) == 12, "two extra runs in ten calls: 20 % more work"
        branches = subprocess.run(
            ["git", "-C", str(ROOT), "branch", "--contains", commit], capture_output=True, text=True, check=False
        )
        assert not branches.stdout.strip(), "the scratch is on no branch"
    assert not tree.exists()


@pytest.mark.slow
def test_in_a_pipe_the_head_to_head_prints_a_progress_line_per_step(head_to_head) -> None:
    """A step is a case in a worker pair: 2 pairs x 2 cases, each with its pair's ratio, then the count."""
    done, _ = head_to_head
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert [line.split("  ")[1] for line in lines] == [
        "mm[op=mm] pair 1/2 case 1/2",
        "mm[op=matmul] pair 1/2 case 2/2",
        "mm[op=mm] pair 2/2 case 1/2",
        "mm[op=matmul] pair 2/2 case 2/2",
    ]
    assert re.fullmatch(r"\[4/4\] \d:\d\d elapsed, ~0:00 left  .*  \d+ quads, candidate/baseline \d\.\d{3}", lines[3])
    assert re.search(r"^bench: 4 of 4 steps ran in \d:\d\d$", done.stdout, re.MULTILINE)
    assert "\r" not in done.stdout
