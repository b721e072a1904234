"""Regenerate the pinned sets in this folder with pip's own resolver (no extra locking tool).

    python envs/lock.py                 # dev.txt, cpu.txt and cuda.txt
    python envs/lock.py cuda            # one of them
    python envs/lock.py --requirements  # print what the images install (pyproject's list + the pair)

Each set is resolved for the Python and platform it is installed on (so the CUDA image's
Python 3.12 set can be made on a 3.11 machine), from the requirements in ``pyproject.toml``
with torch and torchvision held at one matched pair.  pip reads the package indexes from its
usual configuration; only metadata is fetched.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# torchvision is built against one torch release: change both together.
TORCH = "2.14.1"
TORCHVISION = "0.29.1"
# manylinux tags a glibc-2.36 x86_64 machine accepts (pip's --platform takes exact tags only)
PLATFORMS = [f"manylinux_2_{minor}_x86_64" for minor in range(17, 37)] + [
    "manylinux2014_x86_64",
    "linux_x86_64",
]


@dataclass(frozen=True)
class Target:
    name: str
    python: str
    extras: tuple[str, ...]
    purpose: str


TARGETS = {
    "dev": Target("dev", "3.11", ("dev",), "development and CI (nox installs the package with -c envs/dev.txt)"),
    "cpu": Target("cpu", "3.11", (), "Dockerfile.cpu (python:3.11-slim-bookworm)"),
    "cuda": Target("cuda", "3.12", (), "Dockerfile.cuda (Ubuntu 24.04's Python 3.12)"),
}


def requirements(extras: tuple[str, ...]) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    return [*wanted, f"torch=={TORCH}", f"torchvision=={TORCHVISION}"]


def canonical(name: str) -> str:
    """PEP 503's normalized project name, so every set spells a package the same way."""
    return re.sub(r"[-_.]+", "-", name).lower()


def resolve(target: Target) -> list[tuple[str, str]]:
    """(name, version) of everything pip would install for ``target``, without installing."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        platforms = [arg for tag in PLATFORMS for arg in ("--platform", tag)]
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--dry-run",
                "--quiet",
                "--ignore-installed",
                "--target",
                str(Path(tmp) / "unused"),
                "--report",
                str(report),
                "--only-binary=:all:",
                "--implementation",
                "cp",
                "--python-version",
                target.python,
                *platforms,
                *requirements(target.extras),
            ],
            check=True,
        )
        installed = json.loads(report.read_text())["install"]
    return sorted((canonical(item["metadata"]["name"]), item["metadata"]["version"]) for item in installed)


def render(target: Target, pins: list[tuple[str, str]]) -> str:
    pip_version = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    header = [
        f"# Pins for {target.purpose}.",
        f"# Resolved by `python envs/lock.py {target.name}` on {datetime.now(UTC):%Y-%m-%d} with pip {pip_version},",
        f"# for CPython {target.python} on manylinux x86_64, from pyproject.toml's requirements with",
        f"# torch {TORCH} / torchvision {TORCHVISION} held as a matched pair (torchvision is built for one torch).",
        "# Used as a pip constraints file (-c): it pins what gets installed and adds nothing, so the",
        "# nvidia-*, cuda-* and triton lines apply only where PyPI's CUDA build of torch pulls them in.",
    ]
    return "\n".join([*header, *(f"{name}=={version}" for name, version in pins)]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=f"any of {', '.join(TARGETS)} (default: all)")
    parser.add_argument("--requirements", action="store_true", help="print the package's requirements and stop")
    args = parser.parse_args()
    if args.requirements:  # the images install these, constrained by their set, before the code is copied
        print("\n".join(requirements(())))
        return
    names = args.targets or list(TARGETS)
    if unknown := set(names) - set(TARGETS):
        parser.error(f"unknown target {sorted(unknown)[0]}")
    for name in names:
        target = TARGETS[name]
        text = render(target, resolve(target))
        path = ROOT / "envs" / f"{name}.txt"
        path.with_suffix(".tmp").write_text(text)
        path.with_suffix(".tmp").replace(path)  # never a half-written set
        print(f"envs/{name}.txt: {text.count(chr(10)) - 6} pins")


if __name__ == "__main__":
    main()
