"""The open questions of the H200 check, answered from runs made by scripts/gpu-check.sh.

``digests`` compares the ``result_sha256`` of two runs made alike (same seed and determinism mode,
separate processes) case by case: does this device reproduce its own results? ``floor`` prints the
per-call host and device times of the launch-floor cases (bf16 ``mm`` at n = 256 … 2048, 16M-element
``abs``) in runs that differ in one setting (determinism mode, telemetry), and times the same
products directly — eager, and replayed from a CUDA graph, which launches them all at once — to
tell a host-side pace (launches) from GPU work.

    python -m tools.gpu_questions digests RUN_A RUN_B
    python -m tools.gpu_questions floor [--device cuda] LABEL=RUN ...
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from bench.arguments import OneLineParser
from bench.errors import EXIT_OK, BenchError, UsageError
from bench.record import CaseResult, RunRecord

FLOOR_CASES = {
    "mm/n=256/op=mm/bfloat16",
    "mm/n=1024/op=mm/bfloat16",
    "mm/n=2048/op=mm/bfloat16",
    "pointwise/n=16777216/op=abs/float32",
}
PROBE_SIDES = (256, 1024, 2048)
PROBE_CALLS = 200  # per timing on a GPU; on a CPU the probe only shows that it runs (2 calls, n=256)


def digests(a: RunRecord, b: RunRecord) -> str:
    """One line: how many cases computed the same result in both runs, and which did not."""
    theirs = {case.id: case.result_sha256 for case in b.cases}
    same, differ, unchecked = 0, [], 0
    for case in a.cases:
        other = theirs.get(case.id)
        if case.result_sha256 is None or other is None:
            unchecked += 1
        elif case.result_sha256 == other:
            same += 1
        else:
            differ.append(case.id)
    listed = (": " + ", ".join(differ[:6]) + (" …" if len(differ) > 6 else "")) if differ else ""
    return f"{same} identical, {len(differ)} differ, {unchecked} without a digest{listed}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1e3:.4f}"


def _floor_row(case: CaseResult) -> tuple[float | None, float | None]:
    host = (case.stats or {}).get("median")
    device = (case.device_time or {}).get("median_s")
    return host, device


def floor_table(runs: dict[str, RunRecord]) -> list[str]:
    """Host and device ms per call of the floor cases, one column pair per run."""
    lines = [f"{'case':38} " + " ".join(f"{label[:22]:>22}" for label in runs)]
    lines.append(f"{'':38} " + " ".join(f"{'host ms':>10} {'device ms':>11}" for _ in runs))
    for case_id in sorted(FLOOR_CASES):
        cells = []
        for record in runs.values():
            found = [c for c in record.cases if c.id == case_id]
            host, device = _floor_row(found[0]) if found else (None, None)
            cells.append(f"{_ms(host):>10} {_ms(device):>11}")
        lines.append(f"{case_id:38} " + " ".join(cells))
    return lines


def probe(device: str) -> list[str]:
    """bf16 products timed directly: eager launches vs one CUDA-graph replay of the same calls."""
    import torch  # noqa: PLC0415 - reading records needs no torch

    count = PROBE_CALLS if device.startswith("cuda") else 2
    lines = [f"{'direct probe, bf16 mm':24} {'eager ms/call':>14} {'graph ms/call':>14} {'TFLOP/s eager':>14}"]
    for n in PROBE_SIDES if device.startswith("cuda") else PROBE_SIDES[:1]:
        a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
        b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
        out = torch.empty(n, n, device=device, dtype=torch.bfloat16)

        def calls(a: torch.Tensor = a, b: torch.Tensor = b, out: torch.Tensor = out) -> None:
            for _ in range(count):
                torch.mm(a, b, out=out)

        eager = _timed(calls, device, count)
        graphed = None
        if device.startswith("cuda"):
            calls()  # warm the kernels on the default stream before capture
            torch.cuda.synchronize()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                calls()
            graphed = _timed(graph.replay, device, count)
        tflops = 2 * n**3 / eager / 1e12
        lines.append(f"{'n=' + str(n):24} {_ms(eager):>14} {_ms(graphed):>14} {tflops:>14.1f}")
    return lines


def _timed(work: object, device: str, count: int) -> float:
    """Best of 5 of ``work`` (``count`` products), in seconds per product."""
    import torch  # noqa: PLC0415

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = []
    for _ in range(6):
        sync()
        start = time.perf_counter()
        work()  # type: ignore[operator]
        sync()
        times.append(time.perf_counter() - start)
    best = min(times[1:])  # the first is a warm-up
    return best / count


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m tools.gpu_questions", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    pair = commands.add_parser("digests", help="do two runs made alike compute the same results?")
    pair.add_argument("runs", nargs=2, type=Path)
    floor = commands.add_parser("floor", help="per-call floor: runs side by side, and a direct probe")
    floor.add_argument("runs", nargs="+", metavar="LABEL=RUN")
    floor.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    try:
        if args.command == "digests":
            print(digests(*(RunRecord.from_json(path) for path in args.runs)))
            return EXIT_OK
        runs = {}
        for item in args.runs:
            label, sep, path = item.partition("=")
            if not sep:
                raise UsageError(f"{item!r}: name each run as LABEL=RUN")
            runs[label] = RunRecord.from_json(Path(path))
        print("\n".join([*floor_table(runs), "", *probe(args.device)]))
    except BenchError as error:
        print(f"gpu_questions: {error}", file=sys.stderr)
        return error.exit_code
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
