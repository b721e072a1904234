"""Progress while a run's cases go: a live line on a terminal, a plain line per case (and epoch) in a pipe."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from processes import ROOT, run_python

from bench.progress import ERASE_LINE, FINISHED, Progress, Stream, clock


class FakeTerminal:
    def __init__(self, isatty: bool) -> None:
        self.isatty = isatty
        self.lines: list[str] = []
        self.live: list[str] = []

    def write_line(self, line: str) -> None:
        self.lines.append(line)

    def rewrite(self, line: str, erase: bool = False) -> None:
        self.live.append(line)


def test_in_a_pipe_one_plain_line_per_finished_case_with_an_estimate() -> None:
    out = FakeTerminal(isatty=False)
    progress = Progress(["mm[n=256]", "mm[n=4096]", "x" * 300], out)
    for index, outcome in enumerate(["12.3 µs", "FAILED: out of memory", "1 s"]):
        progress.start(index)
        progress.finish(index, outcome)
    progress.close()
    assert out.live == []
    assert out.lines[0].startswith("[1/3] 0:00 elapsed, ~0:00 left  mm[n=256]  12.3 µs")
    assert out.lines[1].endswith("mm[n=4096]  FAILED: out of memory")
    assert len(out.lines[2]) == 120 and out.lines[2].endswith("…")
    assert out.lines[3] == f"bench: 3 of 3 cases {FINISHED} 0:00"


def test_on_a_terminal_one_live_line_rewritten_as_each_case_starts() -> None:
    out = FakeTerminal(isatty=True)
    progress = Progress(["a", "b"], out)
    progress.start(0)
    progress.finish(0, "1 ms")
    progress.start(1)
    progress.finish(1, "1 ms")
    progress.close()
    assert out.live == ["[1/2] 0:00 elapsed: a", "[2/2] 0:00 elapsed, ~0:00 left: b", "", ""]
    assert out.lines == [f"bench: 2 of 2 cases {FINISHED} 0:00"]


class Clock:
    """time.monotonic, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hand_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr("bench.progress.time.monotonic", clock)
    return clock


def test_epochs_in_a_pipe_are_plain_lines_and_feed_the_estimate(hand_clock: Clock) -> None:
    out = FakeTerminal(isatty=False)
    progress = Progress(["cifar_train[lenet5]", "cifar_train[resnet18]"], out)
    progress.start(0)
    hand_clock.now += 30
    progress.step(1 / 4, "epoch 1/4, acc 20.0%, loss 2.100")  # a quarter of one case of two in 30 s
    hand_clock.now += 90
    progress.finish(0, "2 min")
    assert out.lines == [
        "[1/2] 0:30 elapsed, ~3:30 left  cifar_train[lenet5]  epoch 1/4, acc 20.0%, loss 2.100",
        "[1/2] 2:00 elapsed, ~2:00 left  cifar_train[lenet5]  2 min",
    ]
    progress.start(1)
    hand_clock.now += 60
    progress.step(1 / 2, "epoch 1/2")
    assert out.lines[-1] == "[2/2] 3:00 elapsed, ~1:00 left  cifar_train[resnet18]  epoch 1/2"


def test_epochs_on_a_terminal_rewrite_the_live_line(hand_clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    out = FakeTerminal(isatty=True)
    progress = Progress(["cifar_train[lenet5, tensor]"], out)
    progress.start(0)
    hand_clock.now += 42
    progress.step(3 / 10, "epoch 3/10, acc 41.2%, loss 1.600")
    monkeypatch.setenv("COLUMNS", "60")
    progress.step(4 / 10, "epoch 4/10, acc 45.0%, loss 1.500")
    assert out.lines == []
    assert out.live[:2] == [
        "[1/1] 0:00 elapsed: cifar_train[lenet5, tensor]",
        "[1/1] 0:42 elapsed, ~1:38 left: cifar_train[lenet5, tensor] epoch 3/10, acc 41.2%, loss 1.600",
    ]
    assert len(out.live[2]) == 59 and out.live[2].endswith("…"), "narrower than the terminal: a wrapped line stays"


class TtyText(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_plain_stream_on_a_terminal_is_rewritten_in_place() -> None:
    text = TtyText()
    progress = Progress(["mm[op=mm] pair 1/1 case 1/2", "mm[op=matmul] pair 1/1 case 2/2"], Stream(text), unit="steps")
    for step in (0, 1):
        progress.start(step)
        progress.finish(step, "1 quads")
    progress.close()
    assert text.getvalue() == (
        f"\r{ERASE_LINE}[1/2] 0:00 elapsed: mm[op=mm] pair 1/1 case 1/2"
        f"\r{ERASE_LINE}[2/2] 0:00 elapsed, ~0:00 left: mm[op=matmul] pair 1/1 case 2/2"
        f"\r{ERASE_LINE}\rbench: 2 of 2 steps {FINISHED} 0:00\n"
    )


def test_a_plain_stream_in_a_pipe_holds_lines_only() -> None:
    text = io.StringIO()
    progress = Progress(["a"], Stream(text), unit="steps")
    progress.start(0)
    progress.finish(0, "FAILED: WorkerDied: gone")
    progress.close()
    assert (
        text.getvalue()
        == f"[1/1] 0:00 elapsed, ~0:00 left  a  FAILED: WorkerDied: gone\nbench: 1 of 1 steps {FINISHED} 0:00\n"
    )


@pytest.mark.parametrize(("seconds", "shown"), [(5, "0:05"), (75, "1:15"), (3725, "1:02:05")])
def test_clock(seconds: float, shown: str) -> None:
    assert clock(seconds) == shown


RUN = ["-m", "bench", "run", "--quick", "--workload", "linalg", "--max-time", "0.02"]


@pytest.mark.slow
def test_a_real_run_on_a_pseudo_terminal_shows_the_live_line(tmp_path: Path) -> None:
    leader, follower = pty.openpty()
    run = subprocess.Popen(
        [sys.executable, *RUN, "--out", str(tmp_path)],
        stdout=follower,
        stderr=follower,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the run ended and closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert run.wait(timeout=120) == 0
    text = seen.decode()
    assert "\r[1/4] " in text and "elapsed, ~" in text and "left: linalg[svd]" in text
    assert f"bench: 4 of 4 cases {FINISHED}" in text


@pytest.mark.slow
def test_a_real_run_in_a_pipe_prints_a_line_per_case(tmp_path: Path) -> None:
    done = run_python(*RUN, "--out", str(tmp_path), cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if line.startswith("[")]
    assert [line.split("  ")[1] for line in lines[:4]] == [
        "linalg[det]",
        "linalg[inverse]",
        "linalg[svd]",
        "linalg[eig]",
    ]
    tables = [line for line in done.stdout.splitlines() if not line.startswith("bench: ")]  # those name paths
    assert "\r" not in done.stdout and max(len(line) for line in tables) <= 120
