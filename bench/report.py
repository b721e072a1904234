"""``python -m bench report RUN…``: many run records as one tidy table, plots and a report.

Reads only run records (pytest-benchmark JSON) and their side files; writes, into one folder,
``report.md``, a self-contained ``report.html`` (plots embedded), ``results.csv`` and PNGs.
Every report says what it was measured on and what not to trust. Tables and plots name a case by
its short label (bench/labels.py); ``results.csv`` keeps its full id beside it.
"""

from __future__ import annotations

import base64
import html
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import peak_cache
from bench.ab import plot as ab_plot
from bench.ab import store as ab_store
from bench.compare import Thresholds, fingerprint
from bench.errors import BenchError, UsageError
from bench.labels import axis_label, from_id, short_labels
from bench.modes import AXES, Mode
from bench.peers import peer_ratios
from bench.plotting import file_name, literal_text, log_scale
from bench.progress import Terminal, run_steps
from bench.record import FINITE, NAME, CaseResult, RunRecord, split_placed
from bench.roofline import RooflinePoint, Roofs, datasheet_roofs, measured_roofs, percent_of_peak, roofline_plot
from bench.runs import read_json, staged_folder, write_atomic
from bench.stats import ratio_interval
from bench.summary import duration

NOISY = 0.10  # IQR / median above this: the timing is not to be trusted
SPEEDUP_CONFIDENCE = 0.95
# a device or host is SLOW against its peers beyond bench compare's minimum effect of the case's family
PEER_THRESHOLDS = Thresholds.parse([])
PEER_RULE = "whole 95 % interval of the ratio above 1 + the family's minimum effect"
OTHER_DEVICES, OTHER_HOSTS = "the run's other devices", "the same hardware's other hosts"
INTERNAL = [
    "samples",
    "variant",
    "profile_top",
]  # the table's columns for the report's own arithmetic, left out of results.csv


@dataclass
class Collection:
    """The records read, and the files passed over with ``--skip-bad``."""

    records: list[tuple[Path, RunRecord]] = field(default_factory=list)
    head_to_heads: list[tuple[Path, dict[str, Any]]] = field(default_factory=list)  # bench ab records
    skipped: list[str] = field(default_factory=list)

    def labels(self) -> tuple[list[str], list[str]]:
        """Short labels of every result and of every failure, in the order read, made all together:
        one workload's cases read alike in every run, device and machine of the report."""
        results = [case for _, record in self.records for case in record.cases]
        variants = {case.workload: case.variants for case in results}
        # in a run over several devices a failure's id ends in ``@device``: the case is described without it
        failed = [
            from_id(split_placed(entry["id"])[0], variants) for _, record in self.records for entry in record.failed
        ]
        # a plain pytest-benchmark result has no parameters but its id: described from the id, as failures are
        described = [case if case.params else from_id(case.id, variants) for case in results]
        labels = short_labels([*described, *failed])
        return labels[: len(results)], labels[len(results) :]

    def failures(self) -> list[str]:
        """Cases that failed, by label (and device, in a run over several), from each record's list (they
        have no results to show)."""
        failed = [(path, entry) for path, record in self.records for entry in record.failed]
        named = [
            label + (f" on {device}" if (device := split_placed(entry["id"])[1]) else "")
            for (_, entry), label in zip(failed, self.labels()[1], strict=True)
        ]
        return [f"{path.name}: {name}: {entry['error']}" for (path, entry), name in zip(failed, named, strict=True)]


def collect(paths: list[Path], skip_bad: bool) -> Collection:
    found = Collection()
    for path in paths:
        try:
            if ab_store.is_head_to_head(path):
                found.head_to_heads.append((path, ab_store.read(path)))
            else:
                found.records.append((path, RunRecord.from_json(path)))
        except BenchError as error:  # the file's problem, in one line
            if not skip_bad:
                raise
            found.skipped.append(str(error))
    if not found.records and not found.head_to_heads:
        raise UsageError("no usable run record among the files given")
    return found


def container_of(record: dict[str, Any]) -> str | None:
    """``image@id`` for a result made in a container (older records: only ``image``), else None."""
    if not record.get("in_container") and not record.get("image"):
        return None
    name = record.get("image") or (f"{record['flavor']} image" if record.get("flavor") else "a container")
    return f"{name}@{record['image_id'][:19]}" if record.get("image_id") else f"{name} (image id not recorded)"


def host(record: RunRecord) -> str:
    """The host a run was made on, as a fleet names it: the node's label (``BENCH_NODE_LABEL``) where
    set, else its hostname, else pytest-benchmark's node name."""
    machine = record.machine_info
    names = [(record.context.get("node") or {}).get("label"), machine.get("hostname"), machine.get("node")]
    return next((name for name in names if name and NAME.holds(name)), "?")


def hardware(record: RunRecord) -> str:
    """The hardware group a run's host belongs to, by name: bench compare's fingerprint less the run's
    settings (device, determinism; results are matched by those). Its torch version stays in: hosts
    that differ only in it run other kernels, and a fleet comparison would blame the node for the
    software; so they are put in different groups, each named with its version, never mixed."""
    found = fingerprint(record)
    gpus = Counter(found["gpus"])
    named = " + ".join(f"{count} x {name}" if count > 1 else name for name, count in sorted(gpus.items()))
    cpus = f"{found['cpu'] or 'unknown CPU'}, {found['cpus'] or '?'} CPUs"
    return f"{cpus} / {named or 'no GPU'} / torch {found['torch'] or '?'}"


def _row(path: Path, record: RunRecord, case: CaseResult, label: str) -> dict[str, Any]:
    machine, rates, metrics = record.machine_info, case.rates or {}, case.metrics or {}
    placement = case.placement or {}
    gpu = (case.telemetry or {}).get("gpu") or {}
    timing = case.timing
    median, iqr = timing.median_s, timing.iqr_s
    return {
        "run": path.name if path.is_dir() else path.parent.name,
        "machine": f"{machine.get('node', '?')} / {machine.get('cpu_model', '?')}",
        "host": host(record),
        "hardware": hardware(record),
        "gpu_name": record.gpu_names[0] if record.gpu_names and case.device_type == "cuda" else None,
        "torch": record.torch_version,
        "commit": (record.commit_info.get("id") or "")[:10] or None,
        "partial": record.partial,
        "container": container_of(machine.get("container") or {}),
        "case": case.id,
        "label": label,
        "workload": case.workload,
        "family": case.family,
        "size": case.size,
        "params": case.params_json,
        "variant": case.variant,
        "dtype": case.dtype,
        "device_type": case.device_type,
        "device": placement.get("device", case.device),
        # a run over several devices (--device cuda:all): all of them, whether they ran at once, and
        # the case's id without the device (the same on each of them); else None, None and the id
        "devices": ", ".join(placement.get("devices") or [placement["device"]]) if placement else None,
        "concurrent": placement.get("concurrent"),
        "case_without_device": placement.get("case", case.id),
        "determinism": case.determinism,
        "threads": case.threads,
        "seed": case.seed,
        "median_s": median,
        "iqr_s": iqr,
        "iqr_rel": iqr / median if median and iqr is not None else None,
        "rounds": (case.stats or {}).get("rounds"),
        "timer": timing.basis,
        "items_per_s": rates.get("items_per_s"),
        "gflops": rates.get("gflops"),
        "gbytes_per_s": rates.get("gbytes_per_s"),
        "data": (case.data or {}).get("label"),
        "test_accuracy": metrics.get("final_test_accuracy"),
        "loader_bound": metrics.get("loader_bound"),
        "train_images_per_s": metrics.get("images_per_s") if "final_test_accuracy" in metrics else None,
        "world_size": metrics.get("world_size"),
        "communication_fraction": metrics.get("communication_fraction"),
        "ranks_agree": metrics.get("weights_identical_across_ranks"),
        "gpu_util_mean": gpu.get("util_mean"),
        "gpu_power_mean_w": gpu.get("power_mean_w"),
        "gpu_energy_j": gpu.get("energy_j"),
        "throttled": gpu.get("throttled"),
        "samples": timing.samples,
        **_execution(case),
    }


def _execution(case: CaseResult) -> dict[str, Any]:
    """A result's execution mode as table columns: ``mode_label`` is empty in the reference mode, and
    ``reference_params`` names the reference case it is compared with."""
    execution = case.execution or {}
    numerics = execution.get("numerics") or {}
    mode = Mode.of(case.params)
    return {
        "mode_label": ", ".join(axis_label(axis, value) for axis, value in mode.params().items()),
        "reference_params": json.dumps({k: v for k, v in case.params.items() if k not in AXES}, sort_keys=True),
        "first_call_s": execution.get("first_call_s"),
        "recompiles": execution.get("recompiles"),
        "max_error": numerics.get("max_error"),
        "tolerance": numerics.get("tolerance"),
        "drifted": numerics.get("within") is False,
        "profile_top": (case.profile or {}).get("top"),
        "device_busy_fraction": execution.get("device_busy_fraction"),
        "launch_bound": execution.get("launch_bound") is True,
    }


def _roofs(record: RunRecord, case: CaseResult, peaks: dict[str, Any]) -> tuple[str, Roofs | None, Roofs | None]:
    """The precision a result computed in (its dtype, or its mode's where that overrides float32), and
    the roofs of its device for it: measured by ``bench peak`` on that machine (its cache, where the
    report is made; each machine's file read once, into ``peaks``), and the card's datasheet."""
    mode = Mode.of(case.params).precision
    precision = (case.dtype or "float32") if mode == "fp32" else mode
    machine = record.machine_info
    gpu = record.gpu_names[0] if record.gpu_names and case.device_type == "cuda" else None
    print_ = {
        "device_type": case.device_type,
        "device_name": gpu if case.device_type == "cuda" else machine.get("cpu_model"),
        "cpu_count": machine.get("cpu_count"),
        "torch": record.torch_version,
    }
    key = json.dumps(print_, sort_keys=True)
    if key not in peaks:
        peaks[key] = peak_cache.load(print_)
    return precision, measured_roofs(peaks[key], precision), datasheet_roofs(gpu, precision)


def _of_peak(record: RunRecord, case: CaseResult, peaks: dict[str, Any]) -> dict[str, Any]:
    """A result's share of its device's peak (measured and datasheet): of the FLOP roof for a result
    with FLOPs, else of the bandwidth roof; which roof limits it where it has both."""
    precision, measured, sheet = _roofs(record, case, peaks)
    rates = case.rates or {}
    ours, theirs = (
        percent_of_peak(rates.get("gflops"), rates.get("gbytes_per_s"), roofs) for roofs in (measured, sheet)
    )
    return {
        "precision": precision,
        "pct_of_measured_peak": _first(ours["flops_pct"], ours["bandwidth_pct"]),
        "pct_of_datasheet_peak": _first(theirs["flops_pct"], theirs["bandwidth_pct"]),
        "bound": ours["bound"] or theirs["bound"],
        "roofs": [roofs for roofs in (measured, sheet) if roofs is not None],
    }


def _first(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def tidy(collection: Collection) -> pd.DataFrame:
    """One row per benchmark result, whatever run, device or machine it came from: ``case`` its full
    id, to join on; ``label`` its short label, to show."""
    results = [(path, record, case) for path, record in collection.records for case in record.cases]
    peaks: dict[str, Any] = {}  # bench peak results by machine fingerprint
    rows = [
        _row(*result, label) | _of_peak(result[1], result[2], peaks)
        for result, label in zip(results, collection.labels()[0], strict=True)
    ]
    if not rows:
        raise UsageError("the run records hold no benchmark results")
    return pd.DataFrame(rows)


RATIO_COLUMNS = ["case", "label", "workload", "params", "variant", "dtype", "device_type"]
RATIO_FRAME = [  # what ratios() returns
    *RATIO_COLUMNS,
    *("device", "baseline_median_s", "median_s", "speedup", "low", "high", "first_call_s", "baseline_case", "machine"),
]


def ratios(baseline: pd.DataFrame, candidate: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """For each candidate result with a baseline of the same ``keys``: baseline median / candidate
    median (above 1: the candidate is faster) with a bootstrap interval from both sides' per-round
    samples. Any axis, any pair: CPU against GPU, a mode against the reference mode."""
    if baseline.empty or candidate.empty:  # most reports: one device, the reference mode (merging costs ~30 ms)
        return pd.DataFrame(columns=RATIO_FRAME)
    base = baseline.drop_duplicates(keys, keep="last")
    new = candidate.drop_duplicates(["case", "device_type", "machine"], keep="last")
    both = new.merge(base, on=keys, suffixes=("", "_base"))
    rng = np.random.default_rng(0)
    intervals = [
        ratio_interval(b, c, SPEEDUP_CONFIDENCE, rng) for b, c in zip(both.samples_base, both.samples, strict=True)
    ]
    return pd.DataFrame(
        {
            **{column: both[column] for column in RATIO_COLUMNS},
            "device": result_device(both),  # the candidate's
            "baseline_median_s": both.median_s_base,
            "median_s": both.median_s,
            "speedup": both.median_s_base / both.median_s,
            "low": [low for low, _ in intervals],
            "high": [high for _, high in intervals],
            "first_call_s": both.first_call_s,
            "baseline_case": both.case_base,
            "machine": both.machine,
        }
    )


def speedups(table: pd.DataFrame) -> pd.DataFrame:
    """CPU median / GPU median per case found on both, with a bootstrap confidence interval."""
    cpu, gpu = table[table.device_type == "cpu"], table[table.device_type == "cuda"]
    return ratios(cpu, gpu, ["workload", "params", "dtype"])


def mode_speedups(table: pd.DataFrame) -> pd.DataFrame:
    """Each execution mode against the reference mode (eager, fp32, contiguous) of the same workload,
    parameters, dtype, device and machine; with the first call's cost (a compiled case compiles in
    it) and the number of calls after which compiling has paid for itself."""
    keys = ["workload", "reference_params", "dtype", "device_type", "machine", "result_device"]
    table = table.assign(result_device=result_device(table))
    reference = table[table.mode_label == ""]
    found = ratios(reference, table[table.mode_label != ""], keys)
    if found.empty:
        return found
    extra = found.first_call_s - found.median_s  # what the first call cost over a steady one
    saved = found.baseline_median_s - found.median_s
    found["first_call_extra_s"] = extra
    surely = (found.low > 1) & (saved > 0)  # the whole interval faster: a saving to pay the first call back
    found["break_even_calls"] = np.where(surely, np.ceil(extra.clip(lower=0) / saved.where(surely, 1)), np.inf)
    return found


def scaling(table: pd.DataFrame) -> pd.DataFrame:
    """Data-parallel jobs (by label) next to the single process of the same recipe: images/s at N, at
    1, and the scaling efficiency images/s at N / (N x images/s at 1)."""
    jobs = table[table.world_size.notna()].copy()
    columns = [
        "case",
        "device_type",
        "world",
        "images/s",
        "images/s at 1",
        "efficiency",
        "communication",
        "ranks agree",
    ]
    if jobs.empty:
        return pd.DataFrame(columns=columns)
    jobs["recipe"] = [
        json.dumps({k: v for k, v in json.loads(p).items() if k != "ranks"}, sort_keys=True) for p in jobs.params
    ]
    keys = ["recipe", "dtype", "device_type", "machine"]
    single = jobs[jobs.world_size == 1].drop_duplicates(keys, keep="last")[[*keys, "train_images_per_s"]]
    merged = jobs[jobs.world_size > 1].merge(single, on=keys, how="left", suffixes=("", "_one"))
    return pd.DataFrame(
        {
            "case": merged.label,
            "device_type": merged.device_type,
            "world": merged.world_size.astype(int),
            "images/s": merged.train_images_per_s.round(0),
            "images/s at 1": merged.train_images_per_s_one.round(0),
            "efficiency": (merged.train_images_per_s / (merged.world_size * merged.train_images_per_s_one)).round(3),
            "communication": merged.communication_fraction.round(3),
            "ranks agree": merged.ranks_agree,
        },
        columns=columns,
    )


def result_device(table: pd.DataFrame) -> pd.Series:
    """What tells apart the results of one case in one run: the device type, and in a run over several
    devices the device itself."""
    return table.device.where(table.devices.notna(), table.device_type)


def _side_by_side(table: pd.DataFrame, keys: list[str], member: str) -> pd.DataFrame:
    """Each ``member`` (a device, a host) of every group of results of the same ``keys`` against the
    group's other members (bench/peers.py); a member's results in several runs pool their rounds."""
    rng = np.random.default_rng(0)
    rows = []
    for key, group in table.groupby(keys, sort=False, dropna=False):
        by_member = group.groupby(member, sort=False).samples
        pooled = {name: [t for rounds in results for t in rounds] for name, results in by_member}
        effect = PEER_THRESHOLDS.effect(group.family.iloc[0])
        rows += [
            {**dict(zip(keys, key, strict=True)), "label": group.label.iloc[0], "effect": effect, **asdict(found)}
            for found in peer_ratios(pooled, effect, SPEEDUP_CONFIDENCE, rng)
        ]
    peers = ["label", "effect", "member", "median_s", "peers_median_s", "ratio", "low", "high", "slow"]
    return pd.DataFrame(rows, columns=[*keys, *peers])


def devices_side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """In each run over several devices (``--device cuda:all``), each case's result on each device
    against its result on the run's other devices: a sick GPU among identical ones. ``member``: the
    device."""
    return _side_by_side(table[table.devices.notna()], ["run", "case_without_device"], "device")


def machines_side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """Each case's result on each host against the other hosts of the same hardware (CPU model and
    count, GPUs, torch version) for the same device type, determinism mode and thread count: a slow
    node in a fleet. ``member``: the host (:func:`host`); its runs, and its devices in a run over
    several, pool their rounds (a slow device among a host's is the devices table's to find)."""
    keys = ["hardware", "device_type", "case_without_device", "determinism", "threads"]
    return _side_by_side(table, keys, "host")


def crossovers(ratios: pd.DataFrame) -> list[str]:
    """For a workload variant measured at several sizes: the smallest size where the GPU surely wins."""
    lines = []
    for (workload, dtype, _), group in ratios.groupby(["workload", "dtype", "variant"]):
        if len(group) < 2:
            continue
        ordered = group.sort_values("baseline_median_s")
        winners = ordered[ordered.low > 1]
        where = f"from {winners.label.iloc[0]} on" if not winners.empty else "at none of the sizes measured"
        lines.append(f"{workload} ({dtype}): the GPU wins (whole 95 % interval above 1) {where}")
    return lines


def doubts(table: pd.DataFrame, skipped: list[str], failed: Sequence[str] = (), slow: Sequence[str] = ()) -> list[str]:
    """What the reader should not take at face value; ``slow``: the devices and hosts found SLOW
    against their peers (:func:`slow_members`)."""
    found = [*slow]
    machines = sorted(set(table.machine))
    if len(machines) > 1:
        found.append(f"results from {len(machines)} different machines are mixed: {'; '.join(machines)}")
    # each by its results' labels: selecting one column, not copying the table (a fuzzed report a record)
    labels = table.label
    noisy = labels[table.iqr_rel > NOISY]
    if len(noisy):
        more = " …" if len(noisy) > 8 else ""
        shown = ", ".join(noisy[:8]) + more
        found.append(f"{len(noisy)} results are noisy (IQR above {NOISY:.0%} of the median): {shown}")
    for column, what in (("throttled", "the GPU throttled during"), ("loader_bound", "data loading bounded")):
        hit = labels[table[column].fillna(False).astype(bool)]
        if len(hit):
            found.append(f"{what} {len(hit)} results: " + ", ".join(hit[:8]))
    rated = table.gflops.notna() | table.gbytes_per_s.notna()
    if rated.any() and table.pct_of_measured_peak[rated].isna().all():
        found.append(
            "no `bench peak` result for these machines here: no % of measured peak (run `python -m bench peak`)"
        )
    over = labels[table.pct_of_measured_peak > 100]
    if len(over):
        found.append(
            f"{len(over)} results above 100 % of the measured peak (data that fits a cache the peak's copy avoids,"
            f" or a peak measured on a busier machine): {', '.join(over[:8])}"
        )
    waiting = labels[table.launch_bound.astype(bool)]
    if len(waiting):
        found.append(
            f"{len(waiting)} GPU results are LAUNCH-BOUND (kernels ran under half of each call's time: the host"
            f" sets the pace; compare --compile reduce-overhead, CUDA graphs): {', '.join(waiting[:8])}"
        )
    drifted = labels[table.drifted.astype(bool)]
    if len(drifted):
        found.append(
            f"{len(drifted)} results DRIFTED from their reference mode beyond its tolerance (timed, but computing"
            f" something else): {', '.join(drifted[:8])}"
        )
    synthetic = int((table.data == "synthetic").sum())
    if synthetic:
        found.append(f"{synthetic} training results used SYNTHETIC data: their accuracies are not CIFAR-10's")
    places = set(table.container.fillna("host"))
    if len(places) > 1:
        found.append(f"results from {len(places)} different images or the host are mixed: {', '.join(sorted(places))}")
    modes = sorted(set(table.determinism.dropna()))
    if len(modes) > 1:
        found.append(f"determinism modes differ between results: {', '.join(modes)}")
    found += [f"skipped: {reason}" for reason in skipped]
    if failed:
        found.append(
            f"{len(failed)} cases FAILED and have no results: "
            + "; ".join(failed[:8])
            + (" …" if len(failed) > 8 else "")
        )
    partial = sorted({run for run, flag in zip(table.run, table.partial, strict=True) if flag})
    if partial:
        found.append(f"interrupted runs, PARTIAL: {', '.join(partial)}")
    return found


def slow_members(found: pd.DataFrame, what: str) -> list[str]:
    """A side-by-side table's SLOW members as a doubt, none where there are none: each by its case, the
    member and (devices) the run; ``what`` they are slow against."""
    slow = [
        f"{row.label} on {row.member}" + (f" in {row.run}" if "run" in row else "") + f" {_ratio(row)}"
        for _, row in found.iterrows()
        if row.slow
    ]
    if not slow:
        return []
    more = " …" if len(slow) > 8 else ""
    return [f"{len(slow)} results SLOW against {what} ({PEER_RULE}): {'; '.join(slow[:8])}{more}"]


def _markdown(frame: pd.DataFrame) -> str:
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = [
        "| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |" for row in frame.itertuples(index=False)
    ]
    return "\n".join([header, rule, *body])


def _rate(gflops: float | None, gbytes_per_s: float | None, items_per_s: float | None) -> str:
    """A result's rate as the timings table shows it; "-" where it has none (a plain pytest-benchmark file)."""
    if pd.notna(gflops):
        return f"{gflops:.1f} GFLOP/s"
    if pd.notna(gbytes_per_s):
        return f"{gbytes_per_s:.2f} GB/s"
    return f"{items_per_s:.4g} items/s" if pd.notna(items_per_s) else "-"


def _timings_view(table: pd.DataFrame) -> pd.DataFrame:
    view = table[["label", "device_type", "median_s", "iqr_rel", "gflops", "gbytes_per_s", "items_per_s", "run"]].copy()
    view["device_type"] = result_device(table)  # in a run over several devices, the device
    view["median"] = view.median_s.map(lambda s: "-" if pd.isna(s) else f"{s * 1e3:.4g} ms")
    view["iqr/median"] = view.iqr_rel.map(lambda r: "" if pd.isna(r) else f"{r:.1%}" + (" NOISY" if r > NOISY else ""))
    view["rate"] = [_rate(*rates) for rates in zip(view.gflops, view.gbytes_per_s, view.items_per_s, strict=True)]
    view["of peak (measured, datasheet)"] = [
        ", ".join("-" if pd.isna(pct) else f"{pct:.0f}%" for pct in pcts) if any(pd.notna(p) for p in pcts) else ""
        for pcts in zip(table.pct_of_measured_peak, table.pct_of_datasheet_peak, strict=True)
    ]
    columns = ["case", "device_type", "median", "iqr/median", "rate", "of peak (measured, datasheet)", "run"]
    return view.rename(columns={"label": "case"})[columns]


def _bar_names(group: pd.DataFrame) -> list[str]:
    """A timings plot's bar names: label and device, and the run where one case was measured on one
    device in several runs (bars of one name would be drawn over each other)."""
    shown = list(zip(group.label, result_device(group), strict=True))
    repeated = {pair for pair, count in Counter(shown).items() if count > 1}
    return [
        f"{label} [{device}, {run}]" if (label, device) in repeated else f"{label} [{device}]"
        for (label, device), run in zip(shown, group.run, strict=True)
    ]


def _bars(
    names: list[str], values: Any, errors: Any, color: str, xlabel: str, title: str, path: Path, ratio: bool = False
) -> Path:
    """Horizontal bars with error whiskers on a log scale (ratios: 1, no change, marked by a line), saved."""
    import matplotlib.pyplot as plt  # noqa: PLC0415 - slow import, only for reports

    fig, ax = plt.subplots(figsize=(9, 0.25 * len(names) + 1.5))
    ax.barh(names, values, xerr=errors, color=color)
    if ratio:
        ax.axvline(1, color="black", linewidth=0.8)
    log_scale(ax, "x")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def timings_plot(family: str, members: pd.DataFrame, out: Path) -> Path:
    """One family's timings as bars with IQR whiskers, on a log scale."""
    group = members.sort_values(["label", "device_type", "run"]).tail(40)
    errors = group.iqr_s.fillna(0) * 1e3 / 2
    xlabel = "median time per call, ms (bars: IQR)"
    path = out / f"timings_{file_name(family)}.png"
    return _bars(_bar_names(group), group.median_s * 1e3, errors, "#4477aa", xlabel, f"{family}: timings", path)


def ratio_plot(found: pd.DataFrame, title: str, axis: str, name: str, out: Path) -> Path | None:
    """Ratios (speedups) with their bootstrap intervals, one bar a case; none where there are none."""
    if found.empty:
        return None
    ordered = found.sort_values("speedup").tail(40)
    names = list(ordered.label)
    if ordered.device.nunique() > 1:  # one case on several devices: told apart
        names = [f"{label} [{device}]" for label, device in zip(names, ordered.device, strict=True)]
    errors = np.array([ordered.speedup - ordered.low, ordered.high - ordered.speedup]).clip(min=0)
    xlabel = f"{axis} (bars: 95 % bootstrap interval)"
    return _bars(names, ordered.speedup, errors, "#228833", xlabel, title, out / f"{name}.png", ratio=True)


def speedup_plot(ratios: pd.DataFrame, out: Path) -> Path | None:
    """CPU-vs-GPU speedups with their bootstrap intervals; none where no case ran on both."""
    return ratio_plot(ratios, "CPU vs GPU", "speedup = CPU median / GPU median", "speedup", out)


def mode_plot(found: pd.DataFrame, out: Path) -> Path | None:
    """Each execution mode's speedup over the reference mode of its case."""
    return ratio_plot(found, "Execution modes", "speedup = reference-mode median / mode median", "modes", out)


def _is_sample(sample: dict[str, Any]) -> bool:
    """One telemetry sample: its time ``t`` in seconds, and ``util`` % and ``power_w`` where measured."""
    measured = [sample[key] for key in ("util", "power_w") if key in sample]
    return all(FINITE.holds(value) for value in [sample.get("t"), *measured])


def _timeline(file: Path) -> tuple[str, list[dict[str, Any]]]:
    """A telemetry side file's case and samples: they are drawn as read, so anything else is one line
    naming the file."""
    data = read_json(file)
    samples = data.get("timeline") if isinstance(data, dict) else None
    if not isinstance(samples, list) or not all(isinstance(s, dict) and _is_sample(s) for s in samples):
        raise UsageError(f"{file}: not a telemetry timeline (a list of samples with numbers t, util, power_w)")
    case = data.get("case")
    return case if NAME.holds(case) else file.stem, samples


def read_timelines(paths: list[Path], most: int = 12) -> list[tuple[str, list[dict[str, Any]]]]:
    """The runs' telemetry side files (the first ``most``), each checked as read: its case and samples."""
    files = sorted(f for p in paths if p.is_dir() for f in (p / "artifacts" / "telemetry").glob("*.json"))[:most]
    return [_timeline(file) for file in files]


def gpu_timelines(
    timelines: list[tuple[str, list[dict[str, Any]]]], labels: Mapping[str, str], out: Path
) -> Path | None:
    """GPU utilization and power over each case's timed rounds; each case by its label in ``labels``
    (by id), by what its file names where the records hold no result."""
    import matplotlib.pyplot as plt  # noqa: PLC0415

    if not timelines:
        return None
    fig, (util_ax, power_ax) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for case, samples in timelines:
        times = [s["t"] for s in samples]
        if any("util" in s for s in samples):
            util_ax.plot(times, [s.get("util", np.nan) for s in samples], label=labels.get(case, case))
        if any("power_w" in s for s in samples):
            power_ax.plot(times, [s.get("power_w", np.nan) for s in samples])
    util_ax.set(title="GPU utilization (%)", ylim=(0, 105))
    power_ax.set(title="GPU power (W)", xlabel="seconds into the case's timed rounds")
    util_ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    path = out / "gpu_timelines.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def training_curves(collection: Collection, out: Path) -> Path | None:
    import matplotlib.pyplot as plt  # noqa: PLC0415

    runs = [
        case.metrics
        for _, record in collection.records
        for case in record.cases
        if case.metrics and "epochs" in case.metrics
    ]
    if not runs:
        return None
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 4))
    for metrics in runs:
        epochs = [e["epoch"] for e in metrics["epochs"]]
        label = f"{metrics['model']}/{metrics['path']} on {metrics['data_label']}"
        loss_ax.plot(epochs, [e["train_loss"] for e in metrics["epochs"]], marker="o", label=label)
        acc_ax.plot(epochs, [e["test_accuracy"] for e in metrics["epochs"]], marker="o", label=label)
    loss_ax.set(title="train loss", xlabel="epoch")
    acc_ax.set(title="test accuracy", xlabel="epoch")
    acc_ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "training.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


@dataclass
class Section:
    title: str
    lines: list[str]
    table: pd.DataFrame | None = None


def _context(table: pd.DataFrame, collection: Collection) -> Section:
    lines = sorted(
        {f"{m} | torch {t} | {d}" for m, t, d in zip(table.machine, table.torch, table.device_type, strict=True)}
    )
    lines.append(f"runs: {', '.join(sorted(set(table.run)))}")
    lines.append(f"determinism: {', '.join(sorted(set(table.determinism.dropna())))}")
    lines.append(f"containers: {', '.join(sorted(set(table.container.dropna()))) or 'none (run on the host)'}")
    lines.append(f"data: {', '.join(sorted(set(table.data.dropna()))) or 'none'}")
    lines += [  # the nodes without rank 0 of jobs across machines: their jobs are counted in rank 0's record
        f"{path.name}: worker node of {len(record.served)} job(s) across machines, counted in rank 0's record"
        for path, record in collection.records
        if record.served
    ]
    return Section("Context", lines)


def _speedup_section(ratios: pd.DataFrame) -> Section:
    if ratios.empty:
        return Section("CPU vs GPU", ["No case was measured on both a CPU and a GPU."])
    shown = pd.DataFrame({"case": ratios.label, "dtype": ratios.dtype, **_speedup_columns(ratios)})
    if ratios.device.nunique() > 1:  # a run over several GPUs: each against the CPU
        shown.insert(1, "device", ratios.device)
    return Section("CPU vs GPU", crossovers(ratios), shown)


def _speedup_columns(found: pd.DataFrame) -> dict[str, Any]:
    """A ratio table's speedup and its interval, as shown."""
    return {
        "speedup": found.speedup.map("{:.2f}x".format),
        "95 % interval": [
            f"{low:.2f}..{high:.2f}" if np.isfinite(low) else "n/a: one round"
            for low, high in zip(found.low, found.high, strict=True)
        ],
    }


def _modes_section(found: pd.DataFrame, table: pd.DataFrame) -> list[Section]:
    if found.empty:
        return []
    drift = table.set_index("case")
    shown = pd.DataFrame(
        {
            "case": found.label,
            "device": found.device,
            **_speedup_columns(found),
            "first call": [duration(s) if pd.notna(s) else "-" for s in found.first_call_s],
            "break-even calls": [_calls(n) for n in found.break_even_calls],
            "drift / tolerance": [_drift(drift.loc[case]) for case in found.case],
        }
    )
    if table.device_busy_fraction.notna().any():  # on a GPU: how busy the device was, mode against reference
        busy = table.set_index(["case", "device_type", "machine"]).device_busy_fraction.to_dict()
        shown["device busy"] = [
            _busy(busy.get((ref, device, machine)), busy.get((case, device, machine)))
            for ref, case, device, machine in zip(
                found.baseline_case, found.case, found.device_type, found.machine, strict=True
            )
        ]
    note = (
        "speedup = median of the reference mode (eager, fp32, contiguous) of the same case / median of the mode;"
        " first call: the mode's first call, in which torch.compile compiles (Inductor's on-disk cache makes a"
        " graph compiled before on this machine cheaper); break-even: calls after which the first call's extra"
        " time is paid back by faster calls; drift: max |mode - reference| / max |reference| of the first result"
    )
    return [Section("Execution modes", [note], shown)]


def _ratio(row: pd.Series) -> str:
    """A ratio to peers with its interval, as shown: ``1.31 [1.22, 1.40]``."""
    interval = f"{row.low:.2f}, {row.high:.2f}" if np.isfinite(row.low) else "n/a: one round"
    return f"{row.ratio:.2f} [{interval}]"


def _peer_note(member: str, peers: str) -> str:
    effects = ", ".join(f"{family} {effect:.0%}" for family, effect in sorted(PEER_THRESHOLDS.effects.items()))
    return (
        f"ratio = the {member}'s median / the median of {peers}' medians; 95 % bootstrap interval over each"
        f" one's rounds; SLOW: the {PEER_RULE} (bench compare's: {effects})"
    )


def _peer_columns(found: pd.DataFrame, peers: str) -> dict[str, Any]:
    """A side-by-side table's columns as shown: median, its peers', the ratio and the flag."""
    return {
        "median": found.median_s.map(duration),
        peers: found.peers_median_s.map(duration),
        "ratio [95 %]": [_ratio(row) for _, row in found.iterrows()],
        "flag": found.slow.map({True: "SLOW", False: ""}),
    }


def _devices_section(found: pd.DataFrame, table: pd.DataFrame) -> list[Section]:
    """Runs over several devices: how each ran its devices, and each device against the others."""
    placed = table[table.devices.notna()].drop_duplicates("run")
    if placed.empty:
        return []
    manner = {True: "at once (sharing the host: a slow one may be waiting on it)", False: "one at a time"}
    lines = [_peer_note("device", OTHER_DEVICES)] + [
        f"{run}: {devices}, {manner.get(concurrent, 'not recorded whether one at a time or at once')}"
        for run, devices, concurrent in zip(placed.run, placed.devices, placed.concurrent, strict=True)
    ]
    if found.empty:
        return [Section("Devices side by side", lines)]
    shown = pd.DataFrame({"case": found.label, "device": found.member, **_peer_columns(found, "peers")})
    if found.run.nunique() > 1:
        shown.insert(0, "run", found.run)
    return [Section("Devices side by side", lines, shown)]


def _peer_group(frame: pd.DataFrame) -> list[str]:
    """Each row's group of peer hosts, as named: its hardware and its run's thread count (a host that
    ran on other threads is no peer either)."""
    return [
        f"{hardware} / " + ("threads not recorded" if pd.isna(threads) else f"{threads:.0f} thread(s)")
        for hardware, threads in zip(frame.hardware, frame.threads, strict=True)
    ]


def _machines_section(found: pd.DataFrame, table: pd.DataFrame) -> list[Section]:
    """Several hosts: their groups of peers, and each host against the others of its group."""
    if table.host.nunique() < 2:
        return []
    hosts = table.assign(group=_peer_group(table)).groupby("group", sort=False).host.unique()
    names = {group: f"G{number}" for number, group in enumerate(hosts.index, 1)}
    lines = [_peer_note("host", OTHER_HOSTS)] + [
        f"{names[group]} = {group}: {', '.join(members)}" + ("" if len(members) > 1 else " (alone: not compared)")
        for group, members in hosts.items()
    ]
    if found.empty:
        return [Section("Machines side by side (a fleet)", lines)]
    shown = pd.DataFrame(
        {
            "group": [names[group] for group in _peer_group(found)],
            "case": found.label,
            "device": found.device_type,
            "host": found.member,
            **_peer_columns(found, "fleet"),
        }
    )
    return [Section("Machines side by side (a fleet)", lines, shown)]


def _busy(reference: float | None, mode: float | None) -> str:
    shown = ["-" if value is None or pd.isna(value) else f"{value:.0%}" for value in (reference, mode)]
    return " -> ".join(shown)


def _calls(count: float) -> str:
    return "never (not surely faster)" if not np.isfinite(count) else f"{count:,.0f}"


def _drift(row: pd.Series) -> str:
    if pd.isna(row.max_error):
        return "DRIFT: not comparable" if row.drifted else "-"
    return f"{row.max_error:.1e} / {row.tolerance:.0e}" + (" DRIFT" if row.drifted else "")


def _profile_section(table: pd.DataFrame, most: int = 5) -> list[Section]:
    """Where each profiled case's time went (``--profile``): its top operators by self time."""
    profiled = table[table.profile_top.notna()]
    if profiled.empty:
        return []
    rows = [
        {
            "case": label,
            "operator": op["name"],
            "self time per call": duration(op["self_s"]),
            "share": f"{op['share']:.0%}",
        }
        for label, top in zip(profiled.label, profiled.profile_top, strict=True)
        for op in top[:most]
    ]
    note = (
        "calls profiled after each case's timed rounds (never among them); traces for Chrome or Perfetto and"
        " TensorBoard's profiler plugin in each run's artifacts/profile/<case>/"
    )
    return [Section("Profiles: top operators by self time", [note], pd.DataFrame(rows))]


def _scaling_section(jobs: pd.DataFrame) -> list[Section]:
    if jobs.empty:
        return []
    note = (
        "efficiency = images/s of N processes / (N x images/s of one process, same recipe and per-rank batch);"
        " communication = share of a training step's time spent in gradient all-reduce that backward did not"
        " hide (steps timed with and without DDP's no_sync)"
    )
    return [Section("Data-parallel scaling (DDP)", [note], jobs)]


def _as_markdown(section: Section) -> str:
    parts = [f"## {section.title}", "\n".join(f"- {line}" for line in section.lines)]
    if section.table is not None:
        parts.append(_markdown(section.table))
    return "\n\n".join(p for p in parts if p)


def _as_html(section: Section) -> str:
    items = "".join(f"<li>{html.escape(line)}</li>" for line in section.lines)
    table = section.table.to_html(index=False, border=0, classes="results") if section.table is not None else ""
    return f"<h2>{html.escape(section.title)}</h2>" + (f"<ul>{items}</ul>" if items else "") + table


class _Report:
    """A report made in steps, each a plot or a part of the page, so that a long one shows progress."""

    def __init__(self, collection: Collection, folder: Path, store: Path | None) -> None:
        """Everything read and checked here, before the first step: a bad input is one line and no output."""
        from bench import history  # noqa: PLC0415

        self.collection, self.folder, self.store = collection, folder, store
        self.head: list[Section] = []
        self.tail: list[Section] = []
        self.images: list[Path] = []
        self.table = tidy(collection) if collection.records else None
        self.ratios = self.modes = self.devices = self.machines = pd.DataFrame()
        self.timelines = read_timelines([path for path, _ in collection.records])
        self.history = history.load(store) if store is not None else None

    def steps(self) -> list[tuple[str, Callable[[], str]]]:
        steps: list[tuple[str, Callable[[], str]]] = []
        if self.table is not None:
            if self.table.devices.notna().any() or self.table.host.nunique() > 1:
                steps.append(("devices and machines side by side", self._peers))
            steps.append(("tables and speedup intervals", self._tables))
            for family, members in self.table.groupby("family"):
                steps.append((f"timings plot: {family}", partial(self._draw, timings_plot, family, members)))
            steps.append(("speedup plot", lambda: self._draw(speedup_plot, self.ratios)))
            steps.append(("execution modes plot", lambda: self._draw(mode_plot, self.modes)))
            for (device, precision), members in self._roofline_groups():
                steps.append((f"roofline: {device}, {precision}", partial(self._roofline, device, precision, members)))
            steps.append(("GPU timelines", self._timelines))
            steps.append(("training curves", lambda: self._draw(training_curves, self.collection)))
        for number, (path, record) in enumerate(self.collection.head_to_heads, 1):
            steps.append((f"head to head: {path.name}", partial(self._head_to_head, number, path, record)))
        if self.store is not None:
            steps.append((f"trends: {self.store.name}", self._trends))
        steps.append(("report.md, report.html", self._write))
        return steps

    def _draw(self, plot: Callable[..., Path | None], *inputs: Any) -> str:
        image = plot(*inputs, self.folder)
        self.images += [image] if image else []
        return image.name if image else "nothing to draw"

    def _roofline_groups(self) -> list[tuple[tuple[str, str], pd.DataFrame]]:
        """Results with both FLOPs and bytes, by device and precision, where a roof is known for them."""
        assert self.table is not None
        table = self.table
        drawn = table[table.gflops.notna() & table.gbytes_per_s.notna() & table.roofs.map(bool)]
        device = drawn.gpu_name.fillna(drawn.machine.str.split(" / ").str[-1])
        return list(drawn.groupby([device, drawn.precision]))

    def _roofline(self, device: str, precision: str, members: pd.DataFrame) -> str:
        points = [
            RooflinePoint(label, gflops * 1e9 * median, gbytes * 1e9 * median, median)
            for label, gflops, gbytes, median in zip(
                members.label, members.gflops, members.gbytes_per_s, members.median_s, strict=True
            )
        ]
        roofs = list({roof.source: roof for found in members.roofs for roof in found}.values())
        return self._draw(roofline_plot, points, roofs, f"{device}, {precision}")

    def _peers(self) -> str:
        """Before the tables: the SLOW devices and hosts are among the doubts."""
        assert self.table is not None
        self.devices, self.machines = devices_side_by_side(self.table), machines_side_by_side(self.table)
        return ", ".join(
            f"{len(found)} {what} results, {found.slow.sum()} SLOW"
            for what, found in (("device", self.devices), ("host", self.machines))
        )

    def _tables(self) -> str:
        table = self.table
        assert table is not None  # a step only where there are results
        self.ratios, self.modes = speedups(table), mode_speedups(table)
        write_atomic(self.folder / "results.csv", table.drop(columns=INTERNAL).to_csv(index=False))
        devices, machines = self.devices, self.machines
        slow = [*slow_members(devices, OTHER_DEVICES), *slow_members(machines, OTHER_HOSTS)]
        self.head += [
            _context(table, self.collection),
            Section(
                "Doubts", doubts(table, self.collection.skipped, self.collection.failures(), slow) or ["none found"]
            ),
            _speedup_section(self.ratios),
            *_modes_section(self.modes, table),
            *_devices_section(devices, table),
            *_machines_section(machines, table),
            *_profile_section(table),
            *_scaling_section(scaling(table)),
        ]
        self.tail.append(Section("Timings", [], _timings_view(table)))
        return f"{len(table)} results, {len(self.ratios)} speedups, {len(self.modes)} modes compared"

    def _timelines(self) -> str:
        assert self.table is not None
        labels = dict(zip(self.table.case, self.table.label, strict=True))
        return self._draw(gpu_timelines, self.timelines, labels)

    def _head_to_head(self, number: int, path: Path, record: dict[str, Any]) -> str:
        title = f"Head to head: {record['sides']['candidate']['spec']} against {record['sides']['baseline']['spec']}"
        self.head.append(Section(f"{title} ({path.name})", ab_plot.describe(record), ab_plot.shown(record)))
        image = ab_plot.forest(record, title, self.folder / f"head_to_head_{number}.png")
        self.images += [image] if image else []
        return image.name if image else "nothing to draw"

    def _trends(self) -> str:
        """Each workload's trend over the history store's commits, and the steps found in it."""
        from bench import history  # noqa: PLC0415

        assert self.store is not None and self.history is not None
        frame = self.history
        found = history.steps(frame, Thresholds.parse([]))
        self.head.append(Section(f"Trends over commits ({self.store})", history.describe(found)))
        self.images += history.plot(frame, found, self.folder)
        return f"{len(found)} steps found"

    def _write(self) -> str:
        figures = "\n".join(f"![{p.stem}]({p.name})" for p in self.images)
        parts = ["# Benchmark report", *map(_as_markdown, self.head), figures, *map(_as_markdown, self.tail)]
        write_atomic(self.folder / "report.md", "\n\n".join(parts) + "\n")
        page = _html([*map(_as_html, self.head)], self.images, "".join(map(_as_html, self.tail)))
        write_atomic(self.folder / "report.html", page)
        return f"{len(self.images)} plots"


def build(
    paths: list[Path],
    out: Path,
    skip_bad: bool = False,
    store: Path | None = None,
    terminal: Terminal | None = None,
) -> Path:
    """Write the report folder (with trends when given a history store); return the Markdown report's
    path. Progress goes to ``terminal`` where one is given."""
    import matplotlib  # noqa: PLC0415 - slow import, only for reports

    matplotlib.use("Agg")
    collection = collect(paths, skip_bad)
    with staged_folder(out) as staging, literal_text():
        run_steps(_Report(collection, staging, store).steps(), terminal)
    return out / "report.md"


def _base64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


def _html(head: list[str], images: list[Path], tail: str) -> str:
    """One self-contained page: plots inlined as data URIs."""
    style = (
        "body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
        "table.results{border-collapse:collapse;font-size:12px}"
        "table.results td,table.results th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
        "img{max-width:100%}li{margin:2px 0}"
    )
    figures = "".join(
        f"<figure><img alt='{html.escape(image.stem)}' src='data:image/png;base64,{_base64(image)}'>"
        f"<figcaption>{html.escape(image.stem)}</figcaption></figure>"
        for image in images
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>Benchmark report</title><style>{style}</style>"
        f"</head><body><h1>Benchmark report</h1>{''.join(head)}<h2>Plots</h2>{figures}{tail}</body></html>"
    )
