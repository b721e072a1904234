"""The history store: runs appended to one SQLite file, and each workload's trend over commits.

SQLite (Python's own ``sqlite3``) rather than Parquet: no extra dependency, one file, queryable
with any SQLite tool, and every append is a single transaction, so a process killed mid-append
leaves the store exactly as it was (SQLite rolls the half-written transaction back when the file
is next opened). Parquet would need pyarrow and a rewritten or extra file per append.

A run is keyed by the sha256 of its record, so appending it again changes nothing. Each result
keeps its per-round times, so a step between two points is judged like ``compare`` judges two
runs.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import sqlite3
import tempfile
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import runs
from bench.compare import Thresholds, fingerprint, judge
from bench.errors import UsageError, file_errors
from bench.labels import labels_by_id
from bench.plotting import file_name, literal_text, log_scale
from bench.record import RunRecord, record_file
from bench.runs import read_bounded

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,            -- the run folder's name (or the file's)
    record_sha256 TEXT NOT NULL UNIQUE,
    started TEXT, commit_id TEXT, commit_time TEXT, dirty INTEGER, branch TEXT,
    machine TEXT NOT NULL,              -- compare.fingerprint: hardware, device, torch, determinism
    host TEXT, device TEXT, torch TEXT, determinism TEXT, image TEXT,
    appended TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    case_id TEXT NOT NULL, workload TEXT, family TEXT, params TEXT, dtype TEXT, device_type TEXT,
    median_s REAL, iqr_s REAL, rounds INTEGER,
    samples TEXT NOT NULL,              -- JSON list of per-round seconds
    PRIMARY KEY (run_id, case_id)
);
"""


def default_path() -> Path:
    return runs.results_root() / "history.sqlite"


def _create(path: Path) -> None:
    """A new, complete store at ``path``: filled in a temporary file beside it, then hard-linked into
    place. The link fails when another process made the store first; theirs is kept and used. So no
    process ever sees a store half made, or deletes one it did not make."""
    descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".new")
    os.close(descriptor)
    try:
        with closing(sqlite3.connect(name)) as connection, connection:
            connection.executescript(SCHEMA)
            connection.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        with contextlib.suppress(FileExistsError):
            os.link(name, path)
    finally:
        os.unlink(name)


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


def _check_columns(connection: sqlite3.Connection, path: Path) -> None:
    """A store whose tables lack columns of the schema (made by hand, or by another program) is
    refused here, in one line, rather than failing in the middle of a query."""
    with closing(sqlite3.connect(":memory:")) as reference:
        reference.executescript(SCHEMA)
        for table in ("runs", "results"):
            missing = sorted(_columns(reference, table) - _columns(connection, table))
            if missing:
                named = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
                raise UsageError(f"{path}: not a usable history store (table {table} lacks {named})")


def connect(path: Path, create: bool) -> sqlite3.Connection:
    """Open the store (made when ``create`` and there is none), checking that it is one, of our schema
    version; any other file, SQLite databases of other programs included, is refused and left untouched."""
    if not path.exists() and not create:
        raise UsageError(f"{path}: no history store here (python -m bench history append RUN makes one)")
    if path.is_dir():
        raise UsageError(f"{path}: a folder, not a history store")
    with file_errors(f"{path}: cannot open"):
        try:
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                _create(path)
            connection = sqlite3.connect(path, timeout=30)
            try:
                tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "meta" not in tables:
                    raise UsageError(f"{path}: not a history store (an SQLite file without its 'meta' table)")
                version = connection.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if version is None:
                    raise UsageError(f"{path}: not a history store (no schema version in its 'meta' table)")
                if version[0] != str(SCHEMA_VERSION):
                    raise UsageError(f"{path}: history schema {version[0]}, this version reads {SCHEMA_VERSION}")
                _check_columns(connection, path)
            except BaseException:
                connection.close()
                raise
        except sqlite3.DatabaseError as error:
            raise UsageError(f"{path}: not a usable history store ({error})") from None
    return connection


def _run_row(run_path: Path, record: RunRecord, digest: str) -> dict[str, Any]:
    commit, machine, context = record.commit_info, record.machine_info, record.context
    name = run_path.name if run_path.is_dir() else f"{run_path.stem}-{digest[:12]}"
    return {
        "run_id": name,
        "record_sha256": digest,
        "started": record.datetime,
        "commit_id": commit.get("id"),
        "commit_time": commit.get("time"),
        "dirty": int(bool(commit.get("dirty"))),
        "branch": commit.get("branch"),
        "machine": json.dumps(fingerprint(record), sort_keys=True),
        "host": machine.get("node"),
        "device": context.get("device"),
        "torch": record.torch_version,
        "determinism": context.get("determinism"),
        "image": (machine.get("container") or {}).get("image_id"),
    }


def _result_rows(run_id: str, record: RunRecord) -> list[tuple[Any, ...]]:
    rows = []
    for case in record.cases:
        timing = case.timing
        if timing.samples:
            rows.append(
                (
                    run_id,
                    case.id,
                    case.workload,
                    case.family,
                    case.params_json,
                    case.dtype,
                    case.device_type,
                    timing.median_s,
                    timing.iqr_s,
                    len(timing.samples),
                    json.dumps(timing.samples),
                )
            )
    return rows


def append(store: Path, run_path: Path) -> str:
    """Add one run in one transaction; a message saying what was done."""
    record = RunRecord.from_json(run_path)
    file = record_file(run_path)
    digest = hashlib.sha256(read_bounded(file)).hexdigest()
    with closing(connect(store, create=True)) as connection:
        if connection.execute("SELECT 1 FROM runs WHERE record_sha256 = ?", (digest,)).fetchone():
            return f"{run_path}: already in {store}"
        row = _run_row(run_path, record, digest)
        results = _result_rows(row["run_id"], record)
        if not results:
            raise UsageError(f"{file}: no results with per-round times to keep")
        try:
            with connection:  # one transaction: all of the run or none of it
                columns = ", ".join(row)
                connection.execute(
                    f"INSERT INTO runs ({columns}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
                )
                connection.executemany(f"INSERT INTO results VALUES ({', '.join('?' * 11)})", results)
        except sqlite3.IntegrityError:
            raise UsageError(f"{store}: another run named {row['run_id']} is already in the history") from None
        except sqlite3.DatabaseError as error:
            raise UsageError(f"{store}: cannot append ({error})") from None
    return f"{run_path}: {len(results)} results appended to {store}"


def load(store: Path) -> pd.DataFrame:
    """Every result with its run's facts, oldest first."""
    with closing(connect(store, create=False)) as connection:
        frame = pd.read_sql_query(
            "SELECT r.*, runs.started, runs.commit_id, runs.machine, runs.host, runs.dirty"
            " FROM results r JOIN runs USING (run_id) ORDER BY runs.started, runs.run_id",
            connection,
        )
    if frame.empty:
        raise UsageError(f"{store}: the history holds no results yet")
    try:
        frame["samples"] = frame.samples.map(json.loads)
    except (TypeError, ValueError):
        raise UsageError(f"{store}: not a usable history store (results.samples are not JSON lists)") from None
    return frame


@dataclass(frozen=True)
class Step:
    """A change between two consecutive points of one series that ``compare`` would call real."""

    case_id: str
    label: str  # the case's short label among the store's cases
    workload: str
    before: str  # commit (or run) before the step
    after: str
    ratio: float
    verdict: str


def _label(row: pd.Series) -> str:
    commit = row.commit_id if isinstance(row.commit_id, str) and row.commit_id != "unversioned" else None
    return (commit[:8] + ("+" if row.dirty else "")) if commit else row.run_id


def steps(frame: pd.DataFrame, thresholds: Thresholds) -> list[Step]:
    """Slower/faster steps along each series (one case on one machine fingerprint)."""
    found, rng = [], np.random.default_rng(0)
    names = labels_by_id(list(frame.case_id))
    for (case_id, _), series in frame.groupby(["case_id", "machine"], sort=True):
        rows = list(series.itertuples(index=False))
        for before, after in itertools.pairwise(rows):
            ratio, _, _, verdict = judge(
                before.samples, after.samples, thresholds.effect(after.family), thresholds.confidence, rng
            )
            if verdict in ("slower", "faster"):
                found.append(
                    Step(case_id, names[case_id], after.workload, _label(before), _label(after), ratio, verdict)
                )
    return found


def plot(frame: pd.DataFrame, found: list[Step], out: Path) -> list[Path]:
    """One PNG per workload in the folder ``out``: each case's median per run over time, steps marked."""
    import matplotlib  # noqa: PLC0415 - slow to import; only plotting needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    frame = frame.assign(label=[_label(row) for row in frame.itertuples(index=False)])
    names = labels_by_id(list(frame.case_id))
    order = list(dict.fromkeys(frame.run_id))  # runs in time order: the x axis
    images = []
    for workload, rows in frame.groupby("workload", sort=True):
        figure, axis = plt.subplots(figsize=(9, 4))
        try:
            with literal_text():
                for (case_id, _), series in rows.groupby(["case_id", "machine"], sort=True):
                    x = [order.index(run) for run in series.run_id]
                    axis.plot(x, series.median_s * 1e3, marker="o", markersize=3, linewidth=1, label=names[case_id])
                    for step in (s for s in found if s.case_id == case_id):
                        point = series[series.label == step.after]
                        if len(point):
                            where = (order.index(point.run_id.iloc[-1]), point.median_s.iloc[-1] * 1e3)
                            slower = step.verdict == "slower"
                            axis.annotate(
                                "▲" if slower else "▼", where, color="red" if slower else "green", ha="center"
                            )
                labels = dict(zip(frame.run_id, frame.label, strict=False))
                axis.set_xticks(range(len(order)), [labels[run] for run in order], rotation=45, ha="right", fontsize=7)
                log_scale(axis, "y")
                axis.set_ylabel("median per call (ms)")
                axis.set_title(f"{workload}: trend over commits (▲ slower, ▼ faster step)")
                if rows.case_id.nunique() <= 8:
                    axis.legend(fontsize=6)
                figure.tight_layout()
                path = out / f"trend_{file_name(str(workload))}.png"  # a plain pytest-benchmark name holds '/'
                figure.savefig(path, dpi=90)
        finally:
            plt.close(figure)
        images.append(path)
    return images


def describe(found: list[Step]) -> list[str]:
    if not found:
        return ["no step change between consecutive runs of any series"]
    return [f"{s.verdict.upper()} {s.label}: {s.before} -> {s.after}, x{s.ratio:.3f}" for s in found]
