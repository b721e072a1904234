"""A head-to-head in a report: both environments side by side, and a forest plot of every case's
ratio with its interval, grouped by family."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.ab.store import labels, placement, sides_line
from bench.plotting import log_scale


def table(record: dict[str, Any]) -> pd.DataFrame:
    """One row per measured case: family, case (its id), label, ratio, interval, verdict."""
    named = labels(record)
    rows = [
        {
            "family": case.get("family"),
            "case": case["id"],
            "label": named[case["id"]],
            "ratio": round(case["ratio"], 3),
            "interval": "" if case.get("low") is None else f"{case['low']:.3f}..{case['high']:.3f}",
            "verdict": case.get("verdict"),
            "worker pairs": len(case.get("pairs", [])),
        }
        for case in record["cases"]
        if not case.get("error") and case.get("ratio") is not None
    ]
    columns = ["family", "case", "label", "ratio", "interval", "verdict", "worker pairs"]
    return pd.DataFrame(rows, columns=columns).sort_values(["family", "case"], kind="stable")


def shown(record: dict[str, Any]) -> pd.DataFrame:
    """The table as a report shows it: cases by their labels."""
    return table(record).drop(columns="case").rename(columns={"label": "case"})


def forest(record: dict[str, Any], title: str, path: Path) -> Path | None:
    """Each case's ratio candidate / baseline as a point with its interval, families apart; None with no case."""
    import matplotlib  # noqa: PLC0415 - slow import, only for reports

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    rows = table(record)
    if rows.empty:
        return None
    colours = {"slower": "#cc3311", "faster": "#228833", "unchanged": "#4477aa", "inconclusive": "#999999"}
    fig, ax = plt.subplots(figsize=(9, 0.22 * len(rows) + 1.6))
    cases = {case["id"]: case for case in record["cases"]}
    for y, row in enumerate(rows.itertuples(index=False)):
        case = cases[row.case]
        low, high = case.get("low"), case.get("high")
        if low is not None and high is not None and math.isfinite(low) and math.isfinite(high):
            ax.plot([low, high], [y, y], color=colours.get(row.verdict, "#999999"), linewidth=2)
        ax.plot([row.ratio], [y], "o", color=colours.get(row.verdict, "#999999"), markersize=4)
    ax.axvline(1, color="black", linewidth=0.8)
    log_scale(ax, "x")
    ax.set_yticks(range(len(rows)), [f"{f}: {c}" for f, c in zip(rows.family, rows.label, strict=True)], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("ratio candidate / baseline (line: interval; red slower, green faster, blue unchanged)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def describe(record: dict[str, Any]) -> list[str]:
    """The section's lines: both environments, what was measured, what failed."""
    counts = table(record).verdict.value_counts().to_dict()
    lines = sides_line(record).splitlines()
    lines.append(
        ", ".join(f"{counts.get(v, 0)} {v}" for v in ("slower", "faster", "unchanged", "inconclusive"))
        + f"; {record['case_time']} s per case and pair"
    )
    lines.append(placement(record["pairs"], record.get("settings", {}).get("threads"), record.get("affinity") or []))
    named = labels(record)
    lines += [f"FAILED {named[case['id']]}: {case['error']}" for case in record["cases"] if case.get("error")]
    if record.get("partial"):
        lines.append(f"PARTIAL: interrupted by {record.get('interrupted_by')}")
    return lines
