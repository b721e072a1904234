"""Which container engine runs the suite's images: one rule for ``nox -s docker-*`` and ``bench ab image:``.

``$BENCH_CONTAINER_ENGINE`` when set, else ``docker`` where its engine answers, else ``podman``.
Standard library only: the noxfile imports it before any environment exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess


def container_engine() -> str | None:
    """The engine's command, or None when there is none."""
    chosen = os.environ.get("BENCH_CONTAINER_ENGINE")
    if chosen:
        return chosen
    if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True, check=False).returncode == 0:
        return "docker"
    return "podman" if shutil.which("podman") else None
