"""What a person sees: the recorded run's summary, coloured on a terminal, the same text elsewhere."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from bench.console import show
from bench.record import RunRecord
from bench.summary import render

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"
ESCAPE = "\x1b["


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def summary() -> str:
    return render(RunRecord.from_json(FIXTURE))


def test_in_a_pipe_the_text_is_printed_as_it_is(summary: str) -> None:
    out = io.StringIO()
    show(summary, out)
    assert out.getvalue() == summary + "\n"


def test_on_a_terminal_only_the_marks_are_coloured(summary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    out = Terminal()
    show(summary + "\n  mm[n=8]  FAILED CaseTimeout: exceeded 2 s; 0 slower, 2 slower", out)
    coloured = out.getvalue()
    assert coloured.count(ESCAPE) > 0
    assert "\x1b[1;33m!\x1b[0m" in coloured, "the noisy mark"
    assert "\x1b[1;31mFAILED\x1b[0m \x1b[1;31mCaseTimeout\x1b[0m" in coloured
    assert "0 slower, 2 \x1b[1;31mslower\x1b[0m" in coloured, "a count of none is not marked"
    plain = coloured
    for code in ("\x1b[1;33m", "\x1b[1;31m", "\x1b[33m", "\x1b[32m", "\x1b[0m"):
        plain = plain.replace(code, "")
    assert plain.startswith(summary), "colour adds no text and moves nothing"
    assert max(len(line) for line in plain.splitlines()) <= 120


def test_no_color_and_a_missing_rich_print_plain(summary: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = Terminal()
    show(summary, out)
    assert ESCAPE not in out.getvalue()
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setitem(sys.modules, "rich.console", None)  # as on a machine without rich
    out = Terminal()
    show(summary, out)
    assert out.getvalue() == summary + "\n"
