"""A run's results as a plain-text table (``python -m bench show RUN_DIR``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.runs import BENCHMARK_JSON, RUN_SCHEMA, read_json


def load_run(path: Path) -> dict[str, Any]:
    """Read a run folder's (or a file's) pytest-benchmark JSON, checking its shape and types."""
    file = path / BENCHMARK_JSON if path.is_dir() else path
    data = read_json(file)
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list) or "machine_info" not in data:
        raise UsageError(f"{file}: not a pytest-benchmark JSON file (no 'benchmarks' list or 'machine_info')")
    if not isinstance(data["machine_info"], dict) or not isinstance(data.get("bench", {}), dict):
        raise UsageError(f"{file}: 'machine_info' and 'bench' must be JSON objects")
    schema = data.get("bench", {}).get("schema", RUN_SCHEMA)  # plain pytest-benchmark files have no section
    if schema != RUN_SCHEMA:
        raise UsageError(f"{file}: record schema {schema!r}, this version reads {RUN_SCHEMA}")
    for index, bench in enumerate(data["benchmarks"]):
        stats = bench.get("stats") if isinstance(bench, dict) else None
        rounds = stats.get("data", []) if isinstance(stats, dict) else None
        if not isinstance(rounds, list) or not all(isinstance(t, int | float) and t >= 0 for t in rounds):
            raise UsageError(f"{file}: benchmark {index} has no valid 'stats' (per-round times must be numbers >= 0)")
    return data


def timing_of(bench: dict[str, Any]) -> tuple[float | None, float | None, list[float]]:
    """A result's median and IQR per call, and its per-round times: CUDA-event times where the
    run has them, else pytest-benchmark's host times."""
    info, stats = bench.get("extra_info", {}), bench.get("stats", {})
    device_time = info.get("device_time", {})
    median = info.get("rates", {}).get("median_s", stats.get("median"))
    samples = device_time.get("per_round_s") or stats.get("data") or []
    return median, device_time.get("iqr_s", stats.get("iqr")), samples


def _rate(info: dict[str, Any]) -> str:
    metrics = info.get("metrics", {})
    if "final_test_accuracy" in metrics:  # a training run: its throughput, accuracy and data, and its doubts
        flags = " LOADER-BOUND" if metrics.get("loader_bound") else ""
        return (f"{metrics['images_per_s']:.0f} img/s, test acc {metrics['final_test_accuracy']:.2%}"
                f" on {metrics['data_label']}{flags}")  # fmt: skip
    rates = info.get("rates", {})
    if "gflops" in rates:
        return f"{rates['gflops']:.1f} GFLOP/s"
    if "gbytes_per_s" in rates:
        return f"{rates['gbytes_per_s']:.2f} GB/s"
    if "items_per_s" in rates:
        return f"{rates['items_per_s']:.4g} items/s"
    return "-"


def _largest_per_workload(benchmarks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per workload and dtype: the case with the most work (FLOPs, else bytes, else time)."""
    best: dict[tuple[str, str], tuple[tuple[float, float, float], dict[str, Any]]] = {}
    for bench in benchmarks:
        info = bench.get("extra_info", {})
        work, median = info.get("work", {}), info.get("rates", {}).get("median_s", 0.0)
        size = (work.get("flops") or 0, work.get("bytes") or 0, median)
        key = (info.get("workload", bench.get("name", "?")), info.get("dtype", "?"))
        if key not in best or size > best[key][0]:
            best[key] = (size, bench)
    return [bench for _, bench in best.values()]


def render(data: dict[str, Any], brief: bool = False) -> str:
    machine = data["machine_info"]
    context = data.get("bench", {}).get("context", {})
    gpus = ", ".join(g["name"] for g in machine.get("gpus", [])) or "none"
    lines = [
        f"device {context.get('device', '?')} | torch {machine.get('torch', {}).get('version', '?')}"
        f" | cpu {machine.get('cpu_model', '?')} | gpus {gpus}"
        f" | seed {context.get('seed', '?')} | determinism {context.get('determinism', '?')}",
    ]
    rows = [("case", "median", "iqr/med", "rounds x iters", "timer", "rate")]
    for bench in _largest_per_workload(data["benchmarks"]) if brief else data["benchmarks"]:
        info, stats = bench.get("extra_info", {}), bench.get("stats", {})
        median, iqr, _ = timing_of(bench)
        if median is None:
            continue
        iqr = iqr or 0.0
        plan = info.get("plan", {})
        rows.append(
            (
                bench.get("param") or bench.get("name", "?"),
                f"{median * 1e3:.4g} ms",
                f"{100 * iqr / median:.1f}%" if median else "-",
                f"{plan.get('rounds', stats.get('rounds', '?'))} x {plan.get('iterations', '?')}",
                info.get("rates", {}).get("basis", "host"),
                _rate(info),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    failed = data.get("bench", {}).get("failed", [])
    if failed:
        lines.append(f"{len(failed)} failed: " + "; ".join(f"{f['id']}: {f['error']}" for f in failed))
    return "\n".join(lines)
