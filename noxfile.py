"""One command per job: ``nox -s tests``, ``nox -s bench-cpu``, ``nox -s bench-cuda`` …

Arguments after ``--`` go to ``python -m bench run`` (see ``python -m bench run --help``),
e.g. ``nox -s bench-cpu -- --quick --family matrix``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

PINS = ("-c", "envs/dev.txt")


def has_cuda_device() -> bool:
    """A cheap look for an NVIDIA GPU before spending minutes installing torch."""
    return Path("/proc/driver/nvidia/gpus").is_dir() or shutil.which("nvidia-smi") is not None


def install_suite(session: nox.Session, *extra: str) -> None:
    session.install(*PINS, "-e", ".", *extra)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff: lint and formatting."""
    session.install(*PINS, "ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and correctness tests, a smoke run of the whole suite on the CPU; then lint."""
    install_suite(session)
    session.run("pytest", "tests", "-p", "no:cacheprovider", *session.posargs)
    session.notify("lint")


@nox.session(name="bench-cpu")
def bench_cpu(session: nox.Session) -> None:
    """The benchmark suite on the CPU into results/runs/<run-id>/."""
    install_suite(session)
    session.run("python", "-m", "bench", "run", "--device", "cpu", *session.posargs)


@nox.session(name="bench-cuda")
def bench_cuda(session: nox.Session) -> None:
    """The same suite on the GPU; stops at once where there is none (it never falls back to the CPU)."""
    if not has_cuda_device():
        session.error("bench-cuda: no NVIDIA GPU on this machine (no driver, no nvidia-smi); use bench-cpu")
    install_suite(session)
    session.run("python", "-m", "bench", "run", "--device", "cuda", *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """A report (Markdown, HTML, CSV, plots) from the run folders given after --, e.g. results/runs/*."""
    if not session.posargs:
        session.error("report: name the run folders after --, e.g. nox -s report -- results/runs/*")
    install_suite(session)
    session.run("python", "-m", "bench", "report", *session.posargs)


@nox.session
def reproduce(session: nox.Session) -> None:
    """Train the tutorial's CIFAR-10 recipes and check them against results/references (default: LeNet5)."""
    install_suite(session)
    session.run("python", "-m", "bench", "reproduce", *session.posargs)


@nox.session
def overhead(session: nox.Session) -> None:
    """Overheads on a 256 x 256 matmul: harness vs torch.utils.benchmark (default), or `-- sampler` on vs off."""
    install_suite(session)
    session.run("python", "-m", "bench", "overhead", *session.posargs)
