"""Running the suite as a separate process, the way a user or CI does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]


def cases_done(finished: int) -> str:
    """A regular expression for the progress line a run prints in a pipe once ``finished`` cases are
    done (``[ k/N] …``, one line per case)."""
    return rf"^\[ *{finished}/"


def run_python(
    *argv: str, cwd: Path, timeout: float = 900, env: dict[str, str] | None = None, **popen: Any
) -> subprocess.CompletedProcess[str]:
    """``python argv…`` in ``cwd`` with this checkout importable; never raises on a non-zero exit.
    ``popen``: more of ``subprocess.run``'s arguments (e.g. ``preexec_fn``)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run(
        [sys.executable, *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
        **popen,
    )
