"""A run's results as compact tables, one per family (``python -m bench show RUN_DIR``, and the end
of ``bench run``): short case labels, the median per call with its unit, the spread with a noise
mark, and the rate that matters for the case; failures with their reasons. Lines stay within
:data:`WIDTH` columns, so the table reads in a terminal and a CI log alike.
"""

from __future__ import annotations

from bench.labels import Described, from_id, short_labels
from bench.profiling import top_lines
from bench.record import CaseResult, RunRecord, split_placed

WIDTH = 120
NOISY = 0.10  # IQR over median past this: the median is marked "!" (docs: what the results mean)
LABEL_WIDTH = 64  # the longest label of the built-in workloads


def duration(seconds: float) -> str:
    """``seconds`` with a unit that keeps 3 significant digits: 12.3 µs, 4.56 ms, 1.23 s."""
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def rate(case: CaseResult) -> str:
    """The rate that matters; DRIFT where the case's execution mode computed beyond its tolerance from
    the reference mode's result, LAUNCH-BOUND where its GPU ran kernels under half of each call's time
    (docs/modes.md)."""
    execution = case.execution or {}
    numerics = execution.get("numerics") or {}
    flags = [
        flag
        for flag, on in (("DRIFT", numerics.get("within") is False), ("LAUNCH-BOUND", execution.get("launch_bound")))
        if on
    ]
    return " ".join([_rate(case), *flags])


def _rate(case: CaseResult) -> str:
    """Images/s and accuracy for training, else GFLOP/s, GB/s or items/s."""
    metrics = case.metrics or {}
    if "final_test_accuracy" in metrics:  # a training run: its throughput, accuracy and data, and its doubts
        flags = " LOADER-BOUND" if metrics.get("loader_bound") else ""
        return (
            f"{metrics['images_per_s']:.0f} img/s, acc {metrics['final_test_accuracy']:.1%}"
            f" {metrics['data_label']}{flags}"
        )
    rates = case.rates or {}
    if "gflops" in rates:
        return "{:.3g} {}FLOP/s".format(*_si(rates["gflops"] * 1e9))
    if "gbytes_per_s" in rates:
        return "{:.3g} {}B/s".format(*_si(rates["gbytes_per_s"] * 1e9))
    if "items_per_s" in rates:
        return "{:.3g}{} items/s".format(*_si(rates["items_per_s"]))
    return "-"


def _si(value: float) -> tuple[float, str]:
    """``value`` scaled to below 1000 and its SI prefix: (28.2, "T") for 2.82e13."""
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return value / factor, prefix
    return value, ""


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


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as columns, the first row the header: the first and last columns left-aligned, numbers
    between them right-aligned; each line cut at :data:`WIDTH`."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(w) if 0 < i < len(row) - 1 else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(_short("  ".join(cells).rstrip(), WIDTH))
    return lines


def render(record: RunRecord, brief: bool = False, full: bool = False) -> str:
    """The run as tables per family: context first, then one row per case (``brief``: the largest
    per workload and dtype; ``full``: full case ids instead of short labels), then failures."""
    machine, context = record.machine_info, record.context
    gpus = ", ".join(record.gpu_names) or "none"
    lines = [
        _short(
            f"device {context.get('device', '?')} | torch {record.torch_version or '?'}"
            f" | seed {context.get('seed', '?')} | determinism {context.get('determinism', '?')}"
            + (" | PARTIAL: stopped by " + str(record.interrupted_by) if record.partial else ""),
            WIDTH,
        ),
        _short(f"cpu {machine.get('cpu_model', '?')} | gpus {gpus}", WIDTH),
    ]
    shown = _largest_per_workload(record.cases) if brief else record.cases
    variants = {case.workload: case.variants for case in record.cases}
    failed = [from_id(split_placed(entry["id"])[0], variants) for entry in record.failed]
    described = [Described(c.workload, c.params, c.variants, c.dtype) for c in shown]
    ids = [case.id for case in shown] + [entry["id"] for entry in record.failed]
    every = ids if full else short_labels(described + failed)  # results and failures labelled together
    labels = every[: len(shown)]
    if not full:  # a run over several devices: each case once per device
        labels = [
            f"{label} @{c.placement['device']}" if c.placement else label
            for label, c in zip(labels, shown, strict=True)
        ]
    families: dict[str, list[tuple[str, CaseResult]]] = {}
    for label, case in zip(labels, shown, strict=True):
        families.setdefault(case.family or "other", []).append((label, case))
    noisy = 0
    for family, members in families.items():
        rows = [(f"{family} ({len(members)})", "median", "iqr/med", "rounds", "rate")]
        for label, case in members:
            timing = case.timing
            if timing.median_s is None:
                continue
            spread = (timing.iqr_s or 0.0) / timing.median_s if timing.median_s else 0.0
            noisy += spread > NOISY
            plan = case.plan or {}
            rounds = plan.get("rounds", (case.stats or {}).get("rounds", "?"))
            rows.append(
                (
                    "  " + (label if full else _short(label, LABEL_WIDTH)),
                    duration(timing.median_s) + (" !" if spread > NOISY else "  "),
                    f"{spread:.1%}",
                    f"{rounds}x{plan.get('iterations', '?')}",
                    rate(case),
                )
            )
        lines += ["", *aligned(rows)]
    if record.failed:
        fail_labels = every[len(shown) :]
        lines += ["", f"failed ({len(record.failed)})"]
        if not full:  # in a run over several devices, each failure with its device, as the results
            fail_labels = [
                f"{label} @{device}" if (device := split_placed(entry["id"])[1]) else label
                for label, entry in zip(fail_labels, record.failed, strict=True)
            ]
        lines += [
            _short(f"  {label}: {entry['error']}", WIDTH)
            for label, entry in zip(fail_labels, record.failed, strict=True)
        ]
    profiled = [(label, case) for label, case in zip(labels, shown, strict=True) if case.profile]
    if profiled:  # --profile: where each case's time went (bench/profiling.py)
        lines += ["", f"profiled ({len(profiled)}): top operators by self time per call, traces in artifacts/profile/"]
        for label, case in profiled:
            lines += [_short(f"  {label}: " + "; ".join(top_lines(case.profile, 3)), WIDTH)]
    if record.served:  # this machine was a worker node of jobs across machines (bench/distributed.py)
        lines += ["", f"served as a worker node ({len(record.served)}): the numbers are in the record of rank 0's node"]
        lines += [
            _short(
                f"  {entry['id']}: node {entry.get('node', '?')} of {entry.get('nodes', '?')},"
                f" job {entry.get('job', '?')}, rank 0 on {entry.get('leader_host', '?')}",
                WIDTH,
            )
            for entry in record.served
        ]
    skipped = record.selection.get("skipped") or []
    if skipped:  # modes the device or dtype cannot run (bench/modes.py)
        reasons = "; ".join(sorted({entry["reason"] for entry in skipped}))
        lines += ["", _short(f"skipped ({len(skipped)}): {reasons}", WIDTH)]
    timer = {case.timing.basis for case in shown} or {"host"}
    lines += [
        "",
        _short(
            f"{len(record.cases)} cases, {len(record.failed)} failed; median per call, {'/'.join(sorted(timer))} timer;"
            f" ! = IQR over {NOISY:.0%} of the median ({noisy} cases): noisy",
            WIDTH,
        ),
    ]
    return "\n".join(lines)
