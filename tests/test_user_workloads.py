"""Workloads from outside the repository: --workloads targets and the entry-point group, end to end."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from processes import ROOT, run_python

EXAMPLE = ROOT / "examples" / "transformer"


def bench(*argv: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_python("-m", "bench", *argv, cwd=cwd, env=env)


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    errors = done.stderr.strip().splitlines()
    assert done.returncode == code, done.stdout[-2000:] + done.stderr[-2000:]
    assert len(errors) == 1 and "Traceback" not in done.stderr, done.stderr
    return errors[0]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The example's smoke case run twice, from a folder elsewhere, as a user would."""
    out = tmp_path_factory.mktemp("runs")
    for _ in range(2):
        done = bench("run", "--workloads", str(EXAMPLE), "--quick", "--out", str(out), cwd=out)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return sorted(p for p in out.iterdir() if p.is_dir())


@pytest.mark.slow
def test_a_user_workload_runs_and_its_record_says_where_it_came_from(two_runs) -> None:
    record = json.loads((two_runs[0] / "benchmark.json").read_text())
    (result,) = record["benchmarks"]  # without another selection, only the target's workloads run
    info = result["extra_info"]
    assert info["workload"] == "transformer_block" and info["family"] == "transformer"
    assert info["work"]["flops"] > 0 and info["rates"]["gflops"] > 0 and info["result_sha256"]
    sources = record["bench"]["sources"]
    assert sources[0]["kind"] == "entry point" and sources[0]["target"] == "workloads"
    assert sources[-1] == {"target": str(EXAMPLE), "kind": "folder", "workloads": ["transformer_block"]}


@pytest.mark.slow
def test_show_report_and_compare_read_user_results_like_built_in_ones(two_runs, tmp_path: Path) -> None:
    shown = bench("show", str(two_runs[0]), cwd=tmp_path)
    assert shown.returncode == 0 and "  transformer_block " in shown.stdout and "FLOP/s" in shown.stdout
    report = bench("report", *map(str, two_runs), "--out", str(tmp_path / "report"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    assert "transformer_block" in (tmp_path / "report" / "results.csv").read_text()
    assert (tmp_path / "report" / "timings_transformer.png").is_file()
    compared = bench("compare", *map(str, two_runs), cwd=tmp_path)
    assert compared.returncode in (0, 1) and "| `transformer_block` |" in compared.stdout  # its only case
    assert "results differ" not in compared.stderr, "the same seed computes the same block"


@pytest.mark.slow
def test_built_in_workloads_can_run_beside_user_ones(tmp_path: Path) -> None:
    listed = bench("list", "--workloads", str(EXAMPLE / "transformer_block.py"), cwd=tmp_path)
    assert listed.returncode == 0 and "transformer_block" in listed.stdout and "\nmm " in listed.stdout
    cases = bench("list", "--workloads", str(EXAMPLE), "--cases", "smoke", "--family", "transformer", cwd=tmp_path)
    assert cases.stdout.split() == ["transformer_block/batch=2/seq=16/width=32/heads=2/float32"]


BAD_PLUGINS = {
    "fails to import": ("import no_such_module_here\n", "cannot import it"),
    "raises while loading": ("raise RuntimeError('broken on purpose')\n", "RuntimeError: broken on purpose"),
    "duplicate name": (
        "from bench.api import workload\n"
        "@workload(family='x', sizes={'smoke': {}, 'full': {}}, items=lambda **_: 1)\n"
        "def mm(ctx, dtype):\n    return lambda: None\n",
        "workload 'mm' is declared twice (first in workloads.matrix)",
    ),
    "malformed": (
        "from bench.api import workload\n"
        "@workload(family='x', sizes={'smoke': {}}, items=lambda **_: 1)\n"
        "def mine(ctx, dtype):\n    return lambda: None\n",
        "sizes must include",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BAD_PLUGINS))
def test_a_bad_plugin_is_one_line_naming_its_file_and_nothing_is_written(name: str, tmp_path: Path) -> None:
    source, says = BAD_PLUGINS[name]
    plugin = tmp_path / "plugin.py"
    plugin.write_text(source)
    out = tmp_path / "runs"
    line = one_line_error(bench("run", "--workloads", str(plugin), "--quick", "--out", str(out), cwd=tmp_path))
    assert str(plugin) in line and says in line, line
    assert not out.exists(), "nothing is written"


@pytest.mark.slow
def test_a_missing_target_is_one_line(tmp_path: Path) -> None:
    line = one_line_error(bench("list", "--workloads", str(tmp_path / "nowhere.py"), cwd=tmp_path))
    assert "nowhere.py: no such file or folder" in line
    line = one_line_error(bench("list", "--workloads", "no_such_package_of_workloads", cwd=tmp_path))
    assert "no_such_package_of_workloads" in line and "cannot import it" in line


@pytest.mark.slow
def test_installed_packages_register_workloads_through_the_entry_point_group(tmp_path: Path) -> None:
    """A package made the way pip installs one (a dist-info with entry_points.txt) on the path."""
    (tmp_path / "their_benchmarks.py").write_text((EXAMPLE / "transformer_block.py").read_text())
    info = tmp_path / "their_benchmarks-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: their-benchmarks\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[torch_bench_suite.workloads]\ntheirs = their_benchmarks\n")
    listed = bench("list", "--family", "transformer", cwd=tmp_path, env={"PYTHONPATH": f"{tmp_path}:{ROOT}"})
    assert listed.returncode == 0, listed.stderr
    assert "transformer_block" in listed.stdout


def test_a_checkout_that_is_not_installed_finds_the_built_in_set_in_its_pyproject(monkeypatch) -> None:
    """As on the GPU machine, which runs the suite from the working tree on PYTHONPATH."""
    from importlib import metadata  # noqa: PLC0415

    from bench import plugins  # noqa: PLC0415

    def not_installed(name: str) -> None:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(plugins.metadata, "distribution", not_installed)
    assert plugins.declared_entry_points() == [("builtin", "workloads")]
