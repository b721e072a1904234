"""The shape of the code: the harness and the workloads joined only through bench.api, no self-test
tools in the product, and the record readers free of torch."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import bench.api

ROOT = Path(__file__).parents[1]


def imports_of(file: Path) -> set[str]:
    """Every module ``file`` imports, at any depth of its code (function-level imports too)."""
    found = set()
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("file", modules("bench"), ids=lambda f: str(f.relative_to(ROOT)))
def test_the_harness_never_imports_workloads_examples_or_tools(file: Path) -> None:
    wrong = {m for m in imports_of(file) if m.split(".")[0] in ("workloads", "examples", "tools")}
    assert not wrong, (
        f"{file.relative_to(ROOT)} imports {sorted(wrong)}: the harness finds workloads through entry points"
    )


@pytest.mark.parametrize("file", modules("workloads") + modules("examples"), ids=lambda f: str(f.relative_to(ROOT)))
def test_workloads_import_the_harness_only_through_its_api(file: Path) -> None:
    harness = {m for m in imports_of(file) if m == "bench" or m.startswith("bench.")}
    assert harness <= {"bench.api"} | {f"bench.api.{name}" for name in bench.api.__all__}, (
        f"{file.relative_to(ROOT)} imports {sorted(harness)} (only bench.api is public)"
    )


def test_the_api_exports_what_it_declares() -> None:
    assert all(hasattr(bench.api, name) for name in bench.api.__all__)
    assert {"workload", "Prepared", "RunContext", "Work"} <= set(bench.api.__all__)


def test_self_checks_live_outside_the_product() -> None:
    assert (ROOT / "tools" / "soak.py").is_file() and (ROOT / "tools" / "detector.py").is_file()
    assert not {p.stem for p in modules("bench")} & {"soak", "validation", "detector"}
    allowed = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    assert not [line for line in allowed if line.startswith(("!tools", "!tests", "!examples"))], allowed
    for dockerfile in ("Dockerfile.cpu", "Dockerfile.cuda"):
        copies = [line for line in (ROOT / dockerfile).read_text().splitlines() if line.startswith("COPY")]
        assert not [line for line in copies if "tools" in line or "tests" in line], copies


READERS = ("record", "summary", "compare", "report", "history", "bands", "stats", "runs", "errors", "cli")


@pytest.mark.parametrize("name", READERS)
def test_record_readers_import_neither_torch_nor_the_registry(name: str) -> None:
    """At module level: the commands that read records must start where torch is missing."""
    tree = ast.parse((ROOT / "bench" / f"{name}.py").read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            top.add(node.module)
    assert not {m for m in top if m.split(".")[0] == "torch" or m in ("bench.registry", "bench.context")}
