"""Progress of long work: where it is, how long it has taken, and about when it will end.

On a terminal, one live line rewritten as each case starts, and as a training case reports its
epochs (``[ 12/109] 0:42 elapsed, ~3:10 left: cifar_train[lenet5, tensor] epoch 3/10, acc 41.2%``);
in a pipe or a CI log, one plain line per finished case with its median or its failure, and one per
epoch, so the log reads like a table and holds no control characters. The estimate is the mean time
per finished case so far (a case's finished epochs counting as that share of it) times the cases
left: rough where cases differ much (a training epoch against a pointwise op), and said to be an
estimate (``~``). The same lines serve pytest's terminal reporter (``bench run``, ``reproduce``) and a
plain stream (:class:`Stream`: ``bench ab``).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from typing import Protocol, TextIO

FINISHED = "ran in"  # in the last line (`bench: 3 of 3 cases ran in 0:42`): a run's record is written next
ERASE_LINE = "\x1b[K"  # ANSI: clear from the cursor to the end of the line


class Terminal(Protocol):
    """Where progress goes: what pytest's terminal reporter offers, and a :class:`Stream` too."""

    isatty: bool

    def write_line(self, line: str) -> None: ...

    def rewrite(self, line: str, erase: bool = False) -> None: ...


class Stream:
    """A plain text stream as a :class:`Terminal`, for commands that run without pytest."""

    def __init__(self, stream: TextIO) -> None:
        self.stream, self.isatty = stream, stream.isatty()

    def write_line(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()

    def rewrite(self, line: str, erase: bool = False) -> None:
        """Back to the start of the line (on a terminal), clearing what was there with ``erase``."""
        self.stream.write("\r" + (ERASE_LINE if erase else "") + line)
        self.stream.flush()


def clock(seconds: float) -> str:
    """``seconds`` as h:mm:ss or m:ss."""
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Reports cases by their index in the run (0-based) and short label; ``unit`` names them in the last line."""

    def __init__(self, labels: list[str], out: Terminal, width: int = 120, unit: str = "cases") -> None:
        self.labels, self.out, self.width, self.unit = labels, out, width, unit
        self.started = time.monotonic()
        self.done = 0
        self.current = 0  # the case that started last
        self.within = 0.0  # the share of the current case done, as it reports it

    def _where(self, index: int) -> str:
        total = len(self.labels)
        elapsed = time.monotonic() - self.started
        done = self.done + self.within
        left = f", ~{clock(elapsed / done * (total - done))} left" if done else ""
        return f"[{index + 1:>{len(str(total))}}/{total}] {clock(elapsed)} elapsed{left}"

    def _fit(self, line: str, width: int) -> str:
        return line if len(line) <= width else line[: width - 1] + "…"

    def _live(self, index: int, note: str = "") -> None:
        """Narrower than the terminal: a line that wrapped would not be rewritten, only added to."""
        line = f"{self._where(index)}: {self.labels[index]}" + (f" {note}" if note else "")
        self.out.rewrite(self._fit(line, min(self.width, shutil.get_terminal_size().columns - 1)), erase=True)

    def _plain(self, index: int, note: str) -> None:
        self.out.write_line(self._fit(f"{self._where(index)}  {self.labels[index]}  {note}", self.width))

    def start(self, index: int) -> None:
        self.current, self.within = index, 0.0
        if self.out.isatty:
            self._live(index)

    def step(self, share: float, note: str) -> None:
        """Within the current case: ``share`` of it done (0..1), and what to say (``epoch 3/10, acc 41.2%``)."""
        self.within = min(max(share, 0.0), 1.0)
        (self._live if self.out.isatty else self._plain)(self.current, note)

    def finish(self, index: int, outcome: str) -> None:
        """``outcome``: the case's median, or why it failed."""
        self.done, self.within = self.done + 1, 0.0
        if not self.out.isatty:
            self._plain(index, outcome)

    def close(self) -> None:
        if self.out.isatty:
            self.out.rewrite("", erase=True)
            self.out.rewrite("")  # back to the line's start: pytest's erase leaves the cursor at its end
        elapsed = clock(time.monotonic() - self.started)
        self.out.write_line(f"bench: {self.done} of {len(self.labels)} {self.unit} {FINISHED} {elapsed}")


def run_steps(steps: Sequence[tuple[str, Callable[[], str]]], out: Terminal | None, unit: str = "steps") -> None:
    """Each ``(label, work)`` in turn, with progress on ``out`` (none where it is None); ``work``
    returns what it made, the step's outcome in a pipe."""
    progress = Progress([label for label, _ in steps], out, unit=unit) if out else None
    try:
        for index, (_, work) in enumerate(steps):
            if progress:
                progress.start(index)
            outcome = work()
            if progress:
                progress.finish(index, outcome)
    finally:
        if progress:
            progress.close()
