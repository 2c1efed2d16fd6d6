"""The mutation report's bookkeeping: its score, and a long run done in parts.

``make mutants`` itself takes hours and is not run here; these tests run its report and its
``--continue`` on small .meta files written the way mutmut 3 writes them.
"""

import json

import pytest

from spec.mutation import __main__ as mutation

#: A mutant of module m, as mutmut names them.
M = "reference.m.x_a__mutmut_{}".format


@pytest.fixture
def mutants(tmp_path, monkeypatch):
    """A mutants/ folder with one module's .meta file, and the report's files in tmp_path."""
    root = tmp_path / "mutants"
    (root / "reference").mkdir(parents=True)
    monkeypatch.setattr(mutation, "MUTANTS", root)
    monkeypatch.setattr(mutation, "EXIT_CODES", tmp_path / "exit-codes.json")
    # the source of module m at any commit (the report hashes the measured commit's files)
    monkeypatch.setattr(mutation, "sources", lambda commit=None: {"m": "digest-1"})
    digests = {"reference.m.x_a": "f-1", "reference.m": "rest-1"}  # a function, the rest
    monkeypatch.setattr(mutation, "functions", lambda commit=None: digests)

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


def test_a_continued_run_keeps_the_earlier_results_of_unchanged_modules(mutants, tmp_path):
    """Results recorded on a module's present source are written back; the rest stay to be run.

    A result of an interrupted check (2) or of a SIGKILL (-9) is not a result: not kept.
    """
    mutants({M(1): 1, M(2): 0, M(3): 2, M(4): -9, M(5): None})
    mutation.write_exit_codes({"commit": "c1", "seconds": 60})
    saved = json.loads(mutation.EXIT_CODES.read_text())
    assert saved["exit_codes"] == {M(1): 1, M(2): 0}
    assert saved["parts"] == [
        {"commit": "c1", "date": None, "seconds": 60, "cores": None, "max_children": None,
         "mutants": 2}
    ]  # fmt: skip

    mutants(dict.fromkeys([M(1), M(2), M(3), M(4)]))
    assert saved["sources"] == {"m": "digest-1"}
    assert mutation.restore({"m": "digest-2"}) is None  # m changed since: all of it runs again
    assert set(codes_in_meta(mutation.MUTANTS).values()) == {None}
    parts, restored = mutation.restore({"m": "digest-1"})
    assert restored == 2
    assert parts == saved["parts"]
    assert codes_in_meta(mutation.MUTANTS) == {
        M(1): 1, M(2): 0, M(3): None, M(4): None
    }  # fmt: skip
    # a continuation stopped before it ran anything and started again: mutmut kept the
    # restored results in its .meta files; they still count as the earlier parts'
    assert mutation.restore({"m": "digest-1"}) == (saved["parts"], 2)
    assert codes_in_meta(mutation.MUTANTS)[M(1)] == 1


def test_in_a_changed_module_only_the_changed_functions_run_again(mutants):
    """Module m changed, function a did not: a's results stand; b's mutants run again. A
    change outside the functions (a constant, an import) runs the whole module again."""
    b = "reference.m.x_b__mutmut_{}".format
    mutants({M(1): 1, M(2): 0, b(1): 1})
    mutation.write_exit_codes({"commit": "c1", "seconds": 60})
    saved = json.loads(mutation.EXIT_CODES.read_text())
    assert saved["digest"] == mutation.DIGEST
    assert saved["functions"] == {"reference.m.x_a": "f-1", "reference.m": "rest-1"}
    mutants(dict.fromkeys([M(1), M(2), b(1)]))
    now = {"reference.m.x_a": "f-1", "reference.m": "rest-1"}
    _, restored = mutation.restore({"m": "digest-2"}, now)
    assert restored == 2
    assert codes_in_meta(mutation.MUTANTS) == {M(1): 1, M(2): 0, b(1): None}
    for changed in ({**now, "reference.m.x_a": "f-2"}, {**now, "reference.m": "rest-2"}):
        mutants(dict.fromkeys([M(1), M(2), b(1)]))
        assert mutation.restore({"m": "digest-2"}, changed) is None, changed


def test_after_a_rerun_the_results_stand_for_the_reruns_code(mutants, monkeypatch):
    """The digests saved are of the latest rerun's commit, not the first run's: a function
    changed between the two was run again by the rerun, so it is not run a third time."""
    monkeypatch.setattr(mutation, "sources", lambda commit=None: {"m": f"digest-{commit}"})
    monkeypatch.setattr(mutation, "functions", lambda commit=None: {})
    mutants({M(1): 1})
    mutation.write_exit_codes({"commit": "c1", "reruns": [{"commit": "c2"}, {"commit": "c3"}]})
    assert json.loads(mutation.EXIT_CODES.read_text())["sources"] == {"m": "digest-c3"}
    mutation.write_exit_codes({"commit": "c1"})
    assert json.loads(mutation.EXIT_CODES.read_text())["sources"] == {"m": "digest-c1"}


def test_a_rerun_takes_back_the_results_of_the_mutants_it_runs_again(mutants):
    """The survivor M(2) runs again even where mutmut's .meta file still holds its result
    (its module unchanged); the killed M(1) keeps its result."""
    mutants({M(1): 1, M(2): 0})
    mutation.write_exit_codes({"commit": "c1", "seconds": 60})
    _, restored = mutation.restore({"m": "digest-1"}, {}, again={M(2)})
    assert restored == 1
    assert codes_in_meta(mutation.MUTANTS) == {M(1): 1, M(2): None}


def test_code_digests_ignore_docstrings_comments_and_layout(tmp_path, monkeypatch):
    """What a mutant measured is the code: a reworded docstring or a comment keeps the
    results; a changed expression does not. Methods are named as mutmut names them."""
    ref = tmp_path / "reference"
    ref.mkdir()
    monkeypatch.setattr(mutation, "ROOT", tmp_path)

    def digests(text):
        (ref / "m.py").write_text(text)
        return mutation.sources()["m"], mutation.functions()

    base = digests('"""Doc."""\ndef f(x):\n    """One."""\n    return x + 1\n'
                   "class C:\n    def g(self):\n        return 2\n")  # fmt: skip
    assert set(base[1]) == {"reference.m.x_f", "reference.m.x\u01c1C\u01c1g", "reference.m"}
    reworded = digests('"""Other."""\ndef f(x):  # a comment\n    """Two."""\n\n'
                       "    return (x +\n            1)\nclass C:\n    def g(self):\n"
                       "        return 2\n")  # fmt: skip
    assert reworded == base
    changed = digests('def f(x):\n    return x - 1\nclass C:\n    def g(self):\n'
                      "        return 2\n")  # fmt: skip
    assert changed[0] != base[0]
    assert changed[1]["reference.m.x_f"] != base[1]["reference.m.x_f"]
    assert changed[1]["reference.m"] == base[1]["reference.m"]  # nothing outside changed
    constant = digests('K = 1\ndef f(x):\n    return x - 1\nclass C:\n    def g(self):\n'
                       "        return 2\n")  # fmt: skip
    assert constant[1]["reference.m"] != changed[1]["reference.m"]
    assert constant[1]["reference.m.x_f"] == changed[1]["reference.m.x_f"]
    assert changed[1]["reference.m.x\u01c1C\u01c1g"] == base[1]["reference.m.x\u01c1C\u01c1g"]


def test_the_second_part_counts_only_what_it_ran_and_the_report_names_both(mutants):
    """After a continued run, exit-codes.json lists both parts; the report's head, each."""
    mutants(
        {
            M(1): 1,
            M(2): 0,
            M(3): 1,
        }
    )
    first = {"commit": "c1", "date": "2026-12-01", "seconds": 600, "mutants": 2}
    log = {"commit": "c2", "date": "2026-12-02", "seconds": 300,
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


def test_no_results_are_kept_for_code_that_was_not_committed(mutants):
    """A run of a dirty checkout measured code no commit holds: nothing to continue from."""
    mutants({M(1): 1})
    mutation.write_exit_codes({"commit": "c1", "dirty": True})
    assert not mutation.EXIT_CODES.exists()
