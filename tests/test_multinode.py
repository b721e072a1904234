"""A data-parallel job across two nodes, tried on one host: two ``bench ddp`` processes, each a node
agent (torchrun, one rank each) meeting in a c10d rendezvous on 127.0.0.1 at a free port, through
the documented ``BENCH_NNODES`` / ``BENCH_NODE_RANK`` / ``BENCH_RDZV_*`` variables.

What a user of several machines relies on: the job completes and its ranks agree; the node that
got rank 0 records the job's numbers and the other records that it served the job, with no result
of its own, so a report over both counts the job once; and when one node dies, both runs fail
within the collective timeout with one line each, leaving no process behind.
"""

from __future__ import annotations

import csv
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from processes import ROOT, run_python

from bench.distributed import COLLECTIVE_TIMEOUT_S
from bench.record import RunRecord

pytestmark = pytest.mark.slow  # two nodes' runs and their torchrun agents in subprocesses

RANK_MODULE = b"workloads.cifar.ddp_rank"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_nodes(tmp_path: Path, job: str, *params: str) -> list[subprocess.Popen[str]]:
    """``bench ddp`` on two nodes of one rank each, started together as a scheduler would."""
    endpoint = f"127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "bench", "ddp", "--quick", "--nproc-per-node", "1", "--data-source", "synthetic"]
    argv += ["--telemetry-hz", "0", "--param", "ranks=all", "--param", "model=lenet5", "--param", "path=tensor"]
    argv += [item for param in params for item in ("--param", param)]
    nodes = []
    for node in (0, 1):
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "BENCH_NNODES": "2",
            "BENCH_NODE_RANK": str(node),
            "BENCH_RDZV_BACKEND": "c10d",
            "BENCH_RDZV_ENDPOINT": endpoint,
            "BENCH_RDZV_ID": job,
            "BENCH_NODE_LABEL": f"node-{node}",
        }
        out = ["--out", str(tmp_path / f"node-{node}")]
        nodes.append(
            subprocess.Popen(
                [*argv, *out], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    return nodes


def finish(nodes: list[subprocess.Popen[str]], timeout: float) -> list[tuple[int, str, str]]:
    """Each node's exit code, stdout and stderr; both killed if either outlives ``timeout``."""
    deadline, done = time.monotonic() + timeout, []
    try:
        for node in nodes:
            out, err = node.communicate(timeout=max(1.0, deadline - time.monotonic()))
            done.append((node.returncode, out, err))
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.communicate()
    return done


def job_processes(job: str) -> list[tuple[int, list[bytes]]]:
    """Every process of this job's launches (torchrun agents and ranks), by the rendezvous id in its
    environment (other jobs may run beside the tests): pid and environment."""
    found = []
    marker = f"BENCH_RDZV_ID={job}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if marker in environment and (RANK_MODULE in command or b"torch.distributed.run" in command):
            found.append((int(entry.name), environment))
    return found


def run_folder(out: Path) -> Path:
    (folder,) = out.iterdir()
    return folder


def test_two_nodes_run_one_job_recorded_once(tmp_path: Path) -> None:
    job = f"test-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    done = finish(start_nodes(tmp_path, job, "train_images=256", "test_images=64"), timeout=240)
    elapsed = time.monotonic() - started
    for node, (code, out, err) in enumerate(done):
        assert code == 0, f"node {node} exited {code}\n{out[-2000:]}\n{err[-2000:]}"
    records = [RunRecord.from_json(run_folder(tmp_path / f"node-{node}")) for node in (0, 1)]
    (leader,) = [record for record in records if record.cases]
    (worker,) = [record for record in records if not record.cases]

    # the job's numbers, once: the node with rank 0 holds them, the ranks agree across the nodes
    (result,) = leader.cases
    assert result.workload == "cifar_ddp" and result.params["ranks"] == "all"
    metrics = result.metrics or {}
    assert metrics["world_size"] == 2 and metrics["nodes"] == 2 and metrics["weights_identical_across_ranks"]
    assert len(set(metrics["parameters_sha256_per_rank"])) == 1 and not leader.served and not leader.failed

    # the other node says it served that job, in which rendezvous, and where the numbers are
    (served,) = worker.served
    assert served["id"] == result.id and served["nodes"] == 2 and served["world_size"] == 2
    assert served["job"] == job and served["node"] == 1 and not worker.failed
    for record in records:
        placed = record.context["node"]
        assert placed["nnodes"] == "2" and placed["rdzv_id"] == job and placed["rdzv_endpoint"].startswith("127.0.0.1:")
    assert {record.context["node"]["label"] for record in records} == {"node-0", "node-1"}
    worker_out = done[records.index(worker)][1]
    assert "served as node 1 of 2" in worker_out, worker_out[-2000:]

    shown = run_python("-m", "bench", "show", str(worker.path), cwd=tmp_path)
    assert shown.returncode == 0 and "served as a worker node (1)" in shown.stdout, shown.stdout + shown.stderr

    # a report over both nodes' records counts the job once
    report = tmp_path / "report"
    folders = [str(record.path.parent) for record in records if record.path]
    made = run_python("-m", "bench", "report", *folders, "--out", str(report), cwd=tmp_path)
    assert made.returncode == 0, made.stderr[-2000:]
    with (report / "results.csv").open() as table:
        rows = [row for row in csv.DictReader(table) if row["workload"] == "cifar_ddp"]
    assert [row["case"] for row in rows] == [result.id]
    worker_line = f"{worker.path.parent.name}: worker node of 1 job(s) across machines, counted in rank 0's record"
    assert worker_line in (report / "report.md").read_text()
    print(f"two nodes, one job of 2 ranks: {elapsed:.1f} s from start to both records")


def test_a_node_that_dies_fails_both_runs_with_one_line_each(tmp_path: Path) -> None:
    """Node 1's launch is killed (SIGKILL to its torchrun agent's process group, as a machine lost)
    while the job trains: its rank goes with it (a rank runs in a session of its own, but dies with
    its agent), both runs end within the collective timeout, each with one line, and no process of
    the job is left."""
    job = f"test-{uuid.uuid4().hex[:8]}"
    label = b"BENCH_NODE_LABEL=node-1"
    # ResNet18 on 4096 images: several seconds of training on 2 cores, for the kill to land in
    nodes = start_nodes(tmp_path, job, "model=resnet18", "train_images=4096", "test_images=64")
    killed_at = None
    try:
        deadline = time.monotonic() + 120
        while killed_at is None and time.monotonic() < deadline:
            found = [pid for pid, env in job_processes(job) if label in env]
            agents = [pid for pid in found if _command(pid)[1:3] == [b"-m", b"torch.distributed.run"]]
            ranks = [pid for pid in found if pid not in agents]
            if agents and ranks and _job_started(ranks[0]):
                time.sleep(0.5)  # into its training: the peers are in their collectives
                os.killpg(agents[0], signal.SIGKILL)  # the agent leads its process group
                killed_at = time.monotonic()
            time.sleep(0.05)
        assert killed_at is not None, "node 1's rank never started its job"
        done = finish(nodes, timeout=COLLECTIVE_TIMEOUT_S + 60)
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
    took = time.monotonic() - killed_at
    assert took < COLLECTIVE_TIMEOUT_S, f"the runs took {took:.0f} s to end after the kill"
    for node, (code, out, err) in enumerate(done):
        assert code == 1, f"node {node} exited {code}\n{out[-2000:]}\n{err[-2000:]}"
        (failure,) = RunRecord.from_json(run_folder(tmp_path / f"node-{node}")).failed
        assert failure["error"].startswith("JobFailed: distributed job of 1 processes failed"), failure
        assert "\n" not in failure["error"] and "Traceback" not in out + err
        assert not [line for line in out.splitlines() if line.startswith("E ")], out[-3000:]  # pytest's traceback
        print(f"node {node}: {failure['error']}")
    time.sleep(1)  # the agents' last children reaped
    assert job_processes(job) == [], "processes of the job left running"
    print(f"node 1 killed: both runs failed {took:.1f} s later, one line each")


def _command(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return []


def _job_started(pid: int) -> bool:
    """The rank's pool has its first job: the ``--jobs`` folder on its command line holds job-0."""
    words = _command(pid)
    if b"--jobs" not in words:
        return False
    folder = Path(os.fsdecode(words[words.index(b"--jobs") + 1]))
    return (folder / "job-0.json").exists()
