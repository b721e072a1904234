"""Each member against its peers: a slow device among a machine's GPUs, a slow host among a fleet's.

Members (devices, hosts) that should be equally fast each give the per-round times of one case.
A member's median is set against its peers' median, the median of the OTHER members' medians
(leave-one-out: a slow member does not pull its own yardstick towards it; with two members the
peer is the other one). The interval is a percentile bootstrap: in each resample every member's
rounds are resampled on their own (rounds are the independent unit, as in bench/stats.py) and the
ratio is recomputed from the resampled medians, the peers' median of medians included; it widens
with the member's noise and with its peers'.

A member is flagged ``slow`` when the WHOLE interval lies above 1 + ``effect``: surely slower, and by
more than the minimum effect that counts (the spread between healthy members that round-to-round
noise does not show: clocks, cooling, placement). Only the slow side is flagged: with two members,
the healthy one is by symmetry surely "faster" than the sick one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from bench.stats import bootstrap_medians

CONFIDENCE = 0.95
MIN_ROUNDS = 2  # fewer, and a member's rounds have no spread to resample: no interval


@dataclass(frozen=True)
class PeerRatio:
    """One member's median against its peers' median; ``low``, ``high``: NaN where the member or a
    peer has under ``MIN_ROUNDS`` rounds (a training case timed once)."""

    member: str
    median_s: float
    peers_median_s: float
    ratio: float  # median_s / peers_median_s: above 1, the member is slower
    low: float
    high: float
    slow: bool


def peer_ratios(
    members: Mapping[str, Sequence[float]],
    effect: float,
    confidence: float = CONFIDENCE,
    rng: np.random.Generator | None = None,
) -> list[PeerRatio]:
    """Each member with rounds against the others, in the order given; none where fewer than two
    members have rounds (a member alone has no peers)."""
    timed = {name: np.asarray(rounds, dtype=float) for name, rounds in members.items() if len(rounds)}
    if len(timed) < 2:
        return []
    rng = rng or np.random.default_rng(0)
    names = list(timed)
    medians = np.array([np.median(timed[name]) for name in names])
    resampled = (
        np.stack([bootstrap_medians(timed[name], rng) for name in names])
        if min(map(len, timed.values())) >= MIN_ROUNDS
        else None
    )
    tail = 100 * (1 - confidence) / 2
    found = []
    for index, name in enumerate(names):
        peers = np.arange(len(names)) != index
        yardstick = float(np.median(medians[peers]))
        low = high = float("nan")
        if resampled is not None:
            ratios = resampled[index] / np.median(resampled[peers], axis=0)
            low, high = (float(bound) for bound in np.percentile(ratios, [tail, 100 - tail]))
        ratio = float(medians[index] / yardstick)
        found.append(PeerRatio(name, float(medians[index]), yardstick, ratio, low, high, low > 1 + effect))
    return found
