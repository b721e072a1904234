"""Ratios from interleaved blocks: a hierarchical bootstrap over worker pairs, then blocks.

Each worker pair yields block pairs (a baseline block and the candidate block next to it in the
ABBA / BAAB order); the statistic is the median of their log-ratios, so drift that hits both
blocks of a pair cancels. The interval resamples pairs of workers first, then the block pairs
within each, so it is as wide as the spread between fresh processes makes it, not only the noise
within one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from bench.compare import verdict

RESAMPLES = 2000
MIN_BLOCK_PAIRS = 3


def log_ratios(baseline: Sequence[float], candidate: Sequence[float]) -> list[float]:
    """log(candidate / baseline) of each block pair."""
    return [math.log(b / a) for a, b in zip(baseline, candidate, strict=True) if a > 0 and b > 0]


def median_ratio(groups: Sequence[Sequence[float]]) -> float:
    """exp(median of every pair's log-ratios, pooled)."""
    pooled = [r for group in groups for r in group]
    return math.exp(float(np.median(pooled))) if pooled else math.nan


def interval(
    groups: Sequence[Sequence[float]], confidence: float, rng: np.random.Generator, resamples: int = RESAMPLES
) -> tuple[float, float]:
    """Percentile interval of :func:`median_ratio` by a two-level bootstrap (pairs, then block pairs)."""
    groups = [np.asarray(g, dtype=float) for g in groups if len(g)]
    if sum(len(g) for g in groups) < MIN_BLOCK_PAIRS:
        return math.nan, math.nan
    sizes = np.array([len(g) for g in groups])
    padded = np.full((len(groups), sizes.max()), np.nan)
    for row, group in enumerate(groups):
        padded[row, : len(group)] = group
    # every resample at once: pairs drawn with replacement, then as many block pairs from each as it
    # has; slots past a drawn pair's size stay NaN and the median skips them
    chosen = rng.integers(len(groups), size=(resamples, len(groups)))
    picks = (rng.random((resamples, len(groups), sizes.max())) * sizes[chosen][..., None]).astype(int)
    drawn = padded[chosen[..., None], picks]
    drawn[np.arange(sizes.max()) >= sizes[chosen][..., None]] = np.nan
    medians = np.nanmedian(drawn.reshape(resamples, -1), axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.exp(np.percentile(medians, [tail, 100 - tail]))
    return float(low), float(high)


def judge_pairs(
    groups: Sequence[Sequence[float]], effect: float, confidence: float, rng: np.random.Generator
) -> tuple[float, float, float, str]:
    """(ratio, low, high, verdict) of the candidate against the baseline: ``compare``'s verdicts."""
    ratio = median_ratio(groups)
    low, high = interval(groups, confidence, rng)
    if math.isnan(low):
        return ratio, low, high, "inconclusive"
    return ratio, low, high, verdict(ratio, low, high, effect)
