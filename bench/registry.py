"""Workload declarations and lookup.

A workload is declared once, with the ``@workload`` decorator (``bench.api``), in
any module the harness loads (:mod:`bench.plugins`: the built-in ``workloads``
package and the user's own).  The decorated function receives a
:class:`~bench.context.RunContext` and the case's parameters, builds its inputs
and returns the *timed call* (a zero-argument callable), or a :class:`Prepared`
when it also reports metrics of its own or says what its result is.  Everything
else — seeding, devices, warm-up, timing, records — belongs to the harness.

Sizes name parameter sets: ``smoke`` (tiny, for tests) and ``full`` (real
benchmarking) are required; ``seed`` (the tutorial's own configuration) is
optional.  A size may list several parameter sets (e.g. matmul at 256, 1024 and
4096), and ``variants`` multiply every size by the values of extra parameters
(e.g. ``op`` over twenty elementwise functions).
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from bench import plugins
from bench.errors import UsageError
from bench.modes import AXES, REFERENCE, Mode
from bench.record import Work

REQUIRED_SIZES = ("smoke", "full")
KNOWN_SIZES = ("seed", "smoke", "full")
DEVICE_TYPES = ("cpu", "cuda")
DISTRIBUTED = "distributed"  # the tag of workloads that launch a job of several processes (torchrun)
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}

WorkCount = Callable[..., float]


def returned(value: Any) -> Any:
    """The default result: what the call returned is what it computed."""
    return value


@dataclass
class Prepared:
    """A timed call plus, optionally, metrics read once after timing ends, the
    work one call really does when only the prepared data can tell (e.g. a smaller data set),
    and what its result is.

    ``result`` maps the value one call returned to the numbers it computed, which the
    harness digests to check that runs reproduce (timings must stay out of it); ``None``
    says the call computes nothing to check (e.g. uninitialised memory).
    """

    call: Callable[[], Any]
    metrics: Callable[[], dict[str, Any]] | None = None
    work: Work | None = None
    result: Callable[[Any], Any] | None = returned


@dataclass(frozen=True, eq=False)
class Workload:
    name: str
    family: str
    prepare: Callable[..., Callable[[], Any] | Prepared]
    sizes: Mapping[str, tuple[Mapping[str, Any], ...]]
    variants: Mapping[str, tuple[Any, ...]]
    dtypes: Mapping[str, tuple[str, ...]]
    tags: frozenset[str]
    items: WorkCount
    flops: WorkCount | None = None
    bytes: WorkCount | None = None
    description: str = ""
    timed_once: bool = False
    preflight: Callable[[Any], dict[str, Any]] | None = None
    source: str = ""  # the module that declared it (bench.plugins), for error messages and records
    modes: tuple[str, ...] = ()  # the execution-mode axes it takes (bench/modes.py)

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(self.dtypes)

    def cases(self, size: str, device_type: str, modes: Mapping[str, Sequence[str]] | None = None) -> list[Case]:
        """Every case of this workload at ``size`` on ``device_type``, in each of the run's execution
        ``modes`` it takes (by axis; an axis not given, or not taken, stays at its reference)."""
        keys = list(self.variants)
        axes = [axis for axis in AXES if axis in self.modes]
        # in the axis's own order, so that a mode's reference case comes before it
        values = [[v for v in AXES[axis] if v in ((modes or {}).get(axis) or [REFERENCE[axis]])] for axis in axes]
        cases = []
        for base in self.sizes.get(size, ()):
            for variant in itertools.product(*(self.variants[k] for k in keys)):
                params = {**base, **dict(zip(keys, variant, strict=True))}
                for dtype in self.dtypes.get(device_type, ()):
                    for chosen in itertools.product(*values):
                        mode = Mode(**dict(zip(axes, chosen, strict=True)))
                        cases.append(Case(self, size, {**params, **mode.params()}, dtype))
        return cases


@dataclass(frozen=True)
class Case:
    """One benchmark: a workload at one parameter set and dtype."""

    workload: Workload
    size: str
    params: Mapping[str, Any] = field(hash=False)
    dtype: str

    @property
    def id(self) -> str:
        parts = [self.workload.name, *(f"{k}={v}" for k, v in self.params.items()), self.dtype]
        return "/".join(parts)

    @property
    def mode(self) -> Mode:
        return Mode.of(self.params)

    @property
    def reference(self) -> Case:
        """The same case in the reference mode (eager, fp32, contiguous): what a mode's result is checked against."""
        params = {k: v for k, v in self.params.items() if k not in AXES}
        return Case(self.workload, self.size, params, self.dtype)

    def work(self) -> Work:
        args = {**{k: v for k, v in self.params.items() if k not in AXES}, "itemsize": DTYPES[self.dtype].itemsize}
        w = self.workload

        def count(fn: WorkCount | None) -> float | None:
            value = None if fn is None else fn(**args)
            return None if value is None else float(value)

        return Work(items=float(w.items(**args)), flops=count(w.flops), bytes=count(w.bytes))

    def prepare(self, ctx: Any) -> Prepared:
        """The workload's preparation, given its parameters (the mode's are the harness's: ``ctx.mode``)."""
        params = {k: v for k, v in self.params.items() if k not in AXES}
        made = self.workload.prepare(ctx, dtype=DTYPES[self.dtype], **params)
        return made if isinstance(made, Prepared) else Prepared(made)


REGISTRY: dict[str, Workload] = {}  # every workload declared so far, filled as modules load


class DeclarationError(ValueError):
    """A workload declared wrongly (sizes, dtypes) or twice."""


def workload(
    *,
    family: str,
    sizes: Mapping[str, Mapping[str, Any] | Sequence[Mapping[str, Any]]],
    items: WorkCount,
    variants: Mapping[str, Iterable[Any]] | None = None,
    dtypes: Sequence[str] | Mapping[str, Sequence[str]] = ("float32",),
    devices: Sequence[str] = DEVICE_TYPES,
    tags: Iterable[str] = (),
    flops: WorkCount | None = None,
    bytes: WorkCount | None = None,  # noqa: A002 - the natural name for a byte count
    timed_once: bool = False,
    preflight: Callable[[Any], dict[str, Any]] | None = None,
    modes: Sequence[str] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare a workload; the function's name is the workload's name.

    ``timed_once``: one call is a whole run (training), timed once, not calibrated
    into rounds.  ``preflight(settings)``: checks what the workload needs from
    outside (a data set) before a run writes anything, and returns its record,
    which goes with every result of the workload.  ``modes``: the execution-mode axes
    (``compile``, ``precision``, ``memory_format``) the workload takes: the harness applies them
    through ``ctx.mode`` (its modules through ``ctx.module``, inputs made by ``ctx.randn``, forward
    passes under ``ctx.autocast()``).
    """

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        name = fn.__name__
        if name in REGISTRY:
            where = REGISTRY[name].source
            raise DeclarationError(f"workload {name!r} is declared twice (first in {where or 'another module'})")
        missing = [s for s in REQUIRED_SIZES if s not in sizes]
        unknown = [s for s in sizes if s not in KNOWN_SIZES]
        if missing or unknown:
            raise DeclarationError(f"workload {name!r}: sizes must include {REQUIRED_SIZES}, got {list(sizes)}")
        per_device = (
            {d: tuple(dtypes[d]) for d in devices if d in dtypes}
            if isinstance(dtypes, Mapping)
            else {d: tuple(dtypes) for d in devices}
        )
        bad = {t for ts in per_device.values() for t in ts} - set(DTYPES)
        if bad:
            raise DeclarationError(f"workload {name!r}: unknown dtypes {sorted(bad)}")
        if set(modes) - set(AXES):
            raise DeclarationError(f"workload {name!r}: unknown mode axes {sorted(set(modes) - set(AXES))}")
        doc = (fn.__doc__ or "").strip().splitlines()
        REGISTRY[name] = Workload(
            name=name,
            family=family,
            prepare=fn,
            sizes={k: _as_param_sets(v) for k, v in sizes.items()},
            variants={k: tuple(v) for k, v in (variants or {}).items()},
            dtypes=per_device,
            tags=frozenset(tags),
            items=items,
            flops=flops,
            bytes=bytes,
            description=doc[0] if doc else "",
            timed_once=timed_once,
            preflight=preflight,
            source=fn.__module__,
            modes=tuple(modes),
        )
        return fn

    return register


def _as_param_sets(value: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    return (value,) if isinstance(value, Mapping) else tuple(value)


def all_workloads(targets: Sequence[str] = ()) -> dict[str, Workload]:
    """Every workload: the entry points' (the built-in set among them) and the ``targets``'."""
    plugins.load(REGISTRY, targets)
    return REGISTRY


def sources(targets: Sequence[str] = ()) -> list[plugins.Source]:
    """Where the workloads of :func:`all_workloads` with these ``targets`` came from."""
    return plugins.load(REGISTRY, targets)


def _check_known(kind: str, given: Iterable[str], known: Iterable[str]) -> None:
    known = sorted(set(known))
    for value in given:
        if value not in known:
            close = difflib.get_close_matches(value, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
            raise UsageError(f"unknown {kind} {value!r}{hint}")


def select(
    names: Sequence[str] = (),
    families: Sequence[str] = (),
    tags: Sequence[str] = (),
    targets: Sequence[str] = (),
) -> list[Workload]:
    """Workloads matching any given name, any given family and any given tag, ``targets`` loaded.

    Each kind of filter narrows the selection; values within one kind widen it. With ``targets``
    and no filter at all, the targets' own workloads: ``--workloads mine.py`` runs mine.
    """
    registry = all_workloads(targets)
    _check_known("workload", names, registry)
    _check_known("family", families, (w.family for w in registry.values()))
    _check_known("tag", tags, (t for w in registry.values() for t in w.tags))
    if targets and not (names or families or tags):
        given = sources(targets)[-len(targets) :]  # the targets' own, in their order
        names = [name for source in given for name in source.workloads]
    return [
        w
        for w in registry.values()
        if (not names or w.name in names)
        and (not families or w.family in families)
        and (not tags or w.tags & set(tags))
    ]


def plan(
    workloads: Sequence[Workload],
    size: str,
    device_type: str,
    dtypes: Sequence[str] = (),
    modes: Mapping[str, Sequence[str]] | None = None,
) -> list[Case]:
    """The cases to run, in each execution mode of ``modes`` (by axis) their workloads take; refuses a
    plan that would run nothing and says why."""
    _check_known("size", [size], KNOWN_SIZES)
    _check_known("device", [device_type], DEVICE_TYPES)
    _check_known("dtype", dtypes, DTYPES)
    if not workloads:
        raise UsageError("no workload matches the selection")
    on_device = [w for w in workloads if device_type in w.devices]
    if not on_device:
        raise UsageError(f"none of the selected workloads runs on {device_type}")
    sized = [w for w in on_device if size in w.sizes]
    if not sized:
        raise UsageError(f"none of the selected workloads has a {size!r} size")
    cases = [c for w in sized for c in w.cases(size, device_type, modes) if not dtypes or c.dtype in dtypes]
    if not cases:
        offered = sorted({t for w in sized for t in w.dtypes[device_type]})
        raise UsageError(
            f"dtype {', '.join(dtypes)} is not supported on {device_type} by the selected workloads "
            f"(they support: {', '.join(offered)})"
        )
    return cases
