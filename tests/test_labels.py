"""Short labels of cases known only by their ids (failures, head-to-heads) and of results as read."""

from __future__ import annotations

from pathlib import Path

from bench.labels import Described, from_id, labels_by_id, short_labels
from bench.record import RunRecord

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "cpu-smoke"


def test_a_case_known_by_its_id_reads_like_a_result_of_the_same_parameters() -> None:
    result = Described("mm", {"n": 64, "op": "mm"}, ["op"], "float32")
    failed = from_id("mm/n=64/op=matmul/float32", {"mm": ["op"]})
    assert failed == Described("mm", {"n": "64", "op": "matmul"}, ["op"], "float32")
    assert short_labels([result, failed]) == ["mm[mm]", "mm[matmul]"], "n=64 and n='64' are the same size"
    assert short_labels([from_id("mm/n=64/op=matmul/float32", {}), result]) == ["mm[op=matmul]", "mm[mm]"]
    assert from_id("lives", {}) == Described("lives", {}, [], None)


def test_a_result_is_labelled_as_read() -> None:
    cases = RunRecord.from_json(FIXTURE).cases
    labels = short_labels(cases)
    assert labels[0] == "cifar_train[seed]" and "mm[matmul]" in labels and len(set(labels)) == len(cases)


def test_ids_alone_are_labelled_among_themselves_once_each() -> None:
    ids = ["mm/n=64/op=mm/float32", "mm/n=64/op=matmul/float32", "mm/n=64/op=mm/float32", "diagonal/n=64/float32"]
    assert labels_by_id(ids) == {
        "mm/n=64/op=mm/float32": "mm[op=mm]",
        "mm/n=64/op=matmul/float32": "mm[op=matmul]",
        "diagonal/n=64/float32": "diagonal",
    }
