"""The machine and software a result was measured on.

Added to pytest-benchmark's ``machine_info`` (which already has the OS, Python
and a CPU description) through its ``pytest_benchmark_update_machine_info`` hook.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("torch", "torchvision", "numpy", "pytest", "pytest-benchmark")
ENV_VARS = (
    "CUDA_VISIBLE_DEVICES",
    "CUBLAS_WORKSPACE_CONFIG",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OMP_WAIT_POLICY",  # PASSIVE: threads sleep while they wait; slower alone, far faster beside other work
    "PYTORCH_CUDA_ALLOC_CONF",
)
# Files a container engine leaves in every container it starts.
ENGINE_MARKERS = (("podman", Path("/run/.containerenv")), ("docker", Path("/.dockerenv")))
# What the images (Dockerfile.cpu/.cuda) and `nox -s docker-*` tell a run about its image.
IMAGE_ENV = {
    "flavor": "BENCH_IMAGE_FLAVOR",
    "version": "BENCH_IMAGE_VERSION",
    "revision": "BENCH_IMAGE_REVISION",
    "image": "BENCH_IMAGE",
    "image_id": "BENCH_IMAGE_ID",
}


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def driver_version() -> str | None:
    """The NVIDIA driver version, from NVML when importable, else nvidia-smi."""
    try:
        import pynvml  # noqa: PLC0415 - optional

        pynvml.nvmlInit()
        try:
            version = pynvml.nvmlSystemGetDriverVersion()
            return version.decode() if isinstance(version, bytes) else version
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - absent module, library or driver: try the next source
        pass
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=10,
                check=True,
            ).stdout
            return out.splitlines()[0].strip() if out.strip() else None
        except (OSError, subprocess.SubprocessError):
            return None
    return None


def gpus() -> list[dict[str, Any]]:
    if not torch.cuda.is_available():
        return []
    found = []
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        found.append(
            {
                "index": index,
                "name": props.name,
                "capability": f"{props.major}.{props.minor}",
                "total_memory": props.total_memory,
                "multiprocessors": props.multi_processor_count,
            }
        )
    return found


def container() -> dict[str, Any]:
    """Whether this runs in a container, under which engine, and from which image.

    An image cannot see its own id; ``nox -s docker-*`` passes it in (``BENCH_IMAGE_ID``), and a
    run without it records ``image_id: null`` rather than guessing.
    """
    engine = next((name for name, marker in ENGINE_MARKERS if marker.exists()), None)
    engine = engine or os.environ.get("container") or None  # noqa: SIM112 - podman sets it; --read-only hid the file
    image = {key: os.environ.get(var) or None for key, var in IMAGE_ENV.items()}
    inside = engine is not None or image["flavor"] is not None
    read_only = bool(os.statvfs("/").f_flag & os.ST_RDONLY)  # `--read-only`: nothing but the mounts can change
    return {"in_container": inside, "engine": engine, **image, "root_read_only": read_only}


def collect() -> dict[str, Any]:
    """Everything about this machine that can change a timing."""
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    return {
        "packages": {name: _version(name) for name in PACKAGES},
        "torch": {
            "version": torch.__version__,
            "git_version": torch.version.git_version,
            "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
            "debug": torch.version.debug,
            "parallel": torch.__config__.parallel_info().splitlines()[:8],
        },
        "cuda_available": torch.cuda.is_available(),
        "driver": driver_version() if torch.cuda.is_available() else None,
        "gpus": gpus(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "torch_threads": torch.get_num_threads(),
        "hostname": platform.node(),
        "container": container(),
        "env": {name: os.environ[name] for name in ENV_VARS if name in os.environ},
    }
