"""The run folder: ``results/runs/<run-id>/`` and atomic writes into it.

A run folder holds ``benchmark.json`` (pytest-benchmark's record, per-round
data kept), ``command.json`` (the exact command and where it ran) and
``environment.json`` (machine, versions, installed packages).  Every file is
written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.errors import FileError, UsageError, file_errors

RESULTS_ENV = "BENCH_RESULTS"  # the images set it to their /results volume


def results_root() -> Path:
    """Where results go unless a command says otherwise: ``$BENCH_RESULTS``, else ``./results``."""
    return Path(os.environ.get(RESULTS_ENV) or "results")


BENCHMARK_JSON = "benchmark.json"
# A full GPU run with its per-round times is a few MB; a file far larger is not a record of ours,
# and is refused before it is read into memory.
MAX_RECORD_BYTES = 256 * 2**20


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()  # what open() would give; mkstemp's files are private (0600)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A folder to write ``out``'s files into (a hidden sibling), moved into ``out`` only once all are
    written: a failure on the way (a full disk) leaves ``out`` as it was, and any other files in it stay."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: not a folder")
    with file_errors(f"cannot create {out}"):
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".staging"))
    try:
        with file_errors(f"cannot write {out} (it is as it was)"):
            yield staging
            out.mkdir(exist_ok=True)
            for file in sorted(staging.iterdir()):
                os.replace(file, out / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def read_bounded(file: Path, max_bytes: int = MAX_RECORD_BYTES, what: str = "any run record") -> bytes:
    """A regular file's bytes, at most ``max_bytes`` (``what`` is allowed to be that large).

    Opened without blocking and checked on the open descriptor, so a FIFO or a device (a link to
    ``/dev/zero`` says it is empty and never ends) is refused before anything is read; the cap is
    counted while reading, not trusted from ``st_size``.
    """
    with file_errors(f"cannot read {file}"):
        descriptor = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                raise FileError(f"{file}: not a regular file")
            if status.st_size > max_bytes:  # at once; the count below catches a file that grows
                size, limit = status.st_size / 2**20, max_bytes / 2**20
                raise FileError(f"{file}: {size:.0f} MB, more than {what} ({limit:.0f} MB)")
            chunks, total = [], 0
            while total <= max_bytes and (chunk := os.read(descriptor, min(1 << 20, max_bytes + 1 - total))):
                chunks.append(chunk)
                total += len(chunk)
        finally:
            os.close(descriptor)
    if total > max_bytes:
        raise FileError(f"{file}: more than {what} ({max_bytes / 2**20:.0f} MB)")
    return b"".join(chunks)


def read_json(file: Path, max_bytes: int = MAX_RECORD_BYTES) -> Any:
    """A JSON file from outside (:func:`read_bounded`), every failure one line."""
    data = read_bounded(file, max_bytes)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise UsageError(f"{file}: not valid JSON (not UTF-8 text: {error.reason})") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"{file}: not valid JSON ({error})") from None
    except RecursionError:
        raise UsageError(f"{file}: JSON nested too deeply to be a run record") from None


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def new_run_dir(root: Path, label: str) -> Path:
    """Create ``root/<UTC time>-<host>-<label>``, unique even within one second."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    host = socket.gethostname().split(".")[0] or "host"
    base = f"{stamp}-{host}-{label}"
    with file_errors(f"cannot create results folder {root}"):
        root.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        run_dir = root / (base if n == 0 else f"{base}-{n}")
        with file_errors(f"cannot create a run folder in {root}"):
            try:
                run_dir.mkdir()
                return run_dir
            except FileExistsError:
                continue
    raise UsageError(f"too many runs named {base} in {root}")
