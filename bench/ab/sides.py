"""The two sides of a head-to-head, and how to start a worker for each.

The harness that measures is always this checkout's (``bench/``); a side supplies its environment
(interpreter, installed torch) and its workloads:

* ``current`` — this checkout and this interpreter;
* ``python:PATH`` — another interpreter (e.g. a venv with another torch), with this checkout's
  harness and workloads on its path;
* ``rev:REVISION`` — this interpreter, with the workloads of that git revision, checked out in a
  worktree of this repository (removed afterwards). A worker sees a folder holding links to this
  checkout's ``bench`` and to the worktree's ``workloads``, so the revision's workloads run under
  this harness; workloads that no longer load with it are a side that cannot load;
* ``image:NAME`` — a container image of the suite, run by the engine ``nox -s docker-*`` uses
  (:mod:`bench.engine`, with ``$BENCH_CONTAINER_RUN_FLAGS``): its Python, torch and workloads,
  with this checkout's ``bench`` mounted read-only over the image's, on a read-only root.

Timing both sides with one harness means a difference is the sides' own (torch, the workloads'
code), never a change in how they were timed.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import bench
from bench.engine import container_engine
from bench.errors import UsageError

ROOT = Path(bench.__file__).parents[1]  # this checkout: its harness measures both sides
IMAGE_SUITE = "/opt/suite"  # where the Dockerfiles put the suite (its bench/ is replaced by ours)
CPUS_VARIABLE = "BENCH_AB_CPUS"  # the CPUs a worker pins itself to (bench.ab.worker)


@dataclass
class Side:
    """How to start one side's workers, and what the record says about the side."""

    spec: str  # as given on the command line
    kind: str
    python: str
    path: str  # the worker's PYTHONPATH: where ``bench`` and ``workloads`` come from
    revision: str | None = None  # rev: the commit it resolved to
    about: dict[str, object] = field(default_factory=dict)  # filled from the workers' hello

    image: str | None = None  # image: its name; python is then the interpreter inside it
    engine: str | None = None
    image_id: str | None = None

    def command(self, name: str, cpus: list[int] | None, targets: list[str]) -> list[str]:
        """The worker's command line: ``name`` names its container (an image side), ``cpus`` its pinning."""
        if self.image is None:
            return [self.python, "-m", "bench.ab.worker"]
        assert self.engine is not None
        mounts = [f"--volume={target}:{target}:ro" for target in targets if Path(target).exists()]
        pinned = [f"--env={CPUS_VARIABLE}={','.join(map(str, cpus))}"] if cpus else []
        return [
            self.engine,
            "run",
            "--rm",
            "--interactive",
            f"--name={name}",
            "--read-only",
            "--tmpfs=/tmp",
            f"--volume={ROOT / 'bench'}:{IMAGE_SUITE}/bench:ro",
            *mounts,
            *pinned,
            f"--env=BENCH_IMAGE={self.image}",  # what the worker reports of its container
            f"--env=BENCH_IMAGE_ID={self.image_id}",
            *shlex.split(os.environ.get("BENCH_CONTAINER_RUN_FLAGS", "")),
            "--entrypoint=python",
            self.image,
            "-m",
            "bench.ab.worker",
        ]

    @property
    def workdir(self) -> str | None:
        """Where the worker starts: ``python -m`` puts it first on the path, so the side's own folder."""
        return None if self.image else self.path

    def env(self, cpus: list[int] | None = None) -> dict[str, str]:
        env = {**os.environ, "PYTHONPATH": self.path, "PYTHONUNBUFFERED": "1"}
        env.pop(CPUS_VARIABLE, None)
        return {**env, CPUS_VARIABLE: ",".join(map(str, cpus))} if cpus else env

    def stop(self, name: str) -> None:
        """Remove a killed worker's container (killing the engine's client leaves it running)."""
        if self.image is not None and self.engine is not None:
            subprocess.run([self.engine, "rm", "--force", name], capture_output=True, timeout=60, check=False)

    def record(self) -> dict[str, object]:
        return {
            "spec": self.spec,
            "kind": self.kind,
            "python": self.python,
            "revision": self.revision,
            "image": self.image,
            "engine": self.engine,
            "image_id": self.image_id,
            **self.about,
        }


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UsageError(f"git {' '.join(args)}: {(done.stderr.strip().splitlines() or ['failed'])[-1]}")
    return done.stdout.strip()


def _interpreter(spec: str, path: str) -> str:
    """The interpreter of a ``python:`` side, checked to run and import torch."""
    found = shutil.which(path) or (path if Path(path).is_file() else None)
    if found is None:
        raise UsageError(f"side {spec}: no such interpreter")
    try:
        done = subprocess.run(
            [found, "-c", "import torch, numpy"], capture_output=True, text=True, timeout=120, check=False
        )
    except OSError as error:
        raise UsageError(f"side {spec}: cannot run it ({error.strerror})") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["it failed"])[-1]
        raise UsageError(f"side {spec}: its Python cannot import torch and numpy ({last})")
    return found


def _image(spec: str, name: str) -> Side:
    """An ``image:`` side, its engine found and the image checked to exist."""
    engine = container_engine()
    if engine is None:
        raise UsageError(f"side {spec}: no container engine (neither a running Docker engine nor podman)")
    try:
        done = subprocess.run(
            [engine, "image", "inspect", "--format", "{{.Id}}", name],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except OSError as error:
        raise UsageError(f"side {spec}: cannot run {engine} ({error.strerror})") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["not found"])[-1]
        raise UsageError(f"side {spec}: no such image in {engine} ({last[:200]})")
    return Side(spec, "image", "python", IMAGE_SUITE, image=name, engine=engine, image_id=done.stdout.strip())


@contextlib.contextmanager
def resolved(specs: list[str], scratch: Path) -> Iterator[list[Side]]:
    """The sides named by ``specs``, ready to start workers; worktrees made for them are removed after."""
    worktrees: list[Path] = []
    try:
        sides = []
        for spec in specs:
            kind, _, value = spec.partition(":")
            if kind == "current" and not value:
                sides.append(Side(spec, kind, sys.executable, str(ROOT)))
            elif kind == "python" and value:
                sides.append(Side(spec, kind, _interpreter(spec, value), str(ROOT)))
            elif kind == "rev" and value:
                try:
                    commit = _git("rev-parse", "--verify", "--quiet", f"{value}^{{commit}}")
                except UsageError:
                    raise UsageError(f"side {spec}: unknown revision {value!r} in {ROOT}") from None
                tree = scratch / f"rev-{commit[:12]}-{len(worktrees)}"
                _git("worktree", "add", "--detach", str(tree), commit)
                worktrees.append(tree)
                if not (tree / "workloads").is_dir():
                    raise UsageError(f"side {spec}: revision {commit[:12]} has no workloads/ folder")
                view = scratch / f"view-{len(worktrees)}"
                view.mkdir()
                (view / "bench").symlink_to(ROOT / "bench")
                (view / "workloads").symlink_to(tree / "workloads")
                (view / "pyproject.toml").symlink_to(ROOT / "pyproject.toml")
                sides.append(Side(spec, kind, sys.executable, str(view), revision=commit))
            elif kind == "image" and value:
                sides.append(_image(spec, value))
            else:
                raise UsageError(f"side {spec!r}: expected current, rev:REVISION, python:PATH or image:NAME")
        yield sides
    finally:
        for tree in worktrees:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True, check=False
            )
