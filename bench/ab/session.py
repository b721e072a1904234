"""Drive a head-to-head: pairs of fresh workers, each case built alike on both sides, then timed in
short blocks of rounds that alternate between the sides in a random balanced order.

For every worker pair (started afresh, the side started first alternating), for every case both
sides build: the first pair's baseline worker calibrates the calls per round, and every worker
then uses that count. Blocks then run in quads whose order is ABBA or BAAB at random, until the
case's time for this pair is spent (at least ``min_quads``). A worker that dies fails its case
with one line; the pair is started again for the next case. Ctrl-C or SIGTERM stop the workers
and keep what was measured, marked partial. Progress goes a step (a case in a worker pair) at a
time: the live line on a terminal, a line per step in a pipe (:mod:`bench.progress`).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import random
import select
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench import signals
from bench.ab.paired import judge_pairs, log_ratios
from bench.ab.sides import Side
from bench.compare import Thresholds
from bench.errors import BenchError, UsageError
from bench.labels import labels_by_id
from bench.progress import Progress, Terminal

ANSWER_TIMEOUT_S = 600.0  # one build, calibration or block; past it the worker counts as hung


class WorkerDied(BenchError):
    """A worker exited, hung or broke the protocol: its case fails, the rest go on."""


class CaseError(BenchError):
    """A worker could not build or time a case (the workload raised)."""


class Worker:
    """One side's worker process and its pipe."""

    started = itertools.count()

    def __init__(self, side: Side, role: str, scratch: Path, cpus: list[int] | None, targets: list[str]) -> None:
        self.side, self.role = side, role
        self.name = f"bench-ab-{os.getpid()}-{role}-{next(Worker.started)}"  # an image side's container
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the worker
            "w+", dir=scratch, prefix=f"{role}-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(
            side.command(self.name, cpus, targets),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=side.env(cpus),
            cwd=side.workdir,
            text=True,
            start_new_session=True,
        )

    def ask(self, op: str, **fields: Any) -> dict[str, Any]:
        """Send one request and wait for its answer."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps({"op": op, **fields}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self._death()) from None
        ready, _, _ = select.select([self.process.stdout], [], [], ANSWER_TIMEOUT_S)
        line = self.process.stdout.readline() if ready else ""
        if not line:
            raise WorkerDied(self._death(hung=not ready))
        answer = json.loads(line)
        if "error" in answer:
            raise CaseError(answer["error"])
        return answer

    def _death(self, hung: bool = False) -> str:
        if hung:
            self.kill()
        code = self.process.wait()
        self.log.seek(0)
        lines = [line.strip() for line in self.log.read().splitlines() if line.strip()]
        why = "hung (no answer)" if hung else f"exited with code {code}"
        return f"{self.side.spec} worker {why}" + (f": {lines[-1][:200]}" if lines else "")

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.side.stop(self.name)

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):  # a worker that died on its own is waited for below
                assert self.process.stdin is not None
                self.process.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


@dataclass
class Plan:
    """What both sides measure, and how."""

    settings: str  # RunSettings, encoded as the workers read it
    targets: list[str]
    selection: dict[str, Any]  # workloads, families, tags, dtypes, size (the workers' plan request)
    keep: Callable[[dict[str, Any]], bool]  # a further filter on the planned cases (-k, -m)
    policy: dict[str, Any]  # RoundPolicy's fields: calibration
    pairs: int = 3
    case_time: float = 0.5  # seconds of blocks per case and worker pair
    block_rounds: int = 5
    min_quads: int = 1  # a training case (one run a block) may not fit more in its time
    seed: int = 0  # of the block orders
    # CPUs the workers pin themselves to, pair by pair in rotation: both workers of a pair on the same
    # ones, so that what one core suffers (other tenants, interrupts) falls on both sides alike
    affinity: list[list[int]] = field(default_factory=list)


@dataclass
class CaseOutcome:
    """One case's blocks, by worker pair; then its ratio and verdict."""

    id: str
    family: str
    workload: str
    iterations: int | None = None
    pairs: list[dict[str, Any]] = field(
        default_factory=list
    )  # {"orders": [...], "baseline": [...], "candidate": [...]}
    digests: dict[str, str | None] = field(default_factory=dict)
    error: str | None = None
    ratio: float = math.nan
    low: float = math.nan
    high: float = math.nan
    effect: float = math.nan
    verdict: str = "inconclusive"

    def record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "family": self.family,
            "workload": self.workload,
            "iterations": self.iterations,
            "pairs": self.pairs,
            "digests": self.digests,
            "error": self.error,
            "ratio": _finite(self.ratio),
            "low": _finite(self.low),
            "high": _finite(self.high),
            "effect": _finite(self.effect),
            "verdict": self.verdict,
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


@dataclass
class Outcome:
    sides: list[Side]
    cases: list[CaseOutcome]
    only_baseline: list[str]
    only_candidate: list[str]
    partial: bool = False
    interrupted_by: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # start-up, calibration, blocks


class Session:
    """One head-to-head, from the sides' workers to every case's verdict."""

    def __init__(self, sides: Sequence[Side], plan: Plan, scratch: Path, out: Terminal) -> None:
        """``out``: where the progress goes, a step (a case in a worker pair) at a time."""
        self.sides, self.plan, self.scratch, self.out = list(sides), plan, scratch, out
        self.order = random.Random(plan.seed)
        self.seconds = {"start-up": 0.0, "build and calibration": 0.0, "blocks": 0.0}

    def _start(self, pair: int) -> list[Worker]:
        """A fresh pair, the side started first alternating; each says hello and plans the cases."""
        roles = [("baseline", 0), ("candidate", 1)]
        if pair % 2:
            roles.reverse()
        workers: dict[int, Worker] = {}
        try:
            cpus = self.plan.affinity[pair % len(self.plan.affinity)] if self.plan.affinity else None
            for role, index in roles:
                workers[index] = Worker(self.sides[index], role, self.scratch, cpus, self.plan.targets)
            for index in (0, 1):
                try:
                    hello = workers[index].ask("hello", settings=self.plan.settings, targets=self.plan.targets)
                except BenchError as error:
                    raise UsageError(f"side {self.sides[index].spec} cannot load: {error}") from None
                self.sides[index].about = hello
        except BaseException:
            for worker in workers.values():
                worker.kill()
            raise
        return [workers[0], workers[1]]

    def _plans(self, workers: list[Worker]) -> list[list[dict[str, Any]]]:
        plans = []
        for side, worker in zip(self.sides, workers, strict=True):
            try:
                cases = worker.ask("plan", **self.plan.selection)["cases"]
            except BenchError as error:
                raise UsageError(f"side {side.spec}: {error}") from None
            plans.append([c for c in cases if self.plan.keep(c)])
        return plans

    def run(self) -> Outcome:
        started, outcome = time.perf_counter(), None
        workers = self._start(0)
        self.seconds["start-up"] += time.perf_counter() - started
        try:
            guard(self.sides)
            baseline, candidate = self._plans(workers)
            theirs = {c["id"] for c in candidate}
            common = [CaseOutcome(c["id"], c["family"], c["workload"]) for c in baseline if c["id"] in theirs]
            ours = {c["id"] for c in baseline}
            outcome = Outcome(self.sides, common, sorted(ours - theirs), sorted(theirs - ours))
            if not common:
                raise UsageError("no case is selected on both sides")
            progress = Progress(self._labels(common), self.out, unit="steps")
            signals.arm()
            try:
                for pair in range(self.plan.pairs):
                    if pair:
                        workers = self._replace(workers, pair)
                    for number, case in enumerate(common):
                        step = pair * len(common) + number
                        progress.start(step)
                        workers = self._measure(case, workers, pair)
                        progress.finish(step, _how_it_went(case))
            except KeyboardInterrupt:
                outcome.partial = True
                outcome.interrupted_by = (signals.received or ["KeyboardInterrupt"])[0]
            finally:
                signals.defer()
                progress.close()
        finally:
            for worker in workers:  # stopped by a signal or an error: no goodbyes
                worker.close() if outcome is not None and not outcome.partial else worker.kill()
        outcome.seconds = dict(self.seconds)
        return outcome

    def _labels(self, common: list[CaseOutcome]) -> list[str]:
        """Each step's label: the case's short label among the cases (the plans give ids only, so
        variants keep their names: ``mm[op=matmul]``), the worker pair and the case's place in it."""
        named = labels_by_id([case.id for case in common])
        short = [named[case.id] for case in common]
        return [
            f"{label} pair {pair}/{self.plan.pairs} case {number}/{len(common)}"
            for pair in range(1, self.plan.pairs + 1)
            for number, label in enumerate(short, 1)
        ]

    def _replace(self, workers: list[Worker], pair: int, dead: bool = False) -> list[Worker]:
        """A fresh pair in place of ``workers``: asked to exit, or killed when one of them died."""
        started = time.perf_counter()
        for worker in workers:
            if dead:
                worker.kill()
            worker.close()
        fresh = self._start(pair)
        self._plans(fresh)  # each worker holds the cases it may be asked to build
        self.seconds["start-up"] += time.perf_counter() - started  # stopping the old pair included
        return fresh

    def _measure(self, case: CaseOutcome, workers: list[Worker], pair: int) -> list[Worker]:
        """Build ``case`` on both sides and time its blocks; on a dead worker, fail it and start a new pair."""
        if case.error is not None:
            return workers
        try:
            started = time.perf_counter()
            for role, worker in zip(("baseline", "candidate"), workers, strict=True):
                built = worker.ask("build", case=case.id, iterations=case.iterations, policy=self.plan.policy)
                case.iterations = built["iterations"]
                case.digests.setdefault(role, built["result_sha256"])
            self.seconds["build and calibration"] += time.perf_counter() - started
            started = time.perf_counter()
            case.pairs.append(self._blocks(workers))
            self.seconds["blocks"] += time.perf_counter() - started
        except CaseError as error:
            case.error = str(error)
        except WorkerDied as error:
            case.error = str(error)
            return self._replace(workers, pair, dead=True)
        return workers

    def _blocks(self, workers: list[Worker]) -> dict[str, Any]:
        """Quads of blocks, ABBA or BAAB at random, until this pair's time for the case is spent."""
        blocks: dict[str, Any] = {"orders": [], "baseline": [], "candidate": []}
        deadline = time.perf_counter() + self.plan.case_time
        while len(blocks["orders"]) < self.plan.min_quads or time.perf_counter() < deadline:
            order = self.order.choice(("ABBA", "BAAB"))
            times: dict[str, list[float]] = {"A": [], "B": []}
            for letter in order:
                worker = workers[0 if letter == "A" else 1]
                per_call = worker.ask("rounds", count=self.plan.block_rounds)["per_call_s"]
                times[letter].append(statistics.median(per_call))
            blocks["orders"].append(order)
            blocks["baseline"] += times["A"]
            blocks["candidate"] += times["B"]
        return blocks


def _how_it_went(case: CaseOutcome) -> str:
    """A step's outcome: the ratio of this pair's block medians (a glimpse; the verdict comes from
    every block pair), or why the case failed."""
    if case.error is not None:
        return f"FAILED: {case.error}"
    blocks = case.pairs[-1]
    ratio = statistics.median(blocks["candidate"]) / statistics.median(blocks["baseline"])
    return f"{len(blocks['orders'])} quads, candidate/baseline {ratio:.3f}"


def guard(sides: Sequence[Side]) -> None:
    """Refuse sides that do not run on the same hardware (an image can see other CPUs or GPUs)."""
    keys = ("cpu", "cpus", "gpus")
    first, second = ({key: side.about.get(key) for key in keys} for side in sides)
    differ = [f"{key}: {first[key]!r} vs {second[key]!r}" for key in keys if first[key] != second[key]]
    if differ:
        raise UsageError(f"the sides run on different hardware ({'; '.join(differ)}): not comparable")


def judge(outcome: Outcome, thresholds: Thresholds) -> None:
    """Each case's ratio candidate / baseline, interval and verdict, from its block pairs."""
    rng = np.random.default_rng(0)
    for case in outcome.cases:
        if case.error is not None or not case.pairs:
            continue
        groups = [log_ratios(p["baseline"], p["candidate"]) for p in case.pairs]
        case.effect = thresholds.effect(case.family)
        case.ratio, case.low, case.high, case.verdict = judge_pairs(groups, case.effect, thresholds.confidence, rng)
