"""The head-to-head record (``ab.json`` in its run folder): written once, read by ``show``.

One record holds both sides' fingerprints, every case's blocks by worker pair (baseline and
candidate seconds per call, and the ABBA / BAAB order of each quad), and the verdicts. It is a
record of its own kind, not a pytest-benchmark file: ``compare`` and the history store keep
reading runs, and their semantics do not change. Reading it needs neither torch nor the workloads.
It holds each case by id (with its workload and family), so its short labels are made from ids.
"""

from __future__ import annotations

import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.compare import Comparison, Thresholds, Verdict, markdown
from bench.errors import UsageError
from bench.labels import labels_by_id
from bench.runs import read_json, write_json

if TYPE_CHECKING:
    from bench.ab.session import Outcome, Plan

AB_JSON = "ab.json"
METHOD = (
    "interleaved blocks: {confidence} hierarchical bootstrap interval (worker pairs, then block pairs)"
    " of the median block ratio"
)
KIND = "head-to-head"
SCHEMA = 1


def write(run_dir: Path, outcome: Outcome, plan: Plan, thresholds: Thresholds) -> Path:
    record = {
        "kind": KIND,
        "schema": SCHEMA,
        "datetime": datetime.now(UTC).isoformat(),
        "sides": {"baseline": outcome.sides[0].record(), "candidate": outcome.sides[1].record()},
        "settings": json.loads(plan.settings),
        "targets": plan.targets,
        "selection": plan.selection,
        "policy": plan.policy,
        "pairs": plan.pairs,
        "case_time": plan.case_time,
        "block_rounds": plan.block_rounds,
        "affinity": plan.affinity,
        "thresholds": {"effects": thresholds.effects, "confidence": thresholds.confidence},
        "cases": [case.record() for case in outcome.cases],
        "only_baseline": outcome.only_baseline,
        "only_candidate": outcome.only_candidate,
        "partial": outcome.partial,
        "interrupted_by": outcome.interrupted_by,
        "seconds": outcome.seconds,
    }
    write_json(run_dir / AB_JSON, record)
    return run_dir / AB_JSON


def is_head_to_head(path: Path) -> bool:
    """A run folder of ``bench ab``, or its record file."""
    return (path / AB_JSON).is_file() if path.is_dir() else path.name == AB_JSON


def read(path: Path) -> dict[str, Any]:
    """A head-to-head record (its run folder or the file), its shape checked."""
    file = path / AB_JSON if path.is_dir() else path
    record = read_json(file)
    if not isinstance(record, dict) or record.get("kind") != KIND:
        raise UsageError(f"{file}: not a head-to-head record")
    if record.get("schema") != SCHEMA:
        raise UsageError(f"{file}: head-to-head schema {record.get('schema')!r}, this version reads {SCHEMA}")
    cases = record.get("cases")
    if not isinstance(cases, list) or not all(isinstance(c, dict) and isinstance(c.get("id"), str) for c in cases):
        raise UsageError(f"{file}: 'cases' must be a list of objects with an 'id'")
    for side in ("only_baseline", "only_candidate"):
        if not isinstance(record.get(side), list) or not all(isinstance(c, str) for c in record[side]):
            raise UsageError(f"{file}: {side!r} must be a list of case ids")
    return record


def labels(record: dict[str, Any]) -> dict[str, str]:
    """Every case id of the record -> its short label. The cases of both sides are labelled among
    themselves, as the progress lines label them; a case of one side only among all, so that it reads
    apart from them."""
    common = [case["id"] for case in record["cases"]]
    return labels_by_id([*common, *record["only_baseline"], *record["only_candidate"]]) | labels_by_id(common)


def comparison(record: dict[str, Any]) -> Comparison:
    """The record's verdicts as ``compare``'s, for its table; failed cases are left out (listed apart)."""
    verdicts = []
    for case in record["cases"]:
        if case.get("error") or not case.get("pairs"):
            continue
        baseline = [t for pair in case["pairs"] for t in pair["baseline"]]
        candidate = [t for pair in case["pairs"] for t in pair["candidate"]]
        nan = float("nan")
        verdicts.append(
            Verdict(
                case["id"],
                case.get("family"),
                statistics.median(baseline),
                statistics.median(candidate),
                case.get("ratio") or nan,
                _number(case.get("low")),
                _number(case.get("high")),
                case.get("effect") or nan,
                case.get("verdict", "inconclusive"),
                (len(baseline), len(candidate)),
            )
        )
    return Comparison(
        verdicts, record["only_baseline"], record["only_candidate"], [], [], labels(record), interleaved=True
    )


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


def sides_line(record: dict[str, Any]) -> str:
    """Both sides in one line each: what differs between them is what was compared."""
    lines = []
    for role in ("baseline", "candidate"):
        side = record["sides"][role]
        commit = f" @ {str(side['revision'])[:12]}" if side.get("revision") else ""
        commit += f" ({side.get('engine')} {str(side.get('image_id'))[:19]})" if side.get("image") else ""
        lines.append(
            f"{role}: {side['spec']}{commit} | torch {side.get('torch')} | python {side.get('python')}"
            f" | {side.get('cpu')} x{side.get('cpus')}"
        )
    return "\n".join(lines)


def placement(pairs: object, threads: object, affinity: list[list[int]]) -> str:
    """How the workers ran: pairs, threads, and the CPUs each pair was pinned to."""
    placed = ", ".join("+".join(map(str, cpus)) for cpus in affinity) or "placed by the system"
    return f"{pairs} worker pairs, {threads} thread(s) each, CPUs by pair: {placed}"


def render(record: dict[str, Any], full: bool = False) -> str:
    """``show`` of a head-to-head: both sides, then the verdicts table and failures, cases by short
    label (``full``: by id)."""
    thresholds = Thresholds(record["thresholds"]["effects"], record["thresholds"]["confidence"])
    sides, result = record["sides"], comparison(record)
    table = markdown(result, thresholds, sides["baseline"]["spec"], sides["candidate"]["spec"], METHOD, full)
    how = placement(record.get("pairs"), record.get("settings", {}).get("threads"), record.get("affinity") or [])
    extra = [
        f"FAILED {result.name(case['id'], full)}: {case['error']}" for case in record["cases"] if case.get("error")
    ]
    if record.get("partial"):
        extra.append(f"PARTIAL: interrupted by {record.get('interrupted_by')}")
    return "\n".join([sides_line(record), how, table.rstrip(), *extra])
