"""``python -m tools.ab_rates``: how often ``bench ab`` cries wolf, and how often it catches a real
slowdown, measured live on this machine (``nox -s detector -- --ab`` runs it).

* A/A: ``bench ab current current`` over the selection, ``--repeats`` times: every ``slower``
  verdict is a false alarm.
* A/B: a scratch revision of this checkout whose ``mm`` workload does 20 % more real work (one
  more product, on a fifth of the inner dimension), made in a worktree and committed there, off
  every branch; ``bench ab current rev:SCRATCH``, ``--slower-repeats`` times: the ``mm`` cases
  should be ``slower``, the untouched ones stay within the A/A rate. Nothing in the product can slow
  itself on request: the extra work exists only in that scratch commit.

Other arguments go to ``bench ab`` (default: ``--quick --family matrix --family layers``). Prints
the rates and writes every verdict to ``--save`` (JSON). Exit 0; 2 on bad arguments.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.arguments import OneLineParser, at_least
from bench.errors import EXIT_OK
from bench.runs import write_json

ROOT = Path(__file__).parents[1]
SELECTION = ["--quick", "--family", "matrix", "--family", "layers"]
ANCHOR = '    fn = torch.mm if op == "mm" else torch.matmul\n    return lambda: fn(a, b)\n'
SLOWER = (
    '    fn = torch.mm if op == "mm" else torch.matmul\n'
    "    k = max(1, n // 5)  # scratch: 20 % more multiply-adds\n"
    "    a_part, b_part = a[:, :k].contiguous(), b[:k, :].contiguous()\n"
    "    return lambda: (fn(a, b), fn(a_part, b_part))[0]\n"
)


def scratch_revision(folder: Path) -> str:
    """A commit of HEAD with the slower ``mm``, made in a throwaway worktree; its sha."""
    tree = folder / "scratch"
    git = ["git", "-C", str(ROOT)]
    subprocess.run([*git, "worktree", "add", "--detach", str(tree), "HEAD"], check=True, capture_output=True)
    try:
        source = tree / "workloads" / "matrix.py"
        text = source.read_text()
        if ANCHOR not in text:
            raise SystemExit("tools.ab_rates: workloads/matrix.py's mm has changed; update ANCHOR")
        source.write_text(text.replace(ANCHOR, SLOWER))
        inside = ["git", "-C", str(tree), "-c", "user.name=ab-rates", "-c", "user.email=ab-rates@localhost"]
        subprocess.run([*inside, "commit", "-qam", "scratch: mm does 20 % more work"], check=True)
        return subprocess.run([*inside, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(tree)], check=False, capture_output=True)


def head_to_head(candidate: str, selection: list[str], out: Path) -> list[dict[str, Any]]:
    """One ``bench ab current CANDIDATE`` run: its cases' verdicts."""
    before = set(out.iterdir()) if out.exists() else set()
    done = subprocess.run(
        [sys.executable, "-m", "bench", "ab", "current", candidate, *selection, "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode not in (0, 1):
        raise SystemExit(f"tools.ab_rates: bench ab failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    (run_dir,) = set(out.iterdir()) - before
    record = json.loads((run_dir / "ab.json").read_text())
    return [{"id": c["id"], "verdict": c["verdict"], "ratio": c["ratio"]} for c in record["cases"] if not c["error"]]


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m tools.ab_rates", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=at_least(1), default=10, help="A/A head-to-heads (default: 10)")
    parser.add_argument("--slower-repeats", type=at_least(0), default=5, help="A/B head-to-heads (default: 5)")
    parser.add_argument("--save", type=Path, help="write every verdict here (JSON)")
    args, selection = parser.parse_known_args(argv)  # the rest: bench ab's selection and options
    selection = selection or SELECTION
    found: dict[str, Any] = {"selection": selection, "aa": [], "ab": []}
    with tempfile.TemporaryDirectory(prefix="ab-rates-") as scratch:
        out = Path(scratch) / "runs"
        started = time.perf_counter()
        for repeat in range(args.repeats):
            found["aa"].append(head_to_head("current", selection, out))
            print(f"A/A {repeat + 1}/{args.repeats}: {_count(found['aa'][-1])}", flush=True)
        if args.slower_repeats:
            found["scratch"] = revision = scratch_revision(Path(scratch))
            for repeat in range(args.slower_repeats):
                found["ab"].append(head_to_head(f"rev:{revision}", selection, out))
                print(f"A/B {repeat + 1}/{args.slower_repeats}: {_count(found['ab'][-1])}", flush=True)
        found["seconds"] = time.perf_counter() - started
    aa = [case for run in found["aa"] for case in run]
    touched = [case for run in found["ab"] for case in run if case["id"].startswith("mm/")]
    untouched = [case for run in found["ab"] for case in run if not case["id"].startswith("mm/")]
    print(f"A/A: {_share(aa)} of {len(aa)} case verdicts slower ({len(found['aa'])} head-to-heads)")
    if found["ab"]:
        print(
            f"A/B, mm +20 %: {_share(touched)} of {len(touched)} slower; untouched cases: {_share(untouched)} of"
            f" {len(untouched)} slower ({len(found['ab'])} head-to-heads)"
        )
    print(f"in {found['seconds']:.0f} s")
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
