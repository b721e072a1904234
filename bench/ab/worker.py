"""One side's worker process: builds cases and times blocks of rounds on the parent's request.

The parent (:mod:`bench.ab.session`) talks to it in JSON lines over a pipe: the worker's standard
input, and a private copy of its standard output (the real one is pointed at standard error, so
nothing a workload prints can break the protocol). Requests:

* ``{"op": "hello", "settings": "...", "targets": [...]}`` — apply the settings, load the
  workloads; answers what this side is (torch, Python, workloads, CPU);
* ``{"op": "plan", "size": ..., "workloads": [...], "families": [...], "tags": [...], "dtypes": [...],
  "params": [...]}`` — the selected cases (id, family, workload, tags);
* ``{"op": "build", "case": ID, "iterations": N or null}`` — seed, build, first call, digest;
  calibrate the calls per round when ``iterations`` is null; answers the iterations and digest;
* ``{"op": "rounds", "count": R}`` — R rounds of the built case; answers seconds per call of each;
* ``{"op": "exit"}``.

Any failure is answered ``{"error": "one line"}``; the worker goes on to the next request.

``$BENCH_AB_CPUS`` (e.g. ``1`` or ``0,1``) pins the worker to those CPUs once its imports are done
(both workers of a pair import at once on every CPU, then share theirs): every thread it has then,
and every one it starts later.
"""

from __future__ import annotations

import json
import os
import sys
from typing import IO, Any


def serve(requests: IO[str], answers: IO[str]) -> None:
    from bench import envinfo, timing  # noqa: PLC0415
    from bench.context import RunContext  # noqa: PLC0415 - after the pipes are set
    from bench.distributed import decode_settings  # noqa: PLC0415
    from bench.options import override  # noqa: PLC0415
    from bench.registry import all_workloads, plan, select  # noqa: PLC0415
    from bench.runner import release, result_digest, time_rounds  # noqa: PLC0415
    from bench.timing import RoundPlan, RoundPolicy, backend_for, plan_rounds  # noqa: PLC0415

    state: dict[str, Any] = {"affinity": pin(os.environ.get("BENCH_AB_CPUS"))}  # torch is imported by now

    def hello(request: dict[str, Any]) -> dict[str, Any]:
        state["ctx"] = context = RunContext(decode_settings(request["settings"]))
        context.apply()
        state["targets"] = request.get("targets", [])
        state["workloads"] = all_workloads(state["targets"])
        machine = envinfo.collect()
        return {
            "torch": machine["torch"]["version"],
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "cpu": machine["cpu_model"],
            "cpus": machine["cpu_count"],
            "gpus": [g["name"] for g in machine["gpus"]],
            "threads": machine["torch_threads"],
            "container": machine["container"],
            "pid": os.getpid(),
            "affinity": state["affinity"],
            "workloads": len(state["workloads"]),
        }

    def planned(request: dict[str, Any]) -> dict[str, Any]:
        chosen = select(request["workloads"], request["families"], request["tags"], state["targets"])
        cases = override(plan(chosen, request["size"], state["ctx"].device.type, request["dtypes"]), request["params"])
        state["cases"] = {case.id: case for case in cases}
        return {
            "cases": [
                {"id": c.id, "family": c.workload.family, "workload": c.workload.name, "tags": sorted(c.workload.tags)}
                for c in cases
            ]
        }

    def build(request: dict[str, Any]) -> dict[str, Any]:
        state.pop("prepared", None)
        context, case = state["ctx"], state["cases"][request["case"]]
        context.seed_everything()
        prepared = case.prepare(context)
        digest = result_digest(prepared, prepared.call())
        iterations = 1 if case.workload.timed_once else request.get("iterations")  # a training run: one call
        if iterations is None:
            iterations = plan_rounds(prepared.call, context.synchronize, RoundPolicy(**request["policy"])).iterations
        state["prepared"], state["iterations"], state["once"] = prepared, iterations, case.workload.timed_once
        return {"iterations": iterations, "result_sha256": digest}

    def rounds(request: dict[str, Any]) -> dict[str, Any]:
        timing.arm(backend_for(state["ctx"].device))
        try:
            count = 1 if state["once"] else request["count"]  # a block of a training case: one run
            host, _ = time_rounds(state["prepared"].call, RoundPlan(state["iterations"], count, 0))
        finally:
            device = timing.disarm(state["iterations"], 0)
        return {"per_call_s": device or host}

    handlers = {"hello": hello, "plan": planned, "build": build, "rounds": rounds}
    for line in requests:
        request = json.loads(line)
        if request["op"] == "exit":
            return
        try:
            answer = handlers[request["op"]](request)
        except Exception as error:  # noqa: BLE001 - any failure is the parent's to report, in one line
            first = (str(error).strip().splitlines() or [""])[0]
            answer = {"error": f"{type(error).__name__}: {first}"[:300]}
            if "ctx" in state:
                release(state["ctx"])
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def threads() -> list[int]:
    """This process's threads (Linux), or the process alone."""
    return [int(task) for task in os.listdir("/proc/self/task")] if os.path.isdir("/proc/self/task") else [0]


def pin(cpus: str | None) -> list[int] | None:
    """Pin every thread of this process to ``cpus`` ("1", "0,1"); the CPUs its threads may use after."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    if cpus:
        for thread in threads():
            os.sched_setaffinity(thread, {int(cpu) for cpu in cpus.split(",")})
    return sorted(set().union(*(os.sched_getaffinity(thread) for thread in threads())))


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # whatever else writes to standard output lands in standard error
    sys.stdout = sys.stderr
    serve(sys.stdin, answers)


if __name__ == "__main__":
    main()
