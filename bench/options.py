"""The suite's options, defined once for both the CLI and the pytest plugin.

``python -m bench run --device cuda`` and ``pytest bench/suite --bench-device
cuda`` read the same table, land in the same ``bench_*`` attributes, and are
validated by the same code.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.arguments import parse_number
from bench.context import DATA_SOURCES, DETERMINISM_MODES, DataSettings, RunSettings
from bench.errors import UsageError
from bench.modes import AXES, REFERENCE
from bench.profiling import DEFAULT_CALLS
from bench.registry import DISTRIBUTED, KNOWN_SIZES, Case, Workload, plan, select, sources
from bench.timing import RoundPolicy


@dataclass(frozen=True)
class Option:
    name: str
    help: str
    kwargs: dict[str, Any]

    @property
    def dest(self) -> str:
        return "bench_" + self.name.replace("-", "_")

    def add_to(self, add: Callable[..., Any], prefix: str) -> None:
        """Add to an argparse parser or a pytest option group (same signature)."""
        add(f"--{prefix}{self.name}", dest=self.dest, help=self.help, **self.kwargs)


def _many(metavar: str) -> dict[str, Any]:
    return {"action": "append", "default": [], "metavar": metavar}


OPTIONS = (
    Option("device", "cpu, cuda or cuda:N (default: cpu)", {"default": "cpu"}),
    Option(
        "size", f"parameter set: {', '.join(KNOWN_SIZES)} (default: full, or smoke with --quick)", {"default": None}
    ),
    Option("quick", "smoke sizes and few, short rounds", {"action": "store_true", "default": False}),
    Option(
        "workloads",
        "also load the workloads of this module, .py file or folder (repeatable); without a selection, only theirs run",
        _many("TARGET"),
    ),
    Option("workload", "run this workload (repeatable)", _many("NAME")),
    Option("family", "run this family (repeatable)", _many("FAMILY")),
    Option("tag", "run workloads with this tag (repeatable)", _many("TAG")),
    Option("dtype", "run only this dtype (repeatable)", _many("DTYPE")),
    Option("param", "override a parameter in every case that has it, e.g. n=4096 (repeatable)", _many("KEY=VALUE")),
    Option(
        "compile",
        f"torch.compile modes, comma-separated: {', '.join(AXES['compile'])} (default: off)",
        {"default": "off"},
    ),
    Option(
        "precision",
        f"float math, comma-separated: {', '.join(AXES['precision'])} (default: fp32, TF32 off)",
        {"default": "fp32"},
    ),
    Option(
        "memory-format",
        f"layout of 4-D tensors, comma-separated: {', '.join(AXES['memory_format'])} (default: contiguous)",
        {"default": "contiguous"},
    ),
    Option("seed", "seed for python, numpy and torch (default: 0)", {"default": "0"}),
    Option("determinism", f"{', '.join(DETERMINISM_MODES)} (default: warn)", {"default": "warn"}),
    Option("threads", "torch intra-op threads (default: torch's choice)", {"default": None}),
    Option("max-time", "seconds of timed rounds per benchmark (default: 2, 0.05 with --quick)", {"default": None}),
    Option(
        "case-timeout",
        "seconds one case may take in all; past it the case is stopped and recorded as failed (default: no limit)",
        {"default": None},
    ),
    Option(
        "profile",
        "after each case's timed rounds, N more calls under torch.profiler: a Chrome trace and TensorBoard's"
        f" profiler files in the run folder, the top operators in the record (N default {DEFAULT_CALLS})",
        {"nargs": "?", "const": str(DEFAULT_CALLS), "default": None, "metavar": "N"},
    ),
    Option(
        "telemetry-hz",
        "GPU and process sampling rate while a benchmark runs; 0 turns it off (default: 20)",
        {"default": "20"},
    ),
    Option(
        "data-source",
        f"data set for training workloads: {', '.join(DATA_SOURCES)} (default: auto)",
        {"default": "auto"},
    ),
    Option(
        "data-root",
        "data set location: download folder, torchvision-layout folder, .npz or ImageFolder tree",
        {"default": None},
    ),
    Option("loader-workers", "DataLoader worker processes for the seed data path (default: 0)", {"default": "0"}),
    Option(
        "pin-memory",
        "pinned host memory in the seed data path's DataLoader",
        {"action": "store_true", "default": False},
    ),
)


def add_options(add: Callable[..., Any], prefix: str = "") -> None:
    for option in OPTIONS:
        option.add_to(add, prefix)


def suite_namespace(**values: Any) -> argparse.Namespace:
    """The suite's options at their defaults, with ``values`` set (``bench_*`` names): how a command
    that runs the suite for its own ends (``reproduce``) states its options, typed, without an argv."""
    parser = argparse.ArgumentParser()
    add_options(parser.add_argument)
    namespace = parser.parse_args([])
    unknown = [name for name in values if name.startswith("bench_") and not hasattr(namespace, name)]
    if unknown:
        raise TypeError(f"not suite options: {', '.join(unknown)}")
    return argparse.Namespace(**{**vars(namespace), **values})


SEED_MAX = 2**64 - 1  # torch.manual_seed's range (numpy's seed is taken modulo 2**32)


def _option_number(
    name: str, text: str | None, kind: type[int] | type[float], minimum: float, maximum: float | None = None
) -> Any:
    return None if text is None else parse_number(f"--{name}", text, kind, minimum, maximum)


def _parse_value(key: str, text: str, current: Any) -> Any:
    """``text`` as the type of the parameter's declared value."""
    label = f"parameter {key}"
    if isinstance(current, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise UsageError(f"{label} expects true or false, got {text!r}")
        return text.lower() in ("true", "1")
    if isinstance(current, int):
        return parse_number(label, text, int, 1)
    if isinstance(current, float):
        return parse_number(label, text, float, 0)
    return text


def _axis_values(axis: str, text: str) -> tuple[str, ...]:
    """``--compile off,default`` and the like: known values, each once, in the axis's own order."""
    given = [value.strip() for value in text.split(",")]
    known = AXES[axis]
    for value in given:
        if value not in known:
            option = axis.replace("_", "-")
            raise UsageError(f"--{option}: unknown value {value!r} (use {', '.join(known)}, comma-separated)")
    return tuple(value for value in known if value in given)


def override(cases: Sequence[Case], assignments: Sequence[str]) -> list[Case]:
    """Apply ``KEY=VALUE`` overrides to the cases that have KEY; duplicates collapse."""
    pairs = []
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            raise UsageError(f"--param expects KEY=VALUE, got {assignment!r}")
        if not any(key in c.params for c in cases):
            known = sorted({k for c in cases for k in c.params})
            raise UsageError(f"no selected workload has a parameter {key!r} (they have: {', '.join(known)})")
        pairs.append((key, text))
    result: dict[str, Case] = {}
    for case in cases:
        params = dict(case.params)
        for key, text in pairs:
            if key in params:
                params[key] = _parse_value(key, text, params[key])
        changed = Case(case.workload, case.size, params, case.dtype)
        result.setdefault(changed.id, changed)
    return list(result.values())


@dataclass(frozen=True)
class SuiteOptions:
    """The validated options of one suite run."""

    settings: RunSettings
    size: str
    quick: bool
    targets: tuple[str, ...]  # --workloads: where to load more workloads from
    workloads: tuple[str, ...]
    families: tuple[str, ...]
    tags: tuple[str, ...]
    dtypes: tuple[str, ...]
    params: tuple[str, ...]
    max_time: float | None
    case_timeout: float | None
    modes: dict[str, tuple[str, ...]] = field(hash=False)  # execution-mode values by axis (bench/modes.py)
    profile: int | None = None  # --profile: calls profiled after each case's rounds

    @classmethod
    def parse(cls, ns: Any) -> SuiteOptions:
        """From an argparse namespace or pytest's ``config.option``; raises UsageError."""
        settings = RunSettings(
            device=ns.bench_device,
            seed=_option_number("seed", ns.bench_seed, int, 0, SEED_MAX),
            determinism=ns.bench_determinism,
            threads=_option_number("threads", ns.bench_threads, int, 1),
            data=DataSettings(
                source=ns.bench_data_source,
                root=ns.bench_data_root,
                workers=_option_number("loader-workers", ns.bench_loader_workers, int, 0),
                pin_memory=ns.bench_pin_memory,
            ),
            telemetry_hz=_option_number("telemetry-hz", ns.bench_telemetry_hz, float, 0.0),
        )
        return cls(
            settings=settings,
            size=ns.bench_size or ("smoke" if ns.bench_quick else "full"),
            quick=ns.bench_quick,
            targets=tuple(ns.bench_workloads),
            workloads=tuple(ns.bench_workload),
            families=tuple(ns.bench_family),
            tags=tuple(ns.bench_tag),
            dtypes=tuple(ns.bench_dtype),
            params=tuple(ns.bench_param),
            max_time=_option_number("max-time", ns.bench_max_time, float, 0.0),
            case_timeout=_option_number("case-timeout", ns.bench_case_timeout, float, 0.001),
            profile=_option_number("profile", ns.bench_profile, int, 1, 10_000),
            modes={
                "compile": _axis_values("compile", ns.bench_compile),
                "precision": _axis_values("precision", ns.bench_precision),
                "memory_format": _axis_values("memory_format", ns.bench_memory_format),
            },
        )

    @property
    def device_type(self) -> str:
        return self.settings.device.split(":", 1)[0]

    def cases(self) -> list[Case]:
        """The selected cases; with ``--workloads`` and no other selection, the targets' workloads only;
        with ``--quick``, the distributed jobs only where named (see :meth:`left_out`); none in a mode
        its device or dtype cannot run (see :meth:`skipped`)."""
        planned = self._planned()
        chosen = [case for case in planned if not (self.quick and self.unnamed_job(case.workload))]
        runnable = [case for case in chosen if not self._unsupported(case)]
        if chosen and not runnable:
            raise UsageError(f"nothing to run: no selected case's mode can run here ({self._unsupported(chosen[0])})")
        return runnable

    def _unsupported(self, case: Case) -> str | None:
        return case.mode.unsupported(self.device_type, case.dtype)

    def skipped(self) -> list[dict[str, str]]:
        """The cases left out because their execution mode cannot run here, each with the reason."""
        return [
            {"id": case.id, "reason": reason}
            for case in self._planned()
            if (reason := self._unsupported(case)) is not None
        ]

    def modes_not_taken(self) -> list[str]:
        """The selected workloads that run only in the reference mode although other modes were asked
        for, with the axes they do not take (``mm: compile``)."""
        asked = [axis for axis, values in self.modes.items() if values != (REFERENCE[axis],)]
        chosen = {case.workload.name: case.workload for case in self._planned()}.values()
        return [
            f"{w.name}: {', '.join(axis for axis in asked if axis not in w.modes)}"
            for w in chosen
            if any(axis not in w.modes for axis in asked)
        ]

    def left_out(self) -> list[Case]:
        """The distributed jobs ``--quick`` leaves out: each launches torchrun and its interpreters, 15-45 s
        on a 2-core machine against a second or so for the other cases together (``bench ddp --quick``
        runs them)."""
        return [case for case in self._planned() if self.quick and self.unnamed_job(case.workload)]

    def unnamed_job(self, workload: Workload) -> bool:
        """A distributed job not asked for by ``--workload`` or ``--tag distributed``."""
        return DISTRIBUTED in workload.tags and workload.name not in self.workloads and DISTRIBUTED not in self.tags

    def _planned(self) -> list[Case]:
        chosen = select(self.workloads, self.families, self.tags, self.targets)
        return override(plan(chosen, self.size, self.device_type, self.dtypes, self.modes), self.params)

    def sources(self) -> list[dict[str, Any]]:
        """Where the run's workloads came from, for the record."""
        return [source.record() for source in sources(self.targets)]

    def preflight(self, cases: Sequence[Case]) -> dict[str, dict[str, Any]]:
        """Run each selected workload's preflight once (data checks); records by workload name."""
        return {
            w.name: w.preflight(self.settings)
            for w in {c.workload.name: c.workload for c in cases}.values()
            if w.preflight is not None
        }

    def policy(self) -> RoundPolicy:
        policy = RoundPolicy.quick() if self.quick else RoundPolicy()
        if self.max_time is not None:
            policy = RoundPolicy(**{**policy.__dict__, "max_time": self.max_time})
        if self.case_timeout is not None:
            policy = RoundPolicy(**{**policy.__dict__, "case_timeout": self.case_timeout})
        if self.profile is not None:
            policy = RoundPolicy(**{**policy.__dict__, "profile_calls": self.profile})
        return policy

    def record(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "quick": self.quick,
            "targets": list(self.targets),
            "workloads": list(self.workloads),
            "families": list(self.families),
            "tags": list(self.tags),
            "dtypes": list(self.dtypes),
            "params": list(self.params),
            "policy": self.policy().__dict__,
            "modes": {axis: list(values) for axis, values in self.modes.items()},
            "skipped": self.skipped(),
        }
