"""Short case labels: the workload, and only what tells its cases apart in the set shown.

A case's id names every parameter (``cifar_ddp/epochs=1/batch=64/lr=0.001/…/ranks=all/float32``);
a table, a plot or a progress line needs only what varies among the cases of one workload:
``mm[n=4096, bf16]``, ``cifar_ddp[lenet5, seed, ranks=all]``. A variant's value stands alone where
it names itself (``lenet5``, ``fwd_bwd``, ``lstm``); sizes, and words that say nothing alone
(``all``, ``one``), keep their parameter's name. The full parameters stay in the record and in
``show --full``, ``compare --full`` and a report's ``results.csv``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bench.modes import AXES, REFERENCE

DTYPE_SHORT = {"float32": "fp32", "float64": "fp64", "bfloat16": "bf16", "float16": "fp16"}
# values too generic to stand alone: "ranks=all" says what "all" does not
GENERIC = frozenset({"all", "one", "none", "true", "false", "yes", "no", "on", "off", "auto", "default"})


class Labelled(Protocol):
    """What a label is made from: a :class:`Described`, or a record's ``CaseResult`` as it is."""

    @property
    def workload(self) -> str: ...
    @property
    def params(self) -> Mapping[str, Any]: ...
    @property
    def variants(self) -> Sequence[str]: ...
    @property
    def dtype(self) -> str | None: ...


@dataclass(frozen=True)
class Described:
    """What a label is made from, for cases planned (the registry's) and results (a record's) alike."""

    workload: str
    params: Mapping[str, Any]
    variants: Sequence[str]
    dtype: str | None


def from_id(case_id: str, variants: Mapping[str, Sequence[str]]) -> Described:
    """A case known only by its id (``workload/k=v/…/dtype``: a failure, a head-to-head's case),
    described for labelling; ``variants`` by workload, where known. Its values stay the id's text,
    which :func:`short_labels` compares them by."""
    workload, *middle, dtype = case_id.split("/") if "/" in case_id else (case_id, None)
    params = dict(part.partition("=")[::2] for part in middle)
    return Described(workload, params, variants.get(workload, []), dtype)


def labels_by_id(case_ids: Sequence[str]) -> dict[str, str]:
    """Cases known only by their ids (a head-to-head's, a history store's): each id -> its short label
    among them. No variants are known, so every parameter shown keeps its name (``mm[op=matmul]``)."""
    unique = list(dict.fromkeys(case_ids))
    return dict(zip(unique, short_labels([from_id(case_id, {}) for case_id in unique]), strict=True))


def axis_label(axis: str, value: Any) -> str:
    """An execution mode's value as a label shows it: ``eager``, ``compiled``, ``amp-bf16``, ``channels_last``."""
    return {"off": "eager", "default": "compiled"}.get(str(value), str(value)) if axis == "compile" else str(value)


def _shown(name: str, value: Any, variant: bool) -> str:
    if variant and isinstance(value, str) and value and value.lower() not in GENERIC:
        return value
    return f"{name}={value}"


def short_labels(cases: Sequence[Labelled]) -> list[str]:
    """A label per case, in order: its workload and the parameters (and dtype) that vary among the
    given cases of that workload; unique wherever the cases differ in parameters or dtype. Values are
    compared as case ids write them, so a case known only by its id (:func:`from_id`) reads like a
    result of the same parameters."""
    groups: dict[str, list[Labelled]] = {}
    for case in cases:
        groups.setdefault(case.workload, []).append(case)
    varying: dict[str, list[str]] = {}
    dtype_varies: dict[str, bool] = {}
    for workload, group in groups.items():
        names = list(dict.fromkeys(name for case in group for name in case.params))  # declared order
        names = [name for name in names if name not in AXES] + [axis for axis in AXES if axis in names]
        # an execution-mode axis a case leaves out is at its reference (bench/modes.py)
        varying[workload] = [
            name for name in names if len({str(case.params.get(name, REFERENCE.get(name))) for case in group}) > 1
        ]
        dtype_varies[workload] = len({case.dtype for case in group}) > 1
    labels = []
    for case in cases:
        parts = [
            axis_label(name, case.params.get(name, REFERENCE[name]))
            if name in AXES
            else _shown(name, case.params.get(name), name in case.variants)
            for name in varying[case.workload]
        ]
        if dtype_varies[case.workload]:
            parts.append(DTYPE_SHORT.get(case.dtype or "?", case.dtype or "?"))
        labels.append(f"{case.workload}[{', '.join(parts)}]" if parts else case.workload)
    return labels
