"""Command-line argument types, and a parser whose errors are one line (kept free of torch, so
that the commands that do not run anything start fast)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from bench.errors import UsageError


def parse_number(label: str, text: str, kind: type[int] | type[float], minimum: float) -> Any:
    """``text`` as an int or float no smaller than ``minimum``; UsageError naming ``label`` otherwise."""
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise UsageError(f"{label} expects {'an integer' if kind is int else 'a number'}, got {text!r}") from None
    if value < minimum:
        raise UsageError(f"{label} must be >= {minimum:g}, got {text}")
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
