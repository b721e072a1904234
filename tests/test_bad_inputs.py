"""The bad-input matrix: every command, and the entry points nox sessions use, fed bad input as a
user would feed it. Each case must exit with its documented code, print one line on stderr naming
the problem, print no traceback, and leave every file and folder that was there exactly as it was
(results, a baseline, the history store, an earlier report; nothing new either)."""

from __future__ import annotations

import json
import os
import pickle
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from cifar_fixtures import write_batches, write_imagefolder, write_npz
from hostile import RunsCode
from PIL import Image
from processes import ROOT, run_python

from bench import history
from bench.cli import main
from bench.report import build
from tools import soak
from tools.detector import main as detector_main
from workloads.cifar.data import BATCHES_DIR

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"
GOOD = "{ws}/results/runs/good"
BASELINE = "{ws}/results/baseline"
STORE = "{ws}/results/history.sqlite"


@dataclass(frozen=True)
class Bad:
    """One bad input: the command line ("{ws}" is the workspace), its exit code and the message."""

    argv: tuple[str, ...]
    code: int
    message: str
    setup: Callable[[Path], object] | None = None

    def command(self, ws: Path) -> list[str]:
        return [arg.format(ws=ws) for arg in self.argv]


def bad(*argv: str, code: int = 2, says: str, setup: Callable[[Path], object] | None = None) -> Bad:
    return Bad(argv, code, says, setup)


# -- what the bad files are -------------------------------------------------------------------------


def write(relative: str, content: bytes | str) -> Callable[[Path], Path]:
    def make(ws: Path) -> Path:
        path = ws / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    return make


def sparse(relative: str, size: int) -> Callable[[Path], Path]:
    def make(ws: Path) -> Path:
        path = ws / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:  # long, but nothing written: no disk used
            f.truncate(size)
        return path

    return make


def record_with(change: Callable[[dict], object]) -> Callable[[Path], Path]:
    """A copy of the real fixture record, changed; in ``{ws}/other``."""

    def make(ws: Path) -> Path:
        data = json.loads((FIXTURE / "benchmark.json").read_text())
        change(data)
        return write("other/benchmark.json", json.dumps(data))(ws)

    return make


def sqlite_with(*statements: str) -> Callable[[Path], None]:
    def make(ws: Path) -> None:
        with sqlite3.connect(ws / "other.sqlite") as connection:
            for statement in statements:
                connection.execute(statement)
        connection.close()

    return make


def batches_with(name: str, content: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def make(ws: Path) -> None:
        batch = write_batches(ws / "data") / BATCHES_DIR / name
        batch.write_bytes(content(batch.read_bytes()))

    return make


def hostile_batch(ws: Path) -> None:
    """A batch whose unpickling would run ``touch {ws}/code-ran`` (the snapshot would see the file)."""
    batch = pickle.dumps({"data": RunsCode(f"touch {ws}/code-ran"), "labels": []}, protocol=2)
    batches_with("data_batch_1", lambda _: batch)(ws)


def image_tree_with(content: Callable[[Path], object]) -> Callable[[Path], None]:
    def make(ws: Path) -> None:
        content(write_imagefolder(ws / "data", per_class=1) / "train" / "cat" / "0.png")

    return make


def npz_with(**arrays: np.ndarray) -> Callable[[Path], Path]:
    return lambda ws: write_npz(ws / "data.npz", train=20, test=10, **arrays)


def dangling(ws: Path) -> None:
    (ws / "gone").symlink_to(ws / "nowhere" / "folder")


def blocker(ws: Path) -> None:
    (ws / "blocker").write_text("a file where a folder should be\n")


CIFAR = ("run", "--quick", "--workload", "cifar_train", "--out", "{ws}/results/runs")
MACHINE = '"machine_info": {}'

CASES: dict[str, Bad] = {
    # list
    "list unknown family": bad("list", "--family", "nope", says="unknown family 'nope'"),
    "list unknown size": bad("list", "--cases", "huge", says="unknown size 'huge'"),
    # run: names and values
    "run unknown workload": bad("run", "--workload", "nope", says="unknown workload 'nope'"),
    "run unknown family": bad("run", "--family", "nope", says="unknown family 'nope'"),
    "run unknown tag": bad("run", "--tag", "nope", says="unknown tag 'nope'"),
    "run unknown size": bad("run", "--size", "huge", says="unknown size 'huge'"),
    "run unknown device": bad("run", "--device", "tpu", says="unknown device 'tpu'"),
    "run unsupported device": bad("run", "--device", "meta", says="unsupported device 'meta'"),
    "run a device list naming the cpu": bad("run", "--device", "cuda:0,cpu", says="a device list names GPUs as cuda:N"),
    "run --concurrent on one device": bad("run", "--concurrent", says="--concurrent runs several devices at once"),
    "ddp on every gpu": bad("ddp", "--device", "cuda:all", says="unknown device 'cuda:all'"),
    "run dtype not on cpu": bad(
        "run", "--workload", "mm", "--dtype", "float16", says="float16 is not supported on cpu"
    ),
    "run unknown dtype": bad("run", "--dtype", "float8", says="unknown dtype 'float8'"),
    "run param not a number": bad("run", "--workload", "mm", "--param", "n=abc", says="parameter n expects an integer"),
    "run param out of range": bad("run", "--workload", "mm", "--param", "n=-3", says="parameter n must be >= 1"),
    "run param nobody has": bad(
        "run", "--workload", "mm", "--param", "depth=3", says="no selected workload has a para"
    ),
    "run param without value": bad(
        "run", "--workload", "mm", "--param", "n", says="--param expects KEY=VALUE, got 'n'"
    ),
    "run negative seed": bad("run", "--seed", "-1", says="--seed must be >= 0"),
    "run seed not a number": bad("run", "--seed", "one", says="--seed expects an integer"),
    "run no threads": bad("run", "--threads", "0", says="--threads must be >= 1"),
    "run max-time not a number": bad("run", "--max-time", "soon", says="--max-time expects a number"),
    "run max-time nan": bad("run", "--max-time", "nan", says="--max-time expects a finite number, got 'nan'"),
    "run max-time inf": bad("run", "--max-time", "inf", says="--max-time expects a finite number, got 'inf'"),
    "run case-timeout nan": bad("run", "--case-timeout", "nan", says="--case-timeout expects a finite number"),
    "run seed too large": bad("run", "--seed", str(2**70), says="--seed must be <= 18446744073709551615"),
    "run case-timeout negative": bad("run", "--case-timeout", "-2", says="--case-timeout must be >= 0.001, got -2"),
    "run unknown determinism": bad("run", "--determinism", "maybe", says="unknown determinism mode 'maybe'"),
    "run negative loader workers": bad("run", "--loader-workers", "-1", says="--loader-workers must be >= 0"),
    "run k not an expression": bad("run", "--quick", "-k", "mm and (", says="bad -k/-m expression"),
    "run k matches nothing": bad("run", "--quick", "--workload", "mm", "-k", "no_such", says="no case matched"),
    "run pytest writes the baseline": bad(
        "run",
        "--workload",
        "mm",
        "--",
        "--benchmark-json=" + BASELINE + "/benchmark.json",
        says="--benchmark-json after -- would write files outside the run folder",
    ),
    "run pytest empties a folder": bad(
        "run", "--workload", "mm", "--", "--basetemp", "{ws}/results", says="--basetemp after -- would write"
    ),
    "run pytest log file": bad(
        "run", "--workload", "mm", "--", "-o", "log_file={ws}/results/history.sqlite", says="-o log_file after --"
    ),
    "run folder a dangling link": bad(
        "run", "--workload", "mm", "--out", "{ws}/gone", setup=dangling, says="gone: a link to", code=2
    ),
    "run folder is a file": bad(
        "run", "--workload", "mm", "--out", "{ws}/blocker/runs", setup=blocker, says="cannot create results folder"
    ),
    "ddp no processes": bad("ddp", "--nproc-per-node", "0", says="value must be >= 1, got 0"),
    # run: training data
    "data root missing": bad(*CIFAR, "--data-root", "{ws}/nowhere", says="nowhere: no such file or folder"),
    "data source needs root": bad(*CIFAR, "--data-source", "npz", says="--data-source npz needs --data-root"),
    "npz corrupt": bad(
        *CIFAR,
        "--data-root",
        "{ws}/data.npz",
        setup=write("data.npz", b"PK\x03\x04 no zip"),
        says="data.npz: not a readable .npz",
    ),
    "npz arrays missing": bad(
        *CIFAR,
        "--data-root",
        "{ws}/data.npz",
        says="missing arrays train_labels",
        setup=lambda ws: np.savez(ws / "data.npz", train_images=np.zeros((1, 32, 32, 3))),
    ),
    "npz labels out of range": bad(
        *CIFAR,
        "--data-root",
        "{ws}/data.npz",
        setup=npz_with(train_labels=np.full(20, 12)),
        says="train labels out of range 0..9",
    ),
    "batch that runs code": bad(
        *CIFAR, "--data-root", "{ws}/data", setup=hostile_batch, says="refusing to load posix.system"
    ),
    "batch truncated": bad(
        *CIFAR,
        "--data-root",
        "{ws}/data",
        setup=batches_with("test_batch", lambda b: b[:300]),
        says="test_batch: not a readable CIFAR batch",
    ),
    "image corrupt": bad(
        *CIFAR,
        "--data-root",
        "{ws}/data",
        setup=image_tree_with(lambda p: p.write_bytes(b"no png")),
        says="0.png: not a readable image",
    ),
    "image wrong size": bad(
        *CIFAR,
        "--data-root",
        "{ws}/data",
        says="image is 16 x 16, expected 32 x 32",
        setup=image_tree_with(lambda p: Image.new("RGB", (16, 16)).save(p)),
    ),
    # show: files that are not run records
    "show missing": bad("show", "{ws}/nowhere", says="no such file"),
    "show not json": bad("show", "{ws}/other", setup=write("other/benchmark.json", "{not json"), says="not valid JSON"),
    "show empty": bad("show", "{ws}/other", setup=write("other/benchmark.json", ""), says="not valid JSON"),
    "show binary": bad("show", "{ws}/other", setup=write("other/benchmark.json", b"\xff\xfe\x00"), says="not UTF-8"),
    "show nested": bad(
        "show", "{ws}/other", setup=write("other/benchmark.json", "[" * 100_000), says="JSON nested too deeply"
    ),
    "show huge": bad(
        "show", "{ws}/other", setup=sparse("other/benchmark.json", 300 * 2**20), says="300 MB, more than any run record"
    ),
    "show foreign json": bad(
        "show",
        "{ws}/other",
        setup=write("other/benchmark.json", '{"hello": 1}'),
        says="not a pytest-benchmark JSON file",
    ),
    "show times not numbers": bad(
        "show",
        "{ws}/other",
        says="per-round times must be numbers",
        setup=write("other/benchmark.json", '{"benchmarks": [{"stats": {"data": ["1"]}}], ' + MACHINE + "}"),
    ),
    "show negative times": bad(
        "show",
        "{ws}/other",
        setup=record_with(lambda d: d["benchmarks"][0]["stats"].update(data=[-1.0])),
        says="per-round times must be numbers >= 0",
    ),
    "show other schema": bad(
        "show", "{ws}/other", setup=record_with(lambda d: d["bench"].update(schema=99)), says="record schema 99"
    ),
    "show bench not object": bad(
        "show",
        "{ws}/other",
        setup=record_with(lambda d: d.update(bench=[])),
        says="'machine_info' and 'bench' must be JSON objects",
    ),
    # report
    "report out is a file": bad("report", GOOD, "--out", GOOD + "/benchmark.json", says="benchmark.json: not a folder"),
    "report one bad run": bad(
        "report",
        GOOD,
        "{ws}/other",
        setup=write("other/benchmark.json", "{oops"),
        says="other/benchmark.json: not valid JSON",
    ),
    "report history not sqlite": bad(
        "report",
        GOOD,
        "--history",
        "{ws}/notes.txt",
        setup=write("notes.txt", "hi\n"),
        says="notes.txt: not a usable history store",
    ),
    "report out a dangling link": bad("report", GOOD, "--out", "{ws}/gone", setup=dangling, says="gone: a link to"),
    "show path with a line break": bad("show", "{ws}/two\nlines", says="two\\nlines: no such file"),
    # compare
    "compare other hardware": bad(
        "compare",
        BASELINE,
        "{ws}/other",
        says="runs not comparable (cpus: baseline 2",
        setup=record_with(lambda d: d["machine_info"].update(cpu_count=64)),
    ),
    "compare bad threshold": bad(
        "compare", BASELINE, GOOD, "--threshold", "matrix=abc", says="expected FAMILY=FRACTION"
    ),
    "compare bad confidence": bad(
        "compare", BASELINE, GOOD, "--confidence", "1.5", says="expected a value in [0.5, 1)"
    ),
    "compare unwritable out": bad(
        "compare", BASELINE, GOOD, "--out", "{ws}/blocker/table.md", setup=blocker, says="cannot write"
    ),
    # history
    "history store not sqlite": bad(
        "history",
        "append",
        GOOD,
        "--db",
        "{ws}/notes.txt",
        setup=write("notes.txt", "hi"),
        says="notes.txt: not a usable history store",
    ),
    "history foreign sqlite": bad(
        "history",
        "append",
        GOOD,
        "--db",
        "{ws}/other.sqlite",
        setup=sqlite_with("CREATE TABLE songs (title TEXT)"),
        says="other.sqlite: not a history store",
    ),
    "history other schema": bad(
        "history",
        "plot",
        "--db",
        "{ws}/other.sqlite",
        says="history schema 99",
        setup=sqlite_with("CREATE TABLE meta (key TEXT, value TEXT)", "INSERT INTO meta VALUES ('schema', '99')"),
    ),
    "history store with other columns": bad(
        "history",
        "append",
        GOOD,
        "--db",
        "{ws}/other.sqlite",
        says="not a usable history store (table runs lacks appended, branch, commit_id, commit_time and 9 more)",
        setup=sqlite_with(
            "CREATE TABLE meta (key TEXT, value TEXT)",
            "INSERT INTO meta VALUES ('schema', '1')",
            "CREATE TABLE runs (run_id TEXT)",
            "CREATE TABLE results (x INTEGER)",
        ),
    ),
    "report history store with other columns": bad(
        "report",
        GOOD,
        "--out",
        "{ws}/new-report",
        "--history",
        "{ws}/other.sqlite",
        says="other.sqlite: not a usable history store",  # the store named, not the report folder
        setup=sqlite_with(
            "CREATE TABLE meta (key TEXT, value TEXT)",
            "INSERT INTO meta VALUES ('schema', '1')",
            "CREATE TABLE runs (run_id TEXT)",
            "CREATE TABLE results (x INTEGER)",
        ),
    ),
    "history bad run": bad(
        "history",
        "append",
        "{ws}/other",
        "--db",
        STORE,
        says="not valid JSON",
        setup=write("other/benchmark.json", "["),
    ),
    "history no store": bad("history", "plot", "--db", "{ws}/none.sqlite", says="no history store here"),
    "history plot with runs": bad("history", "plot", GOOD, "--db", STORE, says="history plot takes no runs"),
    "history append nothing": bad("history", "append", "--db", STORE, says="name the run folders to append"),
    # reproduce
    "reproduce bands corrupt": bad(
        "reproduce",
        "--bands",
        "{ws}/bands.toml",
        setup=write("bands.toml", "[[band"),
        says="bands.toml: not a readable TOML bands file",
    ),
    "reproduce no epochs": bad("reproduce", "--epochs", "0", says="value must be >= 1, got 0"),
    "reproduce unknown model": bad("reproduce", "--model", "vgg", says="invalid choice: 'vgg'"),
    # overhead
    "overhead bad n": bad("overhead", "--n", "-5", says="value must be >= 1, got -5"),
    "overhead repeats not a number": bad("overhead", "--repeats", "many", says="value expects an integer, got 'many'"),
    "overhead unknown device": bad("overhead", "--device", "tpu", says="unknown device 'tpu'"),
    # the parser itself
    "unknown command": bad("frobnicate", says="invalid choice"),
    "no command": bad(says="required"),
}
if not torch.cuda.is_available():
    CASES["run cuda without a gpu"] = bad("run", "--device", "cuda", code=3, says="no CUDA GPU is available")
    CASES["run every gpu without a gpu"] = bad("run", "--device", "cuda:all", code=3, says="no CUDA GPU is available")


# -- the workspace and what "unchanged" means --------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Results a user already has: a run, a baseline, a history store and a report (all real)."""
    ws = tmp_path_factory.mktemp("template")
    results = ws / "results"
    shutil.copytree(FIXTURE, results / "runs" / "good")
    shutil.copytree(FIXTURE, results / "baseline")
    history.append(results / "history.sqlite", results / "runs" / "good")
    build([results / "runs" / "good"], results / "report")
    return ws


@pytest.fixture
def workspace(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    shutil.copytree(template, ws)
    monkeypatch.chdir(ws)
    monkeypatch.delenv("BENCH_RESULTS", raising=False)
    return ws


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its content's digest, and every folder with its mode."""
    folders = {str(p.relative_to(root)): f"folder {p.stat().st_mode:o}" for p in root.rglob("*") if p.is_dir()}
    return {**soak.snapshot(root), **folders}


def assert_one_clean_line(code: int, err: str, out: str, expected: Bad) -> None:
    assert code == expected.code, err
    assert len(err.strip().splitlines()) == 1, err
    assert expected.message in err, err
    assert "Traceback" not in err + out


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input(workspace: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    case = CASES[name]
    if case.setup:
        case.setup(workspace)
    before = snapshot(workspace)
    try:
        code = main(case.command(workspace))
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    assert_one_clean_line(code, err, out, case)
    assert snapshot(workspace) == before, "a bad input changed or added files"


def at_most_8_gib() -> None:
    """A child that reads without end stops at 8 GiB of address space instead of filling the machine."""
    resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_record_that_is_not_a_regular_file_is_refused_without_reading_it(workspace: Path, special: str) -> None:
    """A FIFO would block a plain open() for ever; /dev/zero reports size 0 and never ends."""
    folder = workspace / "special"
    folder.mkdir()
    if special == "fifo":
        os.mkfifo(folder / "benchmark.json")
    else:
        (folder / "benchmark.json").symlink_to(special)
    for argv in (["show", str(folder)], ["compare", str(folder), str(FIXTURE)]):
        done = run_python("-m", "bench", *argv, cwd=workspace, timeout=60, preexec_fn=at_most_8_gib)
        assert done.returncode == 2 and "not a regular file" in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_the_matrix_is_wide() -> None:
    commands = {case.argv[0] for case in CASES.values() if case.argv}
    assert len(CASES) >= 25
    assert commands >= {"list", "run", "ddp", "show", "report", "compare", "history", "reproduce", "overhead"}


# -- in separate processes, as nox and pytest run them ----------------------------------------------


@pytest.mark.slow
def test_a_real_process_prints_one_line_and_no_traceback(workspace: Path) -> None:
    done = run_python("-m", "bench", "run", "--workload", "mm", "--param", "n=-1", cwd=workspace)
    assert done.returncode == 2
    assert done.stderr.strip() == "bench: error: parameter n must be >= 1, got -1"


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--rounds", "2"], "--rounds: value must be >= 3, got 2"), (["--save", "nowhere/x.json"], "no folder nowhere")],
)
def test_detector_refuses_bad_options_in_one_line(capsys, argv: list[str], message: str) -> None:
    """``nox -s detector`` runs ``python -m tools.detector``."""
    with pytest.raises(SystemExit) as exit_:
        detector_main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and len(err.splitlines()) == 1


@pytest.mark.slow
def test_pytest_entry_point_refuses_bad_options(workspace: Path) -> None:
    """The suite run straight through pytest (as docs/usage.md shows): pytest's own usage-error code, 4."""
    before = snapshot(workspace)
    done = run_python(
        "-m", "pytest", str(ROOT / "bench" / "suite"), "-p", "no:cacheprovider", "--bench-workload=nope", cwd=workspace
    )
    assert done.returncode == 4
    assert "unknown workload 'nope'" in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert snapshot(workspace) == before


NOX = [
    (["-s", "compare", "--", "only-one"], "compare: name the baseline and current runs"),
    (["-s", "report"], "report: name the run folders"),
    (["-s", "bench-cpu", "--", "--workload", "nope"], "bench: error: unknown workload 'nope'"),
    (["-s", "reproduce", "--", "--epochs", "zero"], "value expects an integer, got 'zero'"),
    (["-s", "ab", "--", "--rev"], "ab: --rev needs a value"),
    (["-s", "ab", "--", "--rev", "HEAD", "--rev", "HEAD", "--image", "x"], "ab: at most two sides"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "message"), NOX, ids=[" ".join(a) for a, _ in NOX])
def test_nox_sessions_fail_with_the_reason(workspace: Path, argv: list[str], message: str) -> None:
    """nox's own exit code for a failed session is 1; the suite's line, and its code, show through."""
    pytest.importorskip("nox", reason="nox is not installed here")
    before = snapshot(workspace)
    python_first = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"  # nox runs "python"
    done = run_python(
        "-m",
        "nox",
        "--no-venv",
        "--no-install",
        "-f",
        str(ROOT / "noxfile.py"),
        *argv,
        cwd=workspace,
        timeout=300,
        env={"PATH": python_first},
    )
    output = done.stdout + done.stderr  # nox passes its commands' output on to its stdout
    assert done.returncode == 1, output
    assert message in output and "Traceback" not in output
    if "bench: error" in message:
        assert "failed with exit code 2" in output
    assert snapshot(workspace) == before


# -- a full disk ------------------------------------------------------------------------------------


def small_files(limit: int) -> Callable[[], None]:
    """For a child process: files may grow to ``limit`` bytes; past it a write fails (EFBIG), as on a full disk."""

    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
def test_a_run_whose_record_cannot_be_written_leaves_nothing_half_written(workspace: Path) -> None:
    """The command and environment files fit; the record (tens of KB of per-round times) does not."""
    before = snapshot(workspace)
    done = run_python(
        "-m",
        "bench",
        "run",
        "--quick",
        "--workload",
        "diagonal",
        "--max-time",
        "0.3",
        "--out",
        str(workspace / "results" / "runs"),
        "--",
        "-q",
        cwd=workspace,
        preexec_fn=small_files(16 * 1024),
    )
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("bench:")]
    assert len(errors) == 1 and "cannot write the run record" in errors[0] and "File too large" in errors[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert snapshot(workspace) == before


@pytest.fixture
def full_disk(workspace: Path) -> Iterator[Path]:
    """A tiny tmpfs holding an earlier run and report, with every byte of it then used."""
    disk = workspace / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the size-limit test covers the write path")
    try:
        shutil.copytree(workspace / "results" / "runs" / "good", disk / "runs" / "good")
        shutil.copytree(workspace / "results" / "report", disk / "report")
        with (disk / "filler").open("wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError:
                pass  # the disk is full
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--quick", "--workload", "diagonal", "--out", "{disk}/runs"],
        ["report", "{disk}/runs/good", "--out", "{disk}/report"],
        ["history", "append", "{disk}/runs/good", "--db", "{disk}/history.sqlite"],
    ],
    ids=["run", "report", "history"],
)
def test_a_full_disk_is_one_line_and_changes_nothing(full_disk: Path, argv: list[str]) -> None:
    before = snapshot(full_disk)
    done = run_python("-m", "bench", *[a.format(disk=full_disk) for a in argv], cwd=full_disk.parent)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("bench:")]
    assert len(errors) == 1 and ("No space left on device" in errors[0] or "disk is full" in errors[0]), done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    after = snapshot(full_disk)
    assert after == before
