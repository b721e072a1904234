"""Tables and verdicts as a person reads them: on a terminal, the marks that call for attention
coloured (a noisy median, a failure, a slower case, loader-bound or synthetic training) through
rich; anywhere else (a pipe, a CI log, ``NO_COLOR`` set, rich absent as on a bare GPU machine)
the same text, plain. Colour only marks words already there, so nothing is said by colour alone.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

# regular expressions of rich's highlighter: a group's name is its style's (bench.<name>)
MARKS = [
    r"(?P<noisy>(?<=\s)!(?=\s)|\b\d+(\.\d+)?%!)",  # the summary's "!" by a noisy median
    # a count of none is not marked: "0 failed", "0 slower"
    r"(?P<bad>(?<!\b0 )\b(slower|failed)\b|\b(SLOWER|FAILED|FAIL|DRIFT|DRIFTED|[A-Z]\w*(Error|Timeout))\b)",
    r"(?P<good>(?<!\b0 )\b(faster|passed)\b|\bPASS\b)",
    r"(?P<doubt>\b(LOADER-BOUND|LAUNCH-BOUND|SYNTHETIC|synthetic|inconclusive|NOISY)\b)",
]
STYLES = {"bench.noisy": "bold yellow", "bench.bad": "bold red", "bench.good": "green", "bench.doubt": "yellow"}


def show(text: str, out: TextIO | None = None) -> None:
    """Print ``text`` (a table, a verdict), coloured where ``out`` is a terminal that takes colour
    (``NO_COLOR`` unset: rich would still print bold under it)."""
    out = out or sys.stdout
    if out.isatty() and not os.environ.get("NO_COLOR"):
        try:
            _coloured(text, out)
            return
        except ImportError:  # rich is not installed
            pass
    print(text, file=out, flush=True)


def _coloured(text: str, out: TextIO) -> None:
    from rich.console import Console  # noqa: PLC0415 - only where colour is shown
    from rich.highlighter import RegexHighlighter  # noqa: PLC0415
    from rich.theme import Theme  # noqa: PLC0415

    class Marks(RegexHighlighter):
        base_style = "bench."
        highlights = MARKS

    console = Console(file=out, highlighter=Marks(), theme=Theme(STYLES), markup=False, emoji=False)
    # no wrapping and no cropping: the text's own line breaks, as in a pipe
    console.print(text, soft_wrap=True, overflow="ignore", crop=False)
    out.flush()
