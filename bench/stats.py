"""Intervals from per-round samples: the one statistic reports and comparisons share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

RESAMPLES = 2000
MAX_DRAWN = 1 << 23  # values drawn at once: 64 MB of float64, whatever the number of rounds


def bootstrap_medians(values: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """The medians of ``RESAMPLES`` resamples of ``values``, drawn in slices of at most ``MAX_DRAWN``
    values, so that a record with a million rounds needs 64 MB, not 15 GiB (up to 4,194 rounds it is
    one draw)."""
    values = np.asarray(values, dtype=float)
    rows = max(1, MAX_DRAWN // len(values))
    return np.concatenate(
        [
            np.median(rng.choice(values, (min(rows, RESAMPLES - start), len(values))), axis=1)
            for start in range(0, RESAMPLES, rows)
        ]
    )


def ratio_interval(
    numerator: Sequence[float], denominator: Sequence[float], confidence: float, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile-bootstrap interval of median(numerator) / median(denominator).

    Each side's per-round times are resampled on their own (rounds are the independent unit),
    so the interval widens with either side's noise. NaNs where a side has under two rounds.
    """
    if len(numerator) < 2 or len(denominator) < 2:
        return float("nan"), float("nan")
    top, bottom = bootstrap_medians(numerator, rng), bootstrap_medians(denominator, rng)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(top / bottom, [tail, 100 - tail])
    return float(low), float(high)
