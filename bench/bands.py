"""Reference accuracy bands and the verdicts of ``python -m bench reproduce``.

A band (``results/references/cifar10_bands.toml``) applies to one model, recipe, epoch count,
data set — as results name it: ``cifar10``, ``cifar10-jpeg`` … never ``synthetic`` — and device
kind, and says where its numbers come from.  A training result is checked against the band that
matches all of these; with none, its verdict is ``NO BAND``, which counts as a miss.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import UsageError
from bench.record import RunRecord
from bench.runs import read_bounded

DEFAULT_BANDS = Path(__file__).parents[1] / "results" / "references" / "cifar10_bands.toml"
RECIPES = {"seed": {"batch": 64, "lr": 0.001}}  # the tutorial's; a band's recipe must be one of these
FIELDS = {
    "model": str,
    "recipe": str,
    "epochs": int,
    "data": str,
    "device": str,
    "low": float,
    "high": float,
    "provenance": str,
}


@dataclass(frozen=True)
class Band:
    model: str
    recipe: str
    epochs: int
    data: str
    device: str
    low: float
    high: float
    provenance: str

    def key(self) -> tuple[str, str, int, str, str]:
        return (self.model, self.recipe, self.epochs, self.data, self.device)


MAX_BANDS_BYTES = 1 << 20  # a bands file is a few kB of TOML


def load_bands(path: Path = DEFAULT_BANDS) -> list[Band]:
    """Read and check a bands file; any problem is one UsageError line naming the file."""
    text = read_bounded(path, MAX_BANDS_BYTES, "any bands file")
    try:
        raw = tomllib.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"{path}: not a readable TOML bands file ({error})") from None
    entries = raw.get("band")
    if not isinstance(entries, list) or not entries:
        raise UsageError(f"{path}: no [[band]] entries")
    bands = []
    for number, entry in enumerate(entries, 1):
        for name, kind in FIELDS.items():
            value = entry.get(name)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise UsageError(f"{path}: band {number}: '{name}' must be a {kind.__name__}, got {value!r}")
            entry[name] = value
        band = Band(**{name: entry[name] for name in FIELDS})
        if not 0 <= band.low <= band.high <= 1:
            raise UsageError(f"{path}: band {number}: need 0 <= low <= high <= 1, got {band.low}..{band.high}")
        if band.recipe not in RECIPES:
            raise UsageError(f"{path}: band {number}: unknown recipe {band.recipe!r} (known: {', '.join(RECIPES)})")
        if band.data == "synthetic":
            raise UsageError(f"{path}: band {number}: synthetic data has no reference accuracy")
        bands.append(band)
    keys = [b.key() for b in bands]
    if len(set(keys)) != len(keys):
        raise UsageError(f"{path}: two bands for the same model, recipe, epochs, data and device")
    return bands


def recipe_of(params: dict[str, Any], metrics: dict[str, Any], data: dict[str, Any]) -> str | None:
    """The recipe a training result followed, or None if it changed any of it (a data subset too)."""
    whole = metrics.get("train_images") == data.get("train_count") and metrics.get("test_images") == data.get(
        "test_count"
    )
    for name, recipe in RECIPES.items():
        if whole and all(params.get(k) == v for k, v in recipe.items()):
            return name
    return None


@dataclass(frozen=True)
class Verdict:
    model: str
    path: str
    epochs: int
    data: str
    device: str
    recipe: str | None
    accuracy: float
    band: Band | None

    @property
    def passed(self) -> bool:
        return self.band is not None and self.band.low <= self.accuracy <= self.band.high

    @property
    def word(self) -> str:
        if self.band is None:
            return "NO BAND"
        return "PASS" if self.passed else "MISS"


def judge(record: RunRecord, bands: list[Band]) -> list[Verdict]:
    """A verdict for every training result in a run record."""
    by_key = {b.key(): b for b in bands}
    verdicts = []
    for case in record.cases:
        metrics, data = case.metrics or {}, case.data or {}
        if "final_test_accuracy" not in metrics:
            continue
        recipe = recipe_of(case.params, metrics, data)
        label = data.get("label", "?")
        epochs = len(metrics.get("epochs") or [])
        key = (metrics["model"], recipe, epochs, label, case.device_type or "?")
        verdicts.append(
            Verdict(
                metrics["model"],
                metrics["path"],
                epochs,
                label,
                key[4],
                recipe,
                metrics["final_test_accuracy"],
                by_key.get(key),
            )
        )
    return verdicts


def table(verdicts: list[Verdict]) -> str:
    rows = [("model", "path", "epochs", "data", "device", "expected band", "measured", "verdict")]
    for v in verdicts:
        band = f"{v.band.low:.1%} .. {v.band.high:.1%}" if v.band else "-"
        data = v.data if v.recipe else f"{v.data} (not the recipe)"
        rows.append((v.model, v.path, str(v.epochs), data, v.device, band, f"{v.accuracy:.2%}", v.word))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
