"""Intervals from per-round samples: the one statistic reports and comparisons share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000


def ratio_interval(
    numerator: Sequence[float], denominator: Sequence[float], confidence: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(numerator) / median(denominator).

    Each side's per-round times are resampled on their own (rounds are the independent unit),
    so the interval widens with either side's noise. NaNs where a side has under two rounds.
    """
    if len(numerator) < 2 or len(denominator) < 2:
        return float("nan"), float("nan")
    top = np.median(rng.choice(np.asarray(numerator), (RESAMPLES, len(numerator))), axis=1)
    bottom = np.median(rng.choice(np.asarray(denominator), (RESAMPLES, len(denominator))), axis=1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(top / bottom, [tail, 100 - tail])
    return float(low), float(high)
