"""The pytest-benchmark entry point: one parametrized test runs every selected case.

Run it through ``python -m bench run`` (which also makes the run folder), or
directly: ``pytest bench/suite --bench-device cuda -k matmul``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bench.errors import UsageError

SUITE_DIR = Path(__file__).parent

# pytest options that write or send files: after ``--`` they could overwrite a user's files (a
# stored baseline through --benchmark-json) or delete them (--basetemp empties its folder). The
# run folder is where a run writes.
WRITERS = frozenset(
    {
        "--basetemp",
        "--benchmark-autosave",
        "--benchmark-cprofile-dump",
        "--benchmark-histogram",
        "--benchmark-json",
        "--benchmark-save",
        "--benchmark-save-data",
        "--benchmark-storage",
        "--cov-report",
        "--debug",
        "--html",
        "--junit-xml",
        "--junitxml",
        "--log-file",
        "--pastebin",
        "--report-log",
        "--result-log",
        "--resultlog",
    }
)
WRITING_INI = ("cache_dir", "log_file", "junit")  # -o KEY=VALUE keys that name where to write


def refuse_writers(options: Sequence[str]) -> None:
    """One line naming the first pytest option in ``options`` that would write files."""
    for i, option in enumerate(options):
        following = options[i + 1] if i + 1 < len(options) else ""
        name, _, value = option.partition("=")
        if name in WRITERS:
            raise UsageError(
                f"{name} after -- would write files outside the run folder (the record is its benchmark.json)"
            )
        if name in ("-o", "--override-ini"):
            key = value or following
        elif option.startswith("-o"):  # -oKEY=VALUE
            key = option[2:]
        else:
            continue
        if key.startswith(WRITING_INI):
            raise UsageError(f"-o {key.partition('=')[0]} after -- would write files outside the run folder")


def pytest_args(json_path: Path, options: Sequence[str], table: bool = False) -> list[str]:
    """pytest's arguments for a suite run whose record goes to ``json_path``; pytest-benchmark's own
    table (over 200 columns wide) only with ``table``: the suite prints its summary after the run.

    Of the pytest plugins installed beside it, only pytest-benchmark is loaded (``-p NAME`` after ``--``
    adds one): the others would run inside the measured process (a coverage tracer, a random test
    order) and cost its start-up time (hypothesis's alone: 0.8 s of CPU here)."""
    return [
        *([] if table else ["--benchmark-quiet"]),
        "-q",  # no file names and dots: the suite prints its own progress lines
        "--no-header",
        str(SUITE_DIR),
        "--disable-plugin-autoload",
        "-p",
        "benchmark",
        "-p",
        "no:cacheprovider",
        f"--rootdir={SUITE_DIR}",
        f"--benchmark-json={json_path}",
        f"--benchmark-storage=file://{json_path.parent}",  # else pytest-benchmark makes ./.benchmarks
        "--benchmark-columns=median,iqr,rounds,iterations",
        "--benchmark-sort=fullname",
        *options,
    ]
