"""A run's results as a plain-text table (``python -m bench show RUN_DIR``)."""

from __future__ import annotations

from bench.record import CaseResult, RunRecord


def _rate(case: CaseResult) -> str:
    metrics = case.metrics or {}
    if "final_test_accuracy" in metrics:  # a training run: its throughput, accuracy and data, and its doubts
        flags = " LOADER-BOUND" if metrics.get("loader_bound") else ""
        return (
            f"{metrics['images_per_s']:.0f} img/s, test acc {metrics['final_test_accuracy']:.2%}"
            f" on {metrics['data_label']}{flags}"
        )
    rates = case.rates or {}
    if "gflops" in rates:
        return f"{rates['gflops']:.1f} GFLOP/s"
    if "gbytes_per_s" in rates:
        return f"{rates['gbytes_per_s']:.2f} GB/s"
    if "items_per_s" in rates:
        return f"{rates['items_per_s']:.4g} items/s"
    return "-"


def _largest_per_workload(cases: list[CaseResult]) -> list[CaseResult]:
    """One result per workload and dtype: the case with the most work (FLOPs, else bytes, else time)."""
    best: dict[tuple[str, str], tuple[tuple[float, float, float], CaseResult]] = {}
    for case in cases:
        work, median = case.work, (case.rates or {}).get("median_s", 0.0)
        size = ((work and work.flops) or 0, (work and work.bytes) or 0, median)
        key = (case.workload, case.dtype or "?")
        if key not in best or size > best[key][0]:
            best[key] = (size, case)
    return [case for _, case in best.values()]


def render(record: RunRecord, brief: bool = False) -> str:
    """The run as a table: context first, then one row per case (``brief``: the largest per workload)."""
    machine, context = record.machine_info, record.context
    gpus = ", ".join(record.gpu_names) or "none"
    lines = [
        f"device {context.get('device', '?')} | torch {record.torch_version or '?'}"
        f" | cpu {machine.get('cpu_model', '?')} | gpus {gpus}"
        f" | seed {context.get('seed', '?')} | determinism {context.get('determinism', '?')}",
    ]
    rows = [("case", "median", "iqr/med", "rounds x iters", "timer", "rate")]
    for case in _largest_per_workload(record.cases) if brief else record.cases:
        timing = case.timing
        median, iqr = timing.median_s, timing.iqr_s or 0.0
        if median is None:
            continue
        plan = case.plan or {}
        rows.append(
            (
                case.id,
                f"{median * 1e3:.4g} ms",
                f"{100 * iqr / median:.1f}%" if median else "-",
                f"{plan.get('rounds', (case.stats or {}).get('rounds', '?'))} x {plan.get('iterations', '?')}",
                timing.basis,
                _rate(case),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    if record.failed:
        lines.append(f"{len(record.failed)} failed: " + "; ".join(f"{f['id']}: {f['error']}" for f in record.failed))
    return "\n".join(lines)
