"""The mutation report's bookkeeping: its score, and a long run done in parts.

``make mutants`` itself takes hours and is not run here; these tests run its report and its
``--continue`` on small .meta files written the way mutmut 3 writes them.
"""

import json

import pytest

from spec.mutation import __main__ as mutation


@pytest.fixture
def mutants(tmp_path, monkeypatch):
    """A mutants/ folder with one module's .meta file, and the report's files in tmp_path."""
    root = tmp_path / "mutants"
    (root / "reference").mkdir(parents=True)
    monkeypatch.setattr(mutation, "MUTANTS", root)
    monkeypatch.setattr(mutation, "EXIT_CODES", tmp_path / "exit-codes.json")

    def write(codes: dict) -> None:
        meta = root / "reference" / "m.py.meta"
        meta.write_text(json.dumps({"exit_code_by_key": codes, "durations_by_key": {}}))

    return write


def codes_in_meta(mutants_dir) -> dict:
    return json.loads((mutants_dir / "reference" / "m.py.meta").read_text())["exit_code_by_key"]


def test_the_score_counts_timeouts_and_crashes_as_kills_and_leaves_out_what_was_not_judged():
    """killed + timeout + segfault over what was run and is neither equivalent nor CUDA-only."""
    counts = mutation.Counter(killed=6, timeout=1, segfault=1, survived=2, equivalent=5)
    counts.update({"needs CUDA": 3, "not run": 40})
    assert mutation.score(counts) == 8 / 10
    assert mutation.score(mutation.Counter({"not run": 3, "equivalent": 1})) is None


def test_a_continued_run_keeps_the_earlier_results_of_the_same_reference(mutants, tmp_path):
    """Results recorded on this reference/ tree are written back; the rest stay to be run.

    A result of an interrupted check (2) or of a SIGKILL (-9) is not a result: not kept.
    """
    mutants({"a__mutmut_1": 1, "a__mutmut_2": 0, "a__mutmut_3": 2, "a__mutmut_4": -9,
             "a__mutmut_5": None})  # fmt: skip
    mutation.write_exit_codes({"reference_tree": "t1", "commit": "c1", "seconds": 60})
    saved = json.loads(mutation.EXIT_CODES.read_text())
    assert saved["exit_codes"] == {"a__mutmut_1": 1, "a__mutmut_2": 0}
    assert saved["parts"] == [
        {"commit": "c1", "date": None, "seconds": 60, "cores": None, "max_children": None,
         "mutants": 2}
    ]  # fmt: skip

    mutants(dict.fromkeys(("a__mutmut_1", "a__mutmut_2", "a__mutmut_3", "a__mutmut_4")))
    assert mutation.restore("another tree") is None
    assert set(codes_in_meta(mutation.MUTANTS).values()) == {None}
    parts, restored = mutation.restore("t1")
    assert restored == 2
    assert parts == saved["parts"]
    assert codes_in_meta(mutation.MUTANTS) == {
        "a__mutmut_1": 1, "a__mutmut_2": 0, "a__mutmut_3": None, "a__mutmut_4": None
    }  # fmt: skip


def test_the_second_part_counts_only_what_it_ran_and_the_report_names_both(mutants):
    """After a continued run, exit-codes.json lists both parts; the report's head, each."""
    mutants({"a__mutmut_1": 1, "a__mutmut_2": 0, "a__mutmut_3": 1})
    first = {"commit": "c1", "date": "2026-12-01", "seconds": 600, "mutants": 2}
    log = {"reference_tree": "t1", "commit": "c2", "date": "2026-12-02", "seconds": 300,
           "earlier": [first], "reruns": [{"date": "2026-12-02", "commit": "c3",
                                           "mutants": 1, "seconds": 120}]}  # fmt: skip
    mutation.write_exit_codes(log)
    parts = json.loads(mutation.EXIT_CODES.read_text())["parts"]
    assert [p["mutants"] for p in parts] == [2, 1]
    lines = mutation._parts_lines(log)
    assert lines == [
        "- continues 1 earlier part(s) on the same reference/, whose results stand: "
        "2026-12-01, commit c1, 2 mutants, 10 min",
        "- survivors rerun 2026-12-02 with the tests of commit c3: 1 mutants, 2 min",
    ]
