"""How often ``compare`` cries wolf, and how often it catches a real slowdown, on real timings.

A trial measures three series of rounds: the same work twice (A and A') and the same work with
20 % more of it (B: six matrix products where A does five). The detector then judges A' against
A (any ``slower`` is a false alarm) and B against A (``slower`` is a catch).

Interleaved (the default), each round times A, A' and B back to back in a random order, so the
machine's drift over seconds falls on all three alike: the rates then are the detector's own.
Sequential, each series is a block of rounds after the other, as two CI runs are; on a shared
machine whose speed wanders over seconds, that drift is measured too.

    python -m tools.detector [--sequential]          # record 100 trials here and print the rates
    python -m tools.detector --save FILE            # and keep the recording (tests replay one)
"""

from __future__ import annotations

import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.arguments import OneLineParser, at_least, positive_int
from bench.compare import CONFIDENCE, DEFAULT_EFFECT, judge
from bench.errors import EXIT_OK, EXIT_USAGE
from bench.runs import write_json

SIZE = 160  # matrix side: one product takes a fraction of a millisecond on a small CPU
BASE_PRODUCTS, SLOWER_PRODUCTS = 5, 6  # 20 % more real work
CALLS_PER_ROUND = 40  # a round of about 10 ms on a small CPU: the harness's shortest rounds


def _rounds(call: Callable[[], object], count: int) -> list[float]:
    """Per-call seconds of ``count`` rounds of CALLS_PER_ROUND calls, as the harness records them."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        for _ in range(CALLS_PER_ROUND):
            call()
        times.append((time.perf_counter() - start) / CALLS_PER_ROUND)
    return times


def _interleaved(calls: dict[str, Callable[[], object]], rounds: int, rng: np.random.Generator) -> dict[str, list]:
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name in rng.permutation(list(calls)):
            times[name] += _rounds(calls[name], 1)
    return times


def record(trials: int, rounds: int, interleaved: bool = True, seed: int = 0) -> dict[str, Any]:
    torch.manual_seed(seed)
    a, b = torch.randn(SIZE, SIZE), torch.randn(SIZE, SIZE)
    calls = {
        "baseline": lambda: [a @ b for _ in range(BASE_PRODUCTS)],
        "again": lambda: [a @ b for _ in range(BASE_PRODUCTS)],
        "slower": lambda: [a @ b for _ in range(SLOWER_PRODUCTS)],
    }
    rng = np.random.default_rng(seed)
    recorded = []
    for _ in range(trials):
        if interleaved:
            recorded.append(_interleaved(calls, rounds, rng))
        else:
            order = list(rng.permutation(list(calls)))
            recorded.append({name: _rounds(calls[name], rounds) for name in order})
    return {
        "what": f"{BASE_PRODUCTS} vs {SLOWER_PRODUCTS} products of {SIZE}x{SIZE} float32 matrices per call",
        "design": "interleaved" if interleaved else "sequential",
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} / {platform.processor() or platform.machine()}",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "rounds": rounds,
        "trials": recorded,
    }


@dataclass(frozen=True)
class Rates:
    trials: int
    false_alarms: int  # A/A judged slower
    caught: int  # A/B judged slower

    def __str__(self) -> str:
        return (
            f"{self.trials} trials: A/A flagged slower in {self.false_alarms} "
            f"({self.false_alarms / self.trials:.0%}), +20 % flagged in {self.caught} "
            f"({self.caught / self.trials:.0%})"
        )


def rates(recording: dict[str, Any], effect: float = DEFAULT_EFFECT, confidence: float = CONFIDENCE) -> Rates:
    rng = np.random.default_rng(0)
    trials = recording["trials"]
    verdict = lambda trial, name: judge(trial["baseline"], trial[name], effect, confidence, rng)[3]  # noqa: E731
    return Rates(
        len(trials),
        sum(verdict(t, "again") == "slower" for t in trials),
        sum(verdict(t, "slower") == "slower" for t in trials),
    )


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m tools.detector", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=positive_int, default=100)
    parser.add_argument("--rounds", type=at_least(3), default=25, help="rounds a series (at least 3; default: 25)")
    parser.add_argument("--sequential", action="store_true", help="blocks one after the other, as CI runs are")
    parser.add_argument("--save", type=Path, help="write the recording here (JSON)")
    args = parser.parse_args(argv)
    if args.save and not args.save.parent.is_dir():  # found out now, not after minutes of recording
        parser.error(f"--save: no folder {args.save.parent}")
    recording = record(args.trials, args.rounds, interleaved=not args.sequential)
    if args.save:
        try:
            write_json(args.save, recording)
        except OSError as error:
            print(f"{parser.prog}: error: cannot write {args.save}: {error.strerror}", file=sys.stderr)
            return EXIT_USAGE
    print(
        f"detector on {recording['design']} timings recorded now on {recording['machine']} "
        f"({args.rounds} rounds a series): {rates(recording)}"
    )
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
