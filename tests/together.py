"""A worker for the concurrency tests: does one writer's action once per trial, each time released
at the same moment as its peers.

    python tests/together.py ACTION SYNC WORKER TRIALS TARGET [SOURCE]

For each trial it says it is ready (``SYNC/ready-T-W``), waits for the word (``SYNC/go-T``), acts
on ``TARGET`` with its ``SOURCE``, and reports ``SYNC/done-T-W`` holding its exit code and any
error: one process for all trials, so hundreds of trials cost seconds, not interpreter starts.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import runs
from bench.cli import main


def append(target: Path, source: Path) -> int:
    """``bench history append``: the store ``target``, created by whichever comes first."""
    return main(["history", "--db", str(target), "append", str(source)])


def promote(target: Path, source: Path) -> int:
    runs.promote(source, target)
    return 0


def stage(target: Path, source: Path) -> int:
    """A report-like folder of three files, each naming the writer: a mix would show."""
    with runs.staged_folder(target) as staging:
        for name in ("report.md", "results.csv", "plot.png"):
            (staging / name).write_text(source.name * 1000)
    return 0


def run_dir(target: Path, source: Path) -> int:
    """A run folder under ``target``; its name goes to the done file for the parent to compare."""
    print(runs.new_run_dir(target, "cpu-smoke").name)
    return 0


ACTIONS: dict[str, Callable[[Path, Path], int]] = {
    "append": append,
    "promote": promote,
    "stage": stage,
    "run-dir": run_dir,
}


def wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"never released: {path}")
        time.sleep(0.0002)


def work(action: str, sync: Path, worker: str, trials: int, target: str, source: str) -> None:
    act = ACTIONS[action]
    for trial in range(trials):
        (sync / f"ready-{trial}-{worker}").touch()
        wait_for(sync / f"go-{trial}")
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = act(Path(target.format(trial=trial)), Path(source))
        except BaseException:  # noqa: BLE001 - the parent reports any failure with its trace
            code, err = 99, io.StringIO(traceback.format_exc())
        done = sync / f"done-{trial}-{worker}"
        runs.write_atomic(done, f"{code}\n{out.getvalue()}{err.getvalue()}")


if __name__ == "__main__":
    name, sync_dir, worker_id, count, target_path, *rest = sys.argv[1:]
    work(name, Path(sync_dir), worker_id, int(count), target_path, rest[0] if rest else "")
