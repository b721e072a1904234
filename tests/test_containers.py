"""The images' recipe (Dockerfiles, pinned sets, build context) and what a run in an image records.

The images themselves are built and run by CI (.ci/containers, through `nox -s docker-cpu`);
these tests keep their ingredients consistent and check the record a containerized run leaves,
by running the suite with the environment the image gives it.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version
from processes import ROOT, run_python

from bench import envinfo, report

FLAVORS = ("cpu", "cuda")


def pins(name: str) -> dict[str, Version]:
    lines = (ROOT / "envs" / f"{name}.txt").read_text().splitlines()
    return {n: Version(v) for n, v in (line.split("==") for line in lines if line and not line.startswith("#"))}


def dockerfile(flavor: str) -> str:
    return (ROOT / f"Dockerfile.{flavor}").read_text()


def lock_pair() -> tuple[str, str]:
    text = (ROOT / "envs" / "lock.py").read_text()
    found = [re.search(rf'^{name} = "([^"]+)"', text, re.M) for name in ("TORCH", "TORCHVISION")]
    assert all(found), "envs/lock.py names the torch/torchvision pair"
    return found[0].group(1), found[1].group(1)


@pytest.mark.parametrize("name", ["dev", "cpu", "cuda"])
def test_each_pinned_set_meets_the_package_ranges_and_holds_the_pair(name: str) -> None:
    pinned = pins(name)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + (project["optional-dependencies"]["dev"] if name == "dev" else [])
    for line in wanted:
        requirement = Requirement(line)
        assert requirement.name in pinned, f"envs/{name}.txt does not pin {requirement.name}"
        assert pinned[requirement.name] in requirement.specifier, f"envs/{name}.txt: {requirement.name} outside {line}"
    torch, torchvision = lock_pair()
    assert (str(pinned["torch"]), str(pinned["torchvision"])) == (torch, torchvision)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_each_image_installs_its_own_set_and_labels_it(flavor: str) -> None:
    text = dockerfile(flavor)
    labels = dict(re.findall(r'torch-bench-suite\.(\w+)="([^"]+)"', text))
    assert labels["pins"] == f"envs/{flavor}.txt"
    assert f"COPY envs/lock.py envs/{flavor}.txt envs/" in text
    assert text.count(f"-c envs/{flavor}.txt") == 2, "both pip installs are constrained by the set"
    assert (labels["torch"], labels["torchvision"]) == lock_pair()
    # the layer with the dependencies comes before the code, and the versions after both
    assert text.index("pip install -c") < text.index("COPY bench") < text.index("ARG REVISION")


@pytest.mark.parametrize("flavor", FLAVORS)
def test_each_image_runs_the_quick_suite_as_a_non_root_user(flavor: str) -> None:
    text = dockerfile(flavor)
    user = re.search(r"^USER (\d+):(\d+)$", text, re.M)
    assert user and int(user.group(1)) > 0 and int(user.group(2)) > 0
    assert 'ENTRYPOINT ["python", "-m", "bench"]' in text
    assert f'CMD ["run", "--quick", "--device", "{flavor}"]' in text
    assert 'VOLUME ["/data", "/results"]' in text
    assert "BENCH_DATA_ROOT=/data" in text and "BENCH_RESULTS=/results" in text


def test_the_build_context_holds_only_what_the_images_copy() -> None:
    rules = [r for r in (ROOT / ".dockerignore").read_text().splitlines() if r and not r.startswith("#")]
    assert rules[0] == "*", "everything is left out unless named"
    admitted = [r[1:].rstrip("/") for r in rules if r.startswith("!")]
    copied = {
        source
        for flavor in FLAVORS
        for line in re.findall(r"^COPY (.+)$", dockerfile(flavor), re.M)
        for source in line.split()[:-1]
    }
    for source in copied:
        assert any(Path(source).match(pattern) or source == pattern for pattern in admitted), source
    assert not any(part in pattern for pattern in admitted for part in ("runs", "data", ".nox", "tests"))


def test_the_images_requirement_list_is_the_packages(tmp_path: Path) -> None:
    done = run_python(str(ROOT / "envs" / "lock.py"), "--requirements", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listed = [Requirement(line) for line in done.stdout.splitlines()]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert [str(r) for r in listed[: len(project["dependencies"])]] == [
        str(Requirement(d)) for d in project["dependencies"]
    ]
    assert {r.name: str(r.specifier) for r in listed[-2:]} == {
        "torch": f"=={lock_pair()[0]}",
        "torchvision": f"=={lock_pair()[1]}",
    }


IMAGE_ENV = {
    "BENCH_IMAGE_FLAVOR": "cpu",
    "BENCH_IMAGE_VERSION": "0.1.0",
    "BENCH_IMAGE_REVISION": "0123456789abcdef",
    "BENCH_IMAGE": "torch-bench-suite:cpu",
    "BENCH_IMAGE_ID": "sha256:" + "ab" * 32,
}


@pytest.mark.slow
def test_a_run_in_an_image_goes_to_its_results_volume_and_says_which_image(tmp_path: Path) -> None:
    """The environment Dockerfile.cpu and `nox -s docker-cpu` give the suite, on a real run."""
    volume, elsewhere = tmp_path / "results", tmp_path / "cwd"
    elsewhere.mkdir()
    env = {**IMAGE_ENV, "BENCH_RESULTS": str(volume)}
    done = run_python("-m", "bench", "run", "--quick", "--workload", "diagonal", cwd=elsewhere, env=env)
    assert done.returncode == 0, done.stderr
    (run_dir,) = (volume / "runs").iterdir()
    assert list(elsewhere.iterdir()) == []
    recorded = json.loads((run_dir / "benchmark.json").read_text())["machine_info"]["container"]
    engine = next((name for name, marker in envinfo.ENGINE_MARKERS if marker.exists()), None)  # this host's
    assert recorded == {
        "in_container": True,
        "engine": engine,
        "flavor": "cpu",
        "version": "0.1.0",
        "revision": "0123456789abcdef",
        "image": "torch-bench-suite:cpu",
        "image_id": IMAGE_ENV["BENCH_IMAGE_ID"],
        "root_read_only": False,
    }
    assert json.loads((run_dir / "environment.json").read_text())["container"] == recorded

    host_run = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"
    collection = report.collect([run_dir, host_run], skip_bad=False)
    table = report.tidy(collection)
    where = f"torch-bench-suite:cpu@sha256:{'ab' * 6}"
    assert where in set(table.container) and len(set(table.container.fillna("host"))) == 2
    assert any("different images or the host are mixed" in note for note in report.doubts(table, []))
    assert any(line.startswith("containers: ") and where in line for line in report._context(table, collection).lines)


@pytest.mark.parametrize("marker", [None, "podman", "docker"])
def test_where_a_run_is_made_is_told_by_the_engines_marker_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, marker: str | None
) -> None:
    for name in [*IMAGE_ENV, "container"]:
        monkeypatch.delenv(name, raising=False)
    markers = tuple((name, tmp_path / name) for name in ("podman", "docker"))
    monkeypatch.setattr(envinfo, "ENGINE_MARKERS", markers)
    if marker:
        (tmp_path / marker).touch()
    nothing = dict.fromkeys(("flavor", "version", "revision", "image", "image_id"))
    assert envinfo.container() == {
        "in_container": marker is not None,
        "engine": marker,
        **nothing,
        "root_read_only": False,
    }


def test_podman_is_told_by_its_environment_where_its_marker_file_is_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under --read-only, podman 4.3 here left no /run/.containerenv to see; its $container is still set."""
    monkeypatch.setattr(envinfo, "ENGINE_MARKERS", ())
    monkeypatch.setenv("container", "podman")
    assert envinfo.container()["engine"] == "podman" and envinfo.container()["in_container"]
