"""The run folder: ``results/runs/<run-id>/`` and atomic writes into it.

A run folder holds ``benchmark.json`` (pytest-benchmark's record, per-round
data kept), ``command.json`` (the exact command and where it ran) and
``environment.json`` (machine, versions, installed packages).  Every file is
written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import os
import shutil
import socket
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

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


def check_folder(path: Path) -> None:
    """A folder to write into, or a path where one can be made; not a file, nor a dangling link
    (which mkdir reports as "File exists")."""
    if path.is_symlink() and not path.exists():
        raise UsageError(f"{path}: a link to {os.readlink(path)}, which does not exist")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path}: not a folder")


@contextlib.contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A folder to write ``out``'s files into (a hidden sibling), moved into ``out`` only once all are
    written: a failure on the way (a full disk) leaves ``out`` as it was, and any other files in it stay."""
    check_folder(out)
    with file_errors(f"cannot create {out}"):
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".staging"))
    try:
        with file_errors(f"cannot write {out} (it is as it was)"):
            yield staging
            out.mkdir(exist_ok=True)
            with _locked(out):  # two writers at once: one's files, then the other's, never a mix
                for file in sorted(staging.iterdir()):
                    os.replace(file, out / file.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive lock on ``folder`` itself (flock on its descriptor: no lock file left behind)."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step (Linux's renameat2 RENAME_EXCHANGE); False where not available."""
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:
        return False
    at_cwd, exchange = -100, 2
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL):  # an old kernel, or a file system without it
        return False
    raise OSError(code, os.strerror(code), str(b))


def promote(run_dir: Path, baseline: Path) -> None:
    """Make a copy of ``run_dir`` the baseline folder, whole, even while others promote or read it.

    The copy is made under a unique hidden name beside ``baseline`` and then put in its place in
    one step: renamed where there is no baseline, else swapped with it (the old one is then
    removed), so a reader finds the old baseline or the new one, never none or half of one; of
    two promotions at the same moment, one's copy is the baseline after both.
    """
    with file_errors(f"cannot make {run_dir} the baseline {baseline} (it is as it was)"):
        baseline.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(dir=baseline.parent, prefix=f".{baseline.name}.", suffix=".staging"))
        try:
            shutil.copytree(run_dir, staged, dirs_exist_ok=True)
            try:
                os.rename(staged, baseline)  # atomic; refused where a baseline exists
                return
            except OSError as error:
                if error.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR):
                    raise
            if not _exchange(staged, baseline):
                retired = staged.with_suffix(".old")
                os.rename(baseline, retired)  # no one-step swap here: a moment without a baseline
                os.rename(staged, baseline)
                staged = retired
        finally:
            shutil.rmtree(staged, ignore_errors=True)


def open_regular(file: Path) -> BinaryIO:
    """``file`` open for reading if it is a regular file; one line otherwise, before anything is read.

    Opened without blocking and checked on the open descriptor: a FIFO would block a plain ``open``
    until a writer comes, and a device (a link to ``/dev/zero``) says it is empty and never ends.
    """
    with file_errors(f"cannot read {file}"):
        descriptor = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    stream = os.fdopen(descriptor, "rb")
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        stream.close()
        raise FileError(f"{file}: not a regular file")
    return stream


def read_bounded(file: Path, max_bytes: int = MAX_RECORD_BYTES, what: str = "any run record") -> bytes:
    """A regular file's bytes (:func:`open_regular`), at most ``max_bytes`` (``what`` may be that
    large): refused at once when its size says more, and counted while reading, for a file that
    grows or lies about its size."""
    with open_regular(file) as stream, file_errors(f"cannot read {file}"):
        size = os.fstat(stream.fileno()).st_size
        if size > max_bytes:
            raise FileError(f"{file}: {size / 2**20:.0f} MB, more than {what} ({max_bytes / 2**20:.0f} MB)")
        content = stream.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise FileError(f"{file}: more than {what} ({max_bytes / 2**20:.0f} MB)")
    return content


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
    check_folder(root)
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
