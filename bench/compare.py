"""``python -m bench compare BASELINE CURRENT``: did anything get slower, judged from per-round samples.

Each benchmark found in both runs (same workload, parameters, dtype and device) gets the ratio of
medians current / baseline with a bootstrap interval over the rounds, and a verdict:

* ``slower`` — the interval lies above 1 (the change is real at the chosen confidence) **and**
  the ratio exceeds 1 + the family's minimum effect (it is large enough to matter);
* ``faster`` — the mirror image (interval below 1, ratio under 1 / (1 + effect));
* ``unchanged`` — the whole interval lies within [1 / (1 + effect), 1 + effect]: evidence of no
  change that matters, not merely a lack of evidence;
* ``inconclusive`` — none of these: too few rounds, or too noisy to say.

Only ``slower`` fails the comparison (exit 1). Runs from different hardware, devices, torch
versions or determinism modes are refused (exit 2) unless ``--allow-mismatch``.

Runs made alike (same seed, determinism mode, device type, torch version and threads) should
also compute the same numbers: a case whose ``result_sha256`` differs is a warning, not a failure.

The table and the warnings name cases by their short labels (bench/labels.py); ``--full`` by id.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import UsageError
from bench.labels import short_labels
from bench.record import CaseResult, RunRecord
from bench.stats import ratio_interval

CONFIDENCE = 0.99
MIN_ROUNDS = 3
DEFAULT_EFFECT = 0.10
# Minimum effects of families whose timings wander more from run to run (disk, Python loops,
# data loading): a looser bar there, so that CI does not cry wolf.
FAMILY_EFFECT = {"checkpoint": 0.25, "cifar10": 0.20, "recurrent": 0.15, "autograd": 0.15}
ORDER = ("slower", "faster", "inconclusive", "unchanged")
WIDESPREAD = 0.3  # above this share of cases changed, suspect the machine (load, clocks), not the code


@dataclass(frozen=True)
class Thresholds:
    """Minimum relative effect per family (``default`` for the rest) and the interval's confidence."""

    effects: dict[str, float]
    confidence: float = CONFIDENCE

    def effect(self, family: str | None) -> float:
        return self.effects.get(family or "", self.effects.get("default", DEFAULT_EFFECT))

    @classmethod
    def parse(cls, overrides: list[str], confidence: float = CONFIDENCE) -> Thresholds:
        """``FAMILY=FRACTION`` overrides (``default=0.05`` for every other family) on the defaults."""
        effects = {"default": DEFAULT_EFFECT, **FAMILY_EFFECT}
        for text in overrides:
            family, sep, value = text.partition("=")
            try:
                effect = float(value)
            except ValueError:
                effect = math.nan
            if not sep or not family or not 0 < effect < 10:
                raise UsageError(f"--threshold {text!r}: expected FAMILY=FRACTION, 0 < FRACTION < 10, e.g. matrix=0.05")
            effects[family] = effect
        if not 0.5 <= confidence < 1:
            raise UsageError(f"--confidence {confidence}: expected a value in [0.5, 1)")
        return cls(effects, confidence)


@dataclass(frozen=True)
class Verdict:
    case: str
    family: str | None
    baseline_s: float
    current_s: float
    ratio: float
    low: float
    high: float
    effect: float
    verdict: str
    rounds: tuple[int, int]


def judge(
    baseline: list[float], current: list[float], effect: float, confidence: float, rng: np.random.Generator
) -> tuple[float, float, float, str]:
    """(ratio, low, high, verdict) of current against baseline per-round times."""
    ratio = float(np.median(current) / np.median(baseline))
    if min(len(baseline), len(current)) < MIN_ROUNDS:
        return ratio, math.nan, math.nan, "inconclusive"
    low, high = ratio_interval(current, baseline, confidence, rng)
    return ratio, low, high, verdict(ratio, low, high, effect)


def verdict(ratio: float, low: float, high: float, effect: float) -> str:
    """The verdict on a ratio current / baseline and its interval, for a minimum effect that counts."""
    if low > 1 and ratio > 1 + effect:
        return "slower"
    if high < 1 and ratio < 1 / (1 + effect):
        return "faster"
    if low >= 1 / (1 + effect) and high <= 1 + effect:
        return "unchanged"
    return "inconclusive"


Results = dict[tuple[str, str, str, str], CaseResult]  # results by CaseResult.key


def _results(record: RunRecord, where: Path) -> Results:
    results = {case.key: case for case in record.cases if case.timing.samples}
    if not results:
        raise UsageError(f"{where}: no benchmark results with per-round times to compare")
    return results


def fingerprint(record: RunRecord) -> dict[str, Any]:
    """What must match for two runs' timings to be comparable (hostnames may differ: CI runners)."""
    return {
        "cpu": record.machine_info.get("cpu_model"),
        "cpus": record.machine_info.get("cpu_count"),
        "gpus": sorted(record.gpu_names),
        "device": record.context.get("device"),
        "torch": record.torch_version,
        "determinism": record.context.get("determinism"),
    }


def mismatches(baseline: RunRecord, current: RunRecord) -> list[str]:
    ours, theirs = fingerprint(baseline), fingerprint(current)
    return [f"{name}: baseline {ours[name]!r}, current {theirs[name]!r}" for name in ours if ours[name] != theirs[name]]


def reproduction(record: RunRecord) -> dict[str, Any]:
    """What must match for two runs to compute identical results: on the CPU the thread count too,
    as reductions split their work by threads."""
    return {
        **{name: record.context.get(name) for name in ("seed", "determinism", "device_type", "threads")},
        "torch": record.torch_version,
    }


def different_results(baseline: RunRecord, current: RunRecord, old: Results, new: Results) -> list[str]:
    """The cases of both runs whose results differ though the runs were made alike and the case
    read the same data; none when the runs were not made alike."""
    if reproduction(baseline) != reproduction(current):
        return []
    found = []
    for key in sorted(old.keys() & new.keys()):
        a, b = old[key], new[key]
        if None not in (a.result_sha256, b.result_sha256) and a.result_sha256 != b.result_sha256 and a.data == b.data:
            found.append(b.id)
    return found


@dataclass
class Comparison:
    verdicts: list[Verdict]
    only_baseline: list[str]
    only_current: list[str]
    warnings: list[str]
    different_results: list[str]
    labels: dict[str, str]  # every case id above -> its short label, made over both sides together
    interleaved: bool = False  # both sides measured in one interleaved session: drift cancels

    def name(self, case: str, full: bool = False) -> str:
        """How the table and the warnings name a case: by its short label, or with ``full`` its id."""
        return case if full else self.labels[case]

    @property
    def regressed(self) -> bool:
        return any(v.verdict == "slower" for v in self.verdicts)

    def counts(self) -> dict[str, int]:
        return {name: sum(v.verdict == name for v in self.verdicts) for name in ORDER}

    def doubts(self, full: bool = False) -> list[str]:
        """Warnings: results that did not reproduce, and so many cases changed that the machine's
        speed, not the code, likely did."""
        doubts = []
        if self.different_results:
            doubts.append(
                f"results differ in {len(self.different_results)} case(s) though both runs had the same seed,"
                " determinism mode, device type, torch version and threads (not reproducible, or the code changed;"
                " see docs/determinism.md): " + ", ".join(self.name(case, full) for case in self.different_results)
            )
        counts = self.counts()
        changed = counts["slower"] + counts["faster"]
        if self.verdicts and changed / len(self.verdicts) > WIDESPREAD and not self.interleaved:
            doubts.append(
                f"{changed} of {len(self.verdicts)} cases changed ({counts['slower']} slower, {counts['faster']}"
                " faster): more than a code change usually moves; the machine's speed may have changed"
                " between the runs (other load, clocks); rerun both on a quiet machine."
            )
        return doubts


def _distance(ratio: float) -> float:
    """How far a ratio lies from 1 on a log scale, to sort by: one that under- or overflowed (times of
    1e-300 s against 1 s) lies furthest."""
    return abs(math.log(ratio)) if 0 < ratio < math.inf else math.inf


def compare(baseline_path: Path, current_path: Path, thresholds: Thresholds, allow_mismatch: bool) -> Comparison:
    baseline, current = RunRecord.from_json(baseline_path), RunRecord.from_json(current_path)
    base_results, current_results = _results(baseline, baseline_path), _results(current, current_path)
    warnings = mismatches(baseline, current)
    if warnings and not allow_mismatch:
        raise UsageError(f"runs not comparable ({'; '.join(warnings)}); --allow-mismatch to compare anyway")
    rng = np.random.default_rng(0)
    verdicts = []
    for key in sorted(base_results.keys() & current_results.keys()):
        case = current_results[key]
        old, new = base_results[key].timing.samples, case.timing.samples
        effect = thresholds.effect(case.family)
        ratio, low, high, verdict = judge(old, new, effect, thresholds.confidence, rng)
        verdicts.append(
            Verdict(
                case.id,
                case.family,
                float(np.median(old)),
                float(np.median(new)),
                ratio,
                low,
                high,
                effect,
                verdict,
                (len(old), len(new)),
            )
        )
    verdicts.sort(key=lambda v: (ORDER.index(v.verdict), -_distance(v.ratio), v.case))
    both = [*base_results.values(), *current_results.values()]
    return Comparison(
        verdicts,
        sorted(base_results[k].id for k in base_results.keys() - current_results.keys()),
        sorted(current_results[k].id for k in current_results.keys() - base_results.keys()),
        warnings,
        different_results(baseline, current, base_results, current_results),
        dict(zip([case.id for case in both], short_labels(both), strict=True)),
    )


def _time(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds * 1e9:.3g} ns"


SEQUENTIAL = "per-round times: {confidence} bootstrap interval of the ratio of medians"


def markdown(
    result: Comparison,
    thresholds: Thresholds,
    baseline: str,
    current: str,
    method: str = SEQUENTIAL,
    full: bool = False,
) -> str:
    """The comparison as a Markdown table with its counts, thresholds and warnings; ``method`` says
    how the intervals were made; ``full``: cases by id instead of short label."""
    counts = result.counts()
    lines = [
        f"## Benchmark comparison: {current} against {baseline}",
        "",
        ", ".join(f"**{n} {name}**" if name == "slower" and n else f"{n} {name}" for name, n in counts.items())
        + f"; {len(result.only_baseline)} only in the baseline, {len(result.only_current)} only in the current run.",
        f"Verdicts from {method.format(confidence=f'{thresholds.confidence:.0%}')},"
        f" minimum effect {thresholds.effect(None):.0%} (families: "
        + ", ".join(f"{k} {v:.0%}" for k, v in sorted(thresholds.effects.items()) if k != "default")
        + ").",
    ]
    lines += [f"> **WARNING** runs differ: {w}" for w in result.warnings]
    lines += [f"> **WARNING** {doubt}" for doubt in result.doubts(full)]
    lines += ["", "| case | baseline | current | ratio [interval] | verdict |", "|---|---:|---:|---|---|"]
    for v in result.verdicts:
        interval = "" if math.isnan(v.low) else f" [{v.low:.3f}, {v.high:.3f}]"
        verdict = f"**{v.verdict.upper()}**" if v.verdict == "slower" else v.verdict
        few = v.verdict == "inconclusive" and min(v.rounds) < MIN_ROUNDS
        rounds = f" (rounds: {v.rounds[0]} vs {v.rounds[1]})" if few else ""
        name = result.name(v.case, full)
        lines.append(
            f"| `{name}` | {_time(v.baseline_s)} | {_time(v.current_s)} | {v.ratio:.3f}{interval} | {verdict}{rounds} |"
        )
    for title, cases in (("Only in the baseline", result.only_baseline), ("Only in the current", result.only_current)):
        if cases:
            lines += ["", f"{title}: " + ", ".join(f"`{result.name(c, full)}`" for c in cases)]
    return "\n".join(lines) + "\n"
