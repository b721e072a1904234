"""``python -m tools.ab_rates``: how often ``bench ab`` cries wolf, and how often it catches a real
slowdown, measured live on this machine (``nox -s detector -- --ab`` runs it).

* A/A: ``bench ab current current`` over the selection, ``--repeats`` times: every ``slower``
  verdict is a false alarm.
* A/B: a scratch revision of this checkout whose ``mm``, ``batched_matmul`` and ``linalg`` do
  20 % more real work (every fifth call runs twice), made in a worktree and committed there, off
  every branch; ``bench ab current rev:SCRATCH``, ``--slower-repeats`` times: those cases should
  be ``slower``, the untouched ones stay within the A/A rate. Nothing in the product can slow
  itself on request: the extra work exists only in that scratch commit.

``--sequential`` measures the contrast: the same trials the way without ``ab``, two ``bench run``
one after the other (the scratch's in its worktree) and ``compare``.

Other arguments go to ``bench ab`` or ``bench run`` (default: ``--quick --family matrix --family
layers``). Prints the rates and writes every verdict to ``--save`` (JSON). Exit 0; 2 on bad
arguments.
"""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.arguments import OneLineParser, at_least
from bench.compare import Thresholds, compare
from bench.errors import EXIT_OK
from bench.runs import BENCHMARK_JSON, write_json

ROOT = Path(__file__).parents[1]
SELECTION = ["--quick", "--family", "matrix", "--family", "layers"]
TOUCHED = ("mm", "batched_matmul", "linalg")  # the workloads the scratch slows: 8 cases at --quick
# In the scratch, each of their calls runs the work once more every fifth call: 20 % more real work,
# spread evenly over every round (a round is thousands of calls), whatever the case's size.
RETURNS = (
    "    return lambda: fn(a, b)\n",
    '        return lambda: torch.einsum("bij,bjk->bik", a, b)\n',
    "    return lambda: torch.matmul(a, b)\n",
    "    return lambda: fn(a)\n",
)
HELPER = """

def _more_work(call):  # scratch: one extra run of the work every fifth call
    count = __import__("itertools").count()
    return lambda: call() if next(count) % 5 else (call(), call())[1]
"""


@contextlib.contextmanager
def scratch_revision(folder: Path) -> Iterator[tuple[str, Path]]:
    """A commit of HEAD whose ``TOUCHED`` workloads do 20 % more work, in a throwaway worktree.

    Yields the commit and the worktree (a sequential run of the scratch runs there).
    """
    tree = folder / "scratch"
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", str(tree), "HEAD"], check=True, capture_output=True)
    try:
        source = tree / "workloads" / "matrix.py"
        text = source.read_text()
        if any(text.count(line) != 1 for line in RETURNS):
            raise SystemExit("tools.ab_rates: workloads/matrix.py has changed; update RETURNS")
        for line in RETURNS:
            head, _, work = line.partition("return ")
            text = text.replace(line, f"{head}return _more_work({work.rstrip()})\n")
        source.write_text(text + HELPER)
        inside = ["git", "-C", str(tree), "-c", "user.name=ab-rates", "-c", "user.email=ab-rates@localhost"]
        subprocess.run([*inside, "commit", "-qam", "scratch: 20 % more work in mm, batched_matmul, linalg"], check=True)
        commit = subprocess.run([*inside, "rev-parse", "HEAD"], check=True, capture_output=True, text=True)
        yield commit.stdout.strip(), tree
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False, capture_output=True)


def _bench(command: list[str], cwd: Path, out: Path) -> Path:
    """Run ``python -m bench COMMAND --out OUT`` in ``cwd``; the run folder it made."""
    before = set(out.iterdir()) if out.exists() else set()
    done = subprocess.run(
        [sys.executable, "-m", "bench", *command, "--out", str(out)],
        check=False,
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"tools.ab_rates: bench {command[0]} failed ({done.returncode}): {done.stderr[-500:]}")
    (run_dir,) = set(out.iterdir()) - before
    return run_dir


def interleaved(candidate: tuple[str, Path], selection: list[str], out: Path) -> list[dict[str, Any]]:
    """One ``bench ab current CANDIDATE``: its cases' verdicts."""
    record = json.loads((_bench(["ab", "current", candidate[0], *selection], ROOT, out) / "ab.json").read_text())
    return [{"id": c["id"], "verdict": c["verdict"], "ratio": c["ratio"]} for c in record["cases"] if not c["error"]]


def sequential(candidate: tuple[str, Path], selection: list[str], out: Path) -> list[dict[str, Any]]:
    """The way without ``ab``: ``bench run`` here, then in the candidate's checkout, then ``compare``."""
    baseline = _bench(["run", *selection], ROOT, out)
    current = _bench(["run", *selection], candidate[1], out)
    result = compare(baseline / BENCHMARK_JSON, current / BENCHMARK_JSON, Thresholds.parse([]), allow_mismatch=False)
    return [{"id": v.case, "verdict": v.verdict, "ratio": v.ratio} for v in result.verdicts]


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m tools.ab_rates", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=at_least(1), default=10, help="A/A trials (default: 10)")
    parser.add_argument("--slower-repeats", type=at_least(0), default=5, help="A/B trials (default: 5)")
    parser.add_argument(
        "--sequential", action="store_true", help="the contrast: two `bench run`s one after the other and `compare`"
    )
    parser.add_argument("--save", type=Path, help="write every verdict here (JSON)")
    args, selection = parser.parse_known_args(argv)  # the rest: the selection and options of ab (or run)
    selection = selection or SELECTION
    trial = sequential if args.sequential else interleaved
    found: dict[str, Any] = {"method": trial.__name__, "selection": selection, "aa": [], "ab": [], "seconds": []}
    with (
        tempfile.TemporaryDirectory(prefix="ab-rates-") as scratch,
        scratch_revision(Path(scratch)) as (revision, tree),
    ):
        found["scratch"] = revision
        out = Path(scratch) / "runs"
        sides = [
            ("aa", "A/A", ("current", ROOT), args.repeats),
            ("ab", "A/B", (f"rev:{revision}", tree), args.slower_repeats),
        ]
        for key, name, candidate, repeats in sides:
            for repeat in range(repeats):
                started = time.perf_counter()
                found[key].append(trial(candidate, selection, out))
                found["seconds"].append(time.perf_counter() - started)
                print(
                    f"{name} {repeat + 1}/{repeats}: {_count(found[key][-1])} ({found['seconds'][-1]:.0f} s)",
                    flush=True,
                )
    aa = [case for run in found["aa"] for case in run]
    touched = [case for run in found["ab"] for case in run if case["id"].split("/")[0] in TOUCHED]
    untouched = [case for run in found["ab"] for case in run if case["id"].split("/")[0] not in TOUCHED]
    print(f"{trial.__name__}: A/A: {_share(aa)} of {len(aa)} case verdicts slower ({len(found['aa'])} trials)")
    if found["ab"]:
        print(
            f"{trial.__name__}: A/B, +20 % work: {_share(touched)} of {len(touched)} slower; untouched cases:"
            f" {_share(untouched)} of {len(untouched)} slower ({len(found['ab'])} trials)"
        )
    print(f"in {sum(found['seconds']):.0f} s, {statistics.median(found['seconds']):.0f} s a trial")
    if args.save:
        write_json(args.save, found)
    return EXIT_OK


def _count(cases: list[dict[str, Any]]) -> str:
    verdicts = [c["verdict"] for c in cases]
    return ", ".join(f"{verdicts.count(v)} {v}" for v in ("slower", "faster", "unchanged", "inconclusive"))


def _share(cases: list[dict[str, Any]]) -> str:
    slower = sum(c["verdict"] == "slower" for c in cases)
    return f"{slower} ({slower / len(cases):.1%})" if cases else "0"


if __name__ == "__main__":
    sys.exit(main())
