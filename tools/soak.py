"""``python -m tools.soak``: many quick real runs, some stopped by a signal at a random moment, each
checked against what docs/reliability.md promises about interruptions; the tests pick their moments, a soak
lets chance pick them.

Each run gets one fate from a seeded (so reproducible) schedule: finish undisturbed, or SIGINT,
SIGTERM or SIGKILL a random delay after one of three moments (the process starting, its cases
starting, its last case ending), so signals land in start-up, among the cases and in the final
write. After each run that left a record, ``bench history append`` adds it to a store beside the
runs; a third of those appends are SIGKILLed too.

Exit codes: 0 no invariant violated, 1 a violation, 2 bad arguments.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from collections.abc import Collection, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bench
from bench import runs
from bench.arguments import OneLineParser, positive_int
from bench.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, BenchError, UsageError
from bench.record import RunRecord
from bench.runs import BENCHMARK_JSON

ROOT = Path(bench.__file__).parents[1]  # first on the children's path: they run this checkout
# 23 smoke cases of BLAS, linalg and shape ops, each timed for 0.2 s, so that the cases take about
# 5.5 s however fast the machine (one undisturbed run: about 13 s here, with start-up, the record
# and the exit): a signal mid-run finds several cases done.
SELECTION = ("--family", "matrix", "--max-time", "0.2")
# The moments a signal's delay counts from: the output line that marks each (None: the process
# start) and the longest delay after it, sized to the default selection's timeline above.
ANCHORS: dict[str, tuple[str | None, float]] = {
    "spawn": (None, 4.0),
    "started": (" cases on ", 7.0),  # `bench: N cases on cpu (smoke) -> RUN_DIR`
    "finishing": ("[100%]", 1.5),  # pytest's progress after the last case: the record is written next
}
ANCHOR_WEIGHTS = (1, 2, 1)
FATES = ("finish", "SIGINT", "SIGTERM", "SIGKILL")
APPEND_KILL_SHARE, APPEND_KILL_MAX_S = 1 / 3, 0.6  # an append takes about 0.4 s here
STORE = "history.sqlite"
TRACEBACK = "Traceback (most recent call last)"
EXIT_KILLED = -signal.SIGKILL


@dataclass(frozen=True)
class Fate:
    """What happens to one run: a signal (None: it is left to finish) ``delay`` seconds after
    ``anchor``, and the delay after which its history append is SIGKILLed (None: it is not)."""

    signal: str | None
    anchor: str = "spawn"
    delay: float = 0.0
    append_kill: float | None = None

    @property
    def name(self) -> str:
        return self.signal or "finish"

    @property
    def run(self) -> str:
        return f"{self.signal} {self.anchor}+{self.delay:.2f}s" if self.signal else "finish"

    def __str__(self) -> str:
        return self.run + ("" if self.append_kill is None else f", append SIGKILL +{self.append_kill:.2f}s")


def schedule(count: int, seed: int) -> list[Fate]:
    """``count`` fates from ``seed``; every run draws the same values whatever its fate, so the
    first runs of a longer schedule are those of a shorter one."""
    rng, fates = random.Random(seed), []
    for _ in range(count):
        name = rng.choice(FATES)
        anchor = rng.choices(list(ANCHORS), weights=ANCHOR_WEIGHTS)[0]
        delay = round(rng.uniform(0, ANCHORS[anchor][1]), 2)
        kill = round(rng.uniform(0, APPEND_KILL_MAX_S), 2) if rng.random() < APPEND_KILL_SHARE else None
        fates.append(Fate(None if name == "finish" else name, anchor, delay, kill))
    return fates


@dataclass(frozen=True)
class Process:
    """A child's end: exit code (None: still running at the timeout, then killed), whether the
    signal was sent while it still ran, and its output."""

    code: int | None
    delivered: bool
    stdout: str
    stderr: str


Rows = frozenset[tuple[Any, ...]]  # a history store's contents, as store_rows reads them


def child_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}  # unbuffered: anchors seen on time


def drive(argv: Sequence[str], sent: str | None, anchor: str, delay: float, timeout: float) -> Process:
    """Run ``python argv``; send signal ``sent`` ``delay`` s after ``anchor`` if it still runs then."""
    marker = ANCHORS[anchor][0] if sent else None
    seen, lines = threading.Event(), {"stdout": [], "stderr": []}
    if marker is None:
        seen.set()
    child = subprocess.Popen(
        [sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env()
    )

    def read(stream: Any, kept: list[str]) -> None:  # drains the pipe, so the child never blocks on it
        for line in stream:
            kept.append(line)
            if marker is not None and marker in line:
                seen.set()

    readers = [threading.Thread(target=read, args=(getattr(child, n), lines[n]), daemon=True) for n in lines]
    for reader in readers:
        reader.start()
    deadline, delivered, code = time.monotonic() + timeout, False, None
    try:
        if sent:
            while not seen.wait(0.02) and child.poll() is None and time.monotonic() < deadline:
                pass
            time.sleep(delay)
            if child.poll() is None:
                child.send_signal(signal.Signals[sent])
                delivered = True
        code = child.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    finally:  # a hung child, or the soak itself stopped: leave nothing running
        if child.poll() is None:
            child.kill()
            child.wait()
    for reader in readers:
        reader.join()
    return Process(code, delivered, "".join(lines["stdout"]), "".join(lines["stderr"]))


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path) with its sha256 (read in chunks: files may be huge)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb") as f:
                found[str(path.relative_to(folder))] = hashlib.file_digest(f, "sha256").hexdigest()
    return found


def is_temporary(name: str) -> bool:
    """A name only a write in progress has: ``.benchmark.json.partial``, write_atomic's
    ``.NAME.XXXX.tmp``, SQLite's ``-journal``/``-wal``/``-shm`` beside a store."""
    return name.startswith(".") or name.endswith((".tmp", ".partial", "-journal", "-wal", "-shm"))


def check_folder(
    folder: Path, before: dict[str, str], after: dict[str, str], may_change: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """After one step: the violations (an earlier file changed or gone, except ``may_change``; a
    record or JSON file that does not load) and the temporary files the step left."""
    problems = [
        f"{name}: {'changed' if name in after else 'gone'}"
        for name, digest in before.items()
        if name not in may_change and after.get(name) != digest
    ]
    for name in after:
        path = folder / name
        if is_temporary(path.name) or path.suffix != ".json":
            continue
        try:
            RunRecord.from_json(path) if path.name == BENCHMARK_JSON else runs.read_json(path)
        except BenchError as error:
            problems.append(str(error))
    return problems, sorted(n for n in after if n not in before and is_temporary(Path(n).name))


def record_of(run_dir: Path | None) -> tuple[str, RunRecord | None]:
    """The run folder's record and its state: no-folder, no-record, unreadable, partial or complete."""
    if run_dir is None:
        return "no-folder", None
    if not (run_dir / BENCHMARK_JSON).exists():
        return "no-record", None
    try:
        record = RunRecord.from_json(run_dir)
    except BenchError:
        return "unreadable", None  # check_folder reports it
    return ("partial" if record.partial else "complete"), record


def judge_run(fate: Fate, process: Process, state: str, record: RunRecord | None) -> list[str]:
    """What a run with this fate, end and record breaks of docs/reliability.md's promises."""
    if process.code is None:
        return ["still running at the timeout (killed)"]
    problems = []
    if state == "complete" or not process.delivered:  # finished before the signal, or none was sent
        expected = {EXIT_OK, EXIT_FAILED} | ({EXIT_KILLED} if fate.signal == "SIGKILL" else set())
    else:
        expected = {EXIT_KILLED if fate.signal == "SIGKILL" else EXIT_INTERRUPTED}
    if process.code not in expected:
        problems.append(f"exit {process.code}, expected {' or '.join(map(str, sorted(expected)))}")
    if not process.delivered and state != "complete":
        problems.append(f"ended undisturbed with {state} instead of a complete record")
    interrupted_by = record.interrupted_by if record else None
    if state == "partial" and interrupted_by != fate.signal:
        problems.append(f"marked partial, interrupted_by {interrupted_by!r}, sent {fate.signal}")
    if state == "complete" and record and len(record.cases) + len(record.failed) < (record.cases_planned or 0):
        problems.append(f"not marked partial, but holds {len(record.cases)} of {record.cases_planned}")
    if fate.signal != "SIGKILL" and TRACEBACK in process.stderr:
        problems.append(f"traceback on stderr ({process.stderr.strip().splitlines()[-1]})")
    return problems


def store_rows(store: Path) -> tuple[Rows, str]:
    """The store's run and result rows, and SQLite's integrity verdict. Opening it rolls back a
    transaction a killed append left open, as any later reader's open would."""
    if not store.exists():
        return frozenset(), "ok"
    with closing(sqlite3.connect(store)) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        rows = set()
        if "runs" in tables:
            rows |= {("run", *r) for r in connection.execute("SELECT run_id, record_sha256 FROM runs")}
        if "results" in tables:
            rows |= {("result", *r) for r in connection.execute("SELECT run_id, case_id, samples FROM results")}
        return frozenset(rows), connection.execute("PRAGMA integrity_check").fetchone()[0]


def judge_append(
    process: Process, run_dir: Path, record: RunRecord, before: Rows, after: Rows, integrity: str
) -> list[str]:
    """What an append broke: earlier rows lost, a half-appended run, an exit code that disagrees
    with what the store shows, a damaged store."""
    if process.code is None:
        return ["append still running at the timeout (killed)"]
    results = sum(1 for case in record.cases if case.timing.samples)
    whole = 1 + results if results else 0  # the run's row and its results; a run without any is refused
    added = after - before
    problems = [f"store integrity_check: {integrity}"] if integrity != "ok" else []
    if before - after:
        problems.append(f"{len(before - after)} earlier rows of the store lost")
    if any(row[1] != run_dir.name for row in added):
        problems.append("rows of another run appeared in the store")
    if len(added) not in (0, whole):
        problems.append(f"half an append: {len(added)} of {whole} rows")
    if process.delivered and process.code not in (EXIT_KILLED, EXIT_OK):
        problems.append(f"killed append exited {process.code}")
    if not process.delivered and process.code != (EXIT_OK if whole else EXIT_USAGE):
        problems.append(f"append exit {process.code}, expected {EXIT_OK if whole else EXIT_USAGE}")
    if process.code == EXIT_OK and len(added) != whole:
        problems.append(f"append exit 0 but {len(added)} of {whole} rows in the store")
    if not process.delivered and TRACEBACK in process.stderr:
        problems.append(f"append traceback on stderr ({process.stderr.strip().splitlines()[-1]})")
    return problems


def left_behind(step: str, killed: bool, temporary: list[str]) -> list[str]:
    """Temporary files are a violation unless a SIGKILL landed (``killed``): it may stop a write midway."""
    return [f"{step} left temporary files: {', '.join(temporary)}"] if temporary and not killed else []


def evidence(process: Process, problems: list[str]) -> dict[str, str]:
    """The end of a violating step's output, kept in the summary for whoever looks into it."""
    return {"stdout_tail": process.stdout[-2000:], "stderr_tail": process.stderr[-6000:]} if problems else {}


def append_step(out: Path, run_dir: Path, record: RunRecord, kill: float | None, timeout: float) -> dict[str, Any]:
    """``bench history append`` of the run into the soak's store, SIGKILLed after ``kill`` s if given."""
    store = out / STORE
    before, (rows_before, _) = snapshot(out), store_rows(store)
    argv = ["-m", "bench", "history", "append", str(run_dir), "--db", str(store)]
    process = drive(argv, None if kill is None else "SIGKILL", "spawn", kill or 0.0, timeout)
    problems, temporary = check_folder(out, before, snapshot(out), may_change={STORE, f"{STORE}-journal"})
    rows_after, integrity = store_rows(store)
    problems += left_behind("append", process.delivered, temporary)
    problems += judge_append(process, run_dir, record, rows_before, rows_after, integrity)
    return {
        "kill_after": kill,
        "delivered": process.delivered,
        "exit": process.code,
        "rows_added": len(rows_after - rows_before),
        "temporary": temporary,
        "violations": problems,
        **evidence(process, problems),
    }


def run_step(index: int, fate: Fate, out: Path, selection: Sequence[str], timeout: float) -> dict[str, Any]:
    """One run with its fate, checked; then its history append, checked."""
    runs_dir = out / "runs"
    runs_dir.mkdir(exist_ok=True)
    before, existing = snapshot(out), set(runs_dir.iterdir())
    argv = ["-m", "bench", "run", "--quick", "--out", str(runs_dir), *selection]
    process = drive(argv, fate.signal, fate.anchor, fate.delay, timeout)
    made = sorted(set(runs_dir.iterdir()) - existing)
    run_dir = made[0] if made else None
    state, record = record_of(run_dir)
    problems, temporary = check_folder(out, before, snapshot(out))
    problems += left_behind("run", process.delivered and fate.signal == "SIGKILL", temporary)
    problems += judge_run(fate, process, state, record)
    problems += [f"{len(made)} run folders from one run"] if len(made) > 1 else []
    cases = None if record is None else f"{len(record.cases)}/{record.cases_planned}"
    append = None if record is None else append_step(out, run_dir, record, fate.append_kill, timeout)
    return {
        "run": index,
        **asdict(fate),
        "fate": fate.name,
        "delivered": process.delivered,
        "exit": process.code,
        "record": state,
        "cases": cases,
        "run_dir": run_dir.name if run_dir else None,
        "temporary": temporary,
        "violations": problems,
        **evidence(process, problems),
        "append": append,
    }


def line(result: dict[str, Any], fate: Fate, total: int) -> str:
    """One run as a line: fate, exit code, record, append, verdict."""
    append = result["append"]
    appended = "-" if append is None else f"{'killed, ' if append['delivered'] else ''}exit {append['exit']}"
    landed = "" if result["delivered"] or fate.signal is None else " (ended first)"
    problems = result["violations"] + (append["violations"] if append else [])
    verdict = "ok" if not problems else "VIOLATION: " + "; ".join(problems)
    record = f"{result['record']} {result['cases'] or ''}"
    return (
        f"{result['run']:>3}/{total}  {fate.run + landed:<30} "
        f"exit {result['exit']!s:>4}  {record:<16} append {appended:<14} {verdict}"
    )


def table(results: list[dict[str, Any]]) -> str:
    """Counts per fate (and for the appends): runs, signals that landed, exit codes, records (rows
    added), temporary files left, violations."""

    def counts(values: list[Any]) -> str:
        return ", ".join(f"{v} ({n})" for v, n in sorted(Counter(values).items(), key=lambda i: str(i[0]))) or "-"

    appends = [r["append"] for r in results if r["append"]]
    groups = [(name, [r for r in results if r["fate"] == name]) for name in FATES]
    groups += [
        ("append", [a for a in appends if a["kill_after"] is None]),
        ("append+SIGKILL", [a for a in appends if a["kill_after"] is not None]),
    ]
    rows = [("fate", "runs", "landed", "exit codes", "records (rows)", "temporary files", "violations")]
    for name, group in groups:
        outcomes = [g["record"] if "record" in g else "added" if g["rows_added"] else "none" for g in group]
        rows.append(
            (
                name,
                str(len(group)),
                str(sum(g["delivered"] for g in group)),
                counts([g["exit"] for g in group]),
                counts(outcomes),
                counts([Path(t).name for g in group for t in g["temporary"]]),
                str(sum(len(g["violations"]) for g in group)),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="python -m tools.soak",
        description="quick real runs stopped at random by SIGINT, SIGTERM or SIGKILL, each checked",
        epilog="exit codes: 0 no invariant violated, 1 a violation, 2 bad arguments",
    )
    parser.add_argument("--runs", type=positive_int, default=20, help="runs (default: 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the schedule (default: 0)")
    parser.add_argument("--out", type=Path, help="an empty or new folder (default: $BENCH_RESULTS/soak/<UTC time>)")
    parser.add_argument(
        "--timeout",
        type=positive_int,
        default=300,
        metavar="S",
        help="seconds one process may take before it counts as hung (default: 300)",
    )
    parser.add_argument(
        "bench_args",
        nargs="*",
        metavar="ARGS",
        help=f"after --: bench run's selection (default: {' '.join(SELECTION)}; --quick)",
    )
    return parser


def make_empty(out: Path) -> None:
    """Create ``out``, or accept it empty: every file in it is checked, so none may be there before."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"{out}: {'not empty' if out.is_dir() else 'not a folder'}")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot create {out}: {error.strerror}") from None


def soak(out: Path, fates: list[Fate], selection: Sequence[str], timeout: float) -> list[dict[str, Any]]:
    """Every run of the schedule, each checked and printed as it ends."""
    results = []
    for index, fate in enumerate(fates, 1):
        results.append(run_step(index, fate, out, selection, timeout))
        print(line(results[-1], fate, len(fates)), flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = args.out or runs.results_root() / "soak" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        make_empty(out)
    except BenchError as error:
        print(f"python -m tools.soak: error: {error}", file=sys.stderr)
        return error.exit_code
    # Children inherit an ignored SIGINT (a background job has one) but start with the default action
    # where this process has a handler: so every run starts as from a terminal, and SIGINT reaches it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    fates, selection, started = schedule(args.runs, args.seed), args.bench_args or list(SELECTION), time.monotonic()
    print(f"soak: {args.runs} runs of `bench run --quick {' '.join(selection)}` into {out}, seed {args.seed}:")
    print(
        textwrap.fill(
            "; ".join(f"{i} {f}" for i, f in enumerate(fates, 1)), 110, initial_indent="  ", subsequent_indent="  "
        ),
        flush=True,
    )
    results = soak(out, fates, selection, args.timeout)
    violations = sum(len(r["violations"]) + len(r["append"]["violations"] if r["append"] else []) for r in results)
    wall = time.monotonic() - started
    runs.write_json(
        out / "soak.json",
        {
            "seed": args.seed,
            "selection": selection,
            "wall_s": round(wall, 1),
            "fates": dict(Counter(r["fate"] for r in results)),
            "violations": violations,
            "runs": results,
        },
    )
    print(table(results))
    print(f"soak: {len(results)} runs in {wall:.0f} s, {violations} violations; summary in {out / 'soak.json'}")
    return EXIT_OK if violations == 0 else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
