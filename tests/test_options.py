"""Options shared by the CLI and the pytest plugin, and --param overrides."""

from __future__ import annotations

import argparse

import pytest

from bench.errors import UsageError
from bench.options import SuiteOptions, add_options, override
from bench.registry import plan, select
from bench.suite import refuse_writers


def parse(*argv: str) -> SuiteOptions:
    parser = argparse.ArgumentParser()
    add_options(parser.add_argument)
    return SuiteOptions.parse(parser.parse_args(argv))


def test_defaults_and_quick() -> None:
    default, quick = parse(), parse("--quick")
    assert (default.size, default.settings.device, default.settings.seed) == ("full", "cpu", 0)
    assert quick.size == "smoke" and quick.policy().max_time < default.policy().max_time
    assert parse("--quick", "--size", "seed").size == "seed"
    assert parse("--max-time", "0.5").policy().max_time == 0.5


def jobs(cases: list) -> set[str]:
    return {case.workload.name for case in cases if "distributed" in case.workload.tags}


def test_quick_leaves_the_distributed_jobs_out_unless_they_are_named() -> None:
    quick = parse("--quick")
    assert not jobs(quick.cases()) and jobs(quick.left_out()) == {"cifar_ddp"}
    assert quick.cases() and all("distributed" in case.workload.tags for case in quick.left_out())
    for named in (parse("--quick", "--workload", "cifar_ddp"), parse("--quick", "--tag", "distributed")):
        assert jobs(named.cases()) == {"cifar_ddp"} and not named.left_out()
    assert jobs(parse().cases()) == {"cifar_ddp"} and not parse().left_out()  # a full run runs them


def test_pytest_and_cli_prefixes_land_in_the_same_attributes() -> None:
    cli, plugin = argparse.ArgumentParser(), argparse.ArgumentParser()
    add_options(cli.add_argument)
    add_options(plugin.add_argument, prefix="bench-")
    assert vars(cli.parse_args(["--device", "cuda", "--tag", "blas"])) == vars(
        plugin.parse_args(["--bench-device", "cuda", "--bench-tag", "blas"])
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--seed", "x"], "--seed expects an integer"),
        (["--seed", "-1"], "--seed must be >= 0"),
        (["--threads", "0"], "--threads must be >= 1"),
        (["--max-time", "fast"], "--max-time expects a number"),
        (["--determinism", "maybe"], "unknown determinism mode"),
    ],
)
def test_bad_values_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse(*argv)


def test_param_override_changes_sizes_and_collapses_duplicates() -> None:
    cases = plan(select(names=["mm"]), "full", "cpu")
    assert len(cases) == 8
    changed = override(cases, ["n=32", "op=mm"])
    assert [c.id for c in changed] == ["mm/n=32/op=mm/float32"]
    assert changed[0].work().flops == 2 * 32**3


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("n=abc", "parameter n expects an integer, got 'abc'"),
        ("n=-4", "parameter n must be >= 1"),
        ("n=0", "parameter n must be >= 1"),
        ("nope=3", "no selected workload has a parameter 'nope'"),
        ("n", "--param expects KEY=VALUE"),
    ],
)
def test_bad_param_overrides(assignment: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        override(plan(select(names=["mm"]), "smoke", "cpu"), [assignment])


def test_bool_params_parse_strictly() -> None:
    cases = plan(select(names=["recurrent"]), "seed", "cpu")
    assert all(c.params["bidirectional"] for c in override(cases, ["bidirectional=true"]))
    with pytest.raises(UsageError, match="expects true or false"):
        override(cases, ["bidirectional=maybe"])


@pytest.mark.parametrize(
    "options", [[], ["-q"], ["-x", "--tb=short"], ["-o", "console_output_style=classic"], ["-vv", "-otimeout=9"]]
)
def test_pytest_options_that_write_nothing_pass_through(options: list[str]) -> None:
    refuse_writers(options)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--benchmark-json=/tmp/x.json"], "--benchmark-json"),
        (["-q", "--junitxml", "out.xml"], "--junitxml"),
        (["--debug"], "--debug"),
        (["-o", "cache_dir=/tmp/c"], "-o cache_dir"),
        (["--override-ini=log_file=x.log"], "-o log_file"),
        (["-ojunit_suite_name=x"], "-o junit_suite_name"),
    ],
)
def test_pytest_options_that_write_files_are_refused_by_name(options: list[str], named: str) -> None:
    with pytest.raises(UsageError, match=f"^{named} after --"):
        refuse_writers(options)
