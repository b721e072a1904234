"""Each member against its peers (bench/peers.py), on CONSTRUCTED per-round times: lognormal noise
around a chosen median, so that what is slow, and by how much, is known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.peers import peer_ratios

EFFECT = 0.10


def rounds(median: float, spread: float, count: int, seed: int) -> list[float]:
    """``count`` per-round times around ``median``, lognormal with ``spread`` (its sigma)."""
    return list(median * np.random.default_rng(seed).lognormal(0, spread, count))


def test_a_member_30_percent_slower_than_identical_peers_is_flagged() -> None:
    members = {f"cuda:{i}": rounds(1e-3, 0.02, 30, seed=i) for i in range(4)}
    members["cuda:2"] = [t * 1.3 for t in members["cuda:2"]]
    found = {r.member: r for r in peer_ratios(members, EFFECT)}
    assert list(found) == ["cuda:0", "cuda:1", "cuda:2", "cuda:3"], "in the order given"
    sick = found["cuda:2"]
    assert sick.slow and 1 + EFFECT < sick.low <= sick.ratio <= sick.high
    assert sick.ratio == pytest.approx(1.3, rel=0.03)
    assert sick.ratio == pytest.approx(sick.median_s / sick.peers_median_s)
    assert not any(r.slow for name, r in found.items() if name != "cuda:2")
    healthy = found["cuda:0"]
    assert healthy.low < 1.05 and healthy.high > 0.95, "the sick one is no yardstick: leave-one-out median"


def test_identical_members_are_not_flagged() -> None:
    same = rounds(2e-3, 0.05, 20, seed=0)
    found = peer_ratios({"a": same, "b": list(same), "c": list(same)}, EFFECT)
    assert [r.ratio for r in found] == [1.0, 1.0, 1.0]
    assert not any(r.slow for r in found)
    assert all(r.low <= 1 <= r.high for r in found)


def test_a_difference_within_the_noise_is_not_flagged() -> None:
    """Noisy rounds (sigma 0.3) and a member 5 % slower: nothing surely beyond the minimum effect."""
    members = {name: rounds(1e-3, 0.3, 12, seed=i) for i, name in enumerate(["a", "b", "c"])}
    members["b"] = [t * 1.05 for t in members["b"]]
    found = peer_ratios(members, EFFECT)
    assert not any(r.slow for r in found)
    assert all(r.high - r.low > 0.2 for r in found), "the noise shows in the intervals"


def test_two_members_each_is_the_others_peer() -> None:
    healthy = rounds(1e-3, 0.02, 25, seed=1)
    sick = [t * 1.3 for t in rounds(1e-3, 0.02, 25, seed=2)]
    first, second = peer_ratios({"host-a": healthy, "host-b": sick}, EFFECT)
    assert (first.member, second.member) == ("host-a", "host-b")
    assert first.peers_median_s == second.median_s and second.peers_median_s == first.median_s
    assert second.slow and not first.slow, "only the slow side is flagged"
    assert first.ratio == pytest.approx(1 / second.ratio)


def test_one_member_has_no_peers() -> None:
    assert peer_ratios({"cuda:0": rounds(1e-3, 0.02, 10, seed=0)}, EFFECT) == []
    assert peer_ratios({"cuda:0": rounds(1e-3, 0.02, 10, seed=0), "cuda:1": []}, EFFECT) == [], "no rounds: no member"


def test_a_result_timed_once_has_a_ratio_but_no_interval() -> None:
    """A training case runs one round: its ratio stands, with nothing to resample, and flags nothing."""
    found = peer_ratios({"a": [10.0], "b": [13.0], "c": [10.0], "d": [10.0]}, EFFECT)
    assert [r.ratio for r in found] == [1.0, 1.3, 1.0, 1.0]
    assert all(math.isnan(r.low) and math.isnan(r.high) and not r.slow for r in found)
