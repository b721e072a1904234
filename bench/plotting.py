"""What every plot of the suite needs, as its text comes from run records."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any


@contextlib.contextmanager
def literal_text() -> Iterator[None]:
    """matplotlib draws text as given: labels and titles are names from records (case ids, families,
    commits), and one with two '$' in it would otherwise be parsed as mathtext and fail to draw."""
    import matplotlib  # noqa: PLC0415 - slow to import; only plotting needs it

    with matplotlib.rc_context({"text.parse_math": False}):
        yield


def log_scale(ax: Any, which: str) -> None:
    """A log scale whose ticks read as plain numbers (0.01, 0.1, 1, 10): matplotlib's own log labels
    are mathtext, shown as raw '$\\mathdefault{10^{-3}}$' under :func:`literal_text`."""
    from matplotlib import ticker  # noqa: PLC0415

    getattr(ax, f"set_{which}scale")("log")
    axis = getattr(ax, f"{which}axis")
    axis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(ticker.NullFormatter())


def file_name(name: str) -> str:
    """A name from a record as part of a file name: letters, digits, '.', '-' and '_' kept, the rest
    '_', at most 100 characters (a family may be 'vision/detection', or longer than a name may be)."""
    return re.sub(r"[^\w.-]", "_", name)[:100]
