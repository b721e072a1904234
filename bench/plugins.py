"""Where workloads come from: the entry-point group and ``--workloads`` targets.

Every set of workloads, the built-in one included, is found the same way: a package registers a
module under the entry-point group ``torch_bench_suite.workloads`` (this project registers its own
``workloads`` package there, in pyproject.toml), or a user names a target with ``--workloads``: a
module name, a ``.py`` file or a folder of them. Importing a module runs its ``@workload``
declarations. A target that fails to import, declares a name already taken or declares a workload
wrongly is one line naming the file and the problem.

The harness never imports a workload module by name: this is what keeps the harness and the
workloads free of an import cycle.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.errors import UsageError

GROUP = "torch_bench_suite.workloads"
DISTRIBUTION = "torch-bench-suite"
PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"  # a checkout's declaration, when not installed


@dataclass
class Source:
    """One loaded set of workloads: what was named, how it was found, what it declared."""

    target: str
    kind: str  # "entry point", "module", "file" or "folder"
    workloads: list[str] = field(default_factory=list)

    def record(self) -> dict[str, Any]:
        return {"target": self.target, "kind": self.kind, "workloads": self.workloads}


_loaded: dict[str, Source] = {}  # by target, in load order


def declared_entry_points() -> list[tuple[str, str]]:
    """(name, module) of every entry point in the group; from this checkout's pyproject.toml where
    the suite runs without being installed (e.g. the GPU check's PYTHONPATH)."""
    try:
        metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        if PYPROJECT.is_file():
            declared = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
            return sorted(declared.get("project", {}).get("entry-points", {}).get(GROUP, {}).items())
    return sorted((point.name, point.value) for point in metadata.entry_points(group=GROUP))


def _module_name_for(path: Path) -> str:
    """A private, stable module name for a workload file loaded by path."""
    return "bench_user_workloads." + "_".join(path.resolve().with_suffix("").parts[1:]).replace("-", "_")


def _import_file(path: Path) -> ModuleType:
    name = _module_name_for(path)
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UsageError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up while they load
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _kind(target: str) -> str:
    path = Path(target)
    if target.endswith(".py") or "/" in target or path.exists():
        if path.is_dir():
            return "folder"
        if path.is_file():
            return "file"
        raise UsageError(f"--workloads {target}: no such file or folder")
    return "module"


def _load_one(target: str, kind: str, registry: Mapping[str, Any]) -> Source:
    before = set(registry)
    where = target
    try:
        if kind in ("module", "entry point"):
            importlib.import_module(target.split(":", 1)[0])
        elif kind == "file":
            _import_file(Path(target))
        else:
            folder = Path(target).resolve()
            files = sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))
            if not files:
                raise UsageError(f"--workloads {target}: no .py files in this folder")
            if str(folder) not in sys.path:
                sys.path.insert(0, str(folder))  # so that its modules can import each other
            for file in files:
                where = str(file)
                _import_file(file)
    except UsageError:
        raise
    except ModuleNotFoundError as error:
        raise UsageError(f"--workloads {where}: cannot import it ({error})") from None
    except Exception as error:  # noqa: BLE001 - any failure of someone else's module is one line naming it
        first = (str(error).strip().splitlines() or [""])[0]
        raise UsageError(f"{where}: cannot load its workloads: {type(error).__name__}: {first}") from None
    return Source(target, kind, sorted(set(registry) - before))


def load(registry: Mapping[str, Any], targets: Sequence[str] = ()) -> list[Source]:
    """Load the entry points' modules (once per process), then each target; the sources loaded
    for this call, built-in first."""
    wanted = [(module, "entry point") for _, module in declared_entry_points()]
    wanted += [(target, _kind(target)) for target in targets]
    sources = []
    for target, kind in wanted:
        key = str(Path(target).resolve()) if kind in ("file", "folder") else target
        if key not in _loaded:
            _loaded[key] = _load_one(target, kind, registry)
        sources.append(_loaded[key])
    return sources
