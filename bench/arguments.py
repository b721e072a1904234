"""Command-line argument types, and a parser whose errors are one line (kept free of torch, so
that the commands that do not run anything start fast)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any

from bench.errors import UsageError


def parse_number(
    label: str, text: str, kind: type[int] | type[float], minimum: float, maximum: float | None = None
) -> Any:
    """``text`` as a finite int or float in [``minimum``, ``maximum``]; UsageError naming ``label`` otherwise."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise UsageError(f"{label} expects {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if not math.isfinite(value):  # nan and inf pass every comparison below, or fail it silently
        raise UsageError(f"{label} expects a finite number, got {text!r}")
    if value < minimum:
        raise UsageError(f"{label} must be >= {minimum:g}, got {text}")
    if maximum is not None and value > maximum:
        raise UsageError(f"{label} must be <= {maximum if isinstance(maximum, int) else f'{maximum:g}'}, got {text}")
    return value


def at_least(minimum: int) -> Callable[[str], int]:
    """argparse type: an integer >= ``minimum``."""

    def parse(text: str) -> int:
        try:
            return parse_number("value", text, int, minimum)
        except UsageError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


positive_int = at_least(1)


class OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are one line on stderr and exit 2."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message}\n")
