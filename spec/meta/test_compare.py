"""The run report and the upgrade report: what they contain, and how bad files are refused."""

import json
import sys

import pytest
import torch

from spec.helpers import implementation
from spec.plugin import report
from spec.tools import compare, speed


def run(tests: dict, goldens: dict | None = None, torch="2.14.1") -> dict:
    return {
        "schema": report.SCHEMA,
        "versions": {"torch": torch, "numpy": "2.4.6"},
        "devices": {"cpu": "x86_64", "cuda": None},
        "tests": tests,
        "goldens": goldens or {},
    }


def entry(outcome, warnings=()):
    return {"outcome": outcome, "reason": "", "duration_s": 0.1, "warnings": list(warnings)}


@pytest.fixture
def files(tmp_path):
    old = run(
        {"a": entry("passed"), "b": entry("passed", ["FutureWarning: x"]), "gone": entry("passed")},
        {"g": {"col": [1.0, 2.0], "same": [3.0]}},
        torch="2.9.1",
    )
    new = run(
        {
            "a": entry("failed"),
            "b": entry("passed", ["DeprecationWarning: y"]),
            "new": entry("passed"),
        },
        {"g": {"col": [1.0, 2.5], "same": [3.0]}},
    )
    paths = tmp_path / "old.json", tmp_path / "new.json"
    for path, data in zip(paths, (old, new), strict=True):
        path.write_text(json.dumps(data))
    return paths


def test_the_upgrade_report_lists_outcomes_goldens_and_warnings(files):
    text = compare.compare(*(compare.load_report(p) for p in files))
    assert "| torch | 2.9.1 | 2.14.1 **changed** |" in text
    assert "- `a`: passed -> failed (no reason recorded on either side)" in text
    assert "only old: `gone`" in text
    assert "only new: `new`" in text
    assert "| g | col | 0.5 | 0.25 | 3.81e-06 | — | a real change |" in text
    assert "| g | same |" not in text  # unchanged columns are not listed
    appeared, gone = text.split("## Warnings that went away")
    assert "| DeprecationWarning: y | ? | 1 | — |" in appeared.split("## Warnings that appeared")[1]
    assert "| FutureWarning: x | ? | 1 | — |" in gone
    assert text.splitlines()[2] == (
        "**torch 2.9.1 -> 2.14.1: 0 behaviour change(s) that touch the note's code, 1 new "
        "failure(s), 1 test(s) changed outcome, goldens: 1 column(s) moved (0 within float32 "
        "rounding, 1 beyond), 1 new warning family (1 deprecation(s))**"
    )


DRIFT_ID = "spec/guarantees/05_drift.py::" + compare.DRIFT_TEST


def drift_entry(observed, release, outcome="passed", reason=""):
    measured = {"observed": observed, "release": release} if observed else {}
    return {**entry(outcome), "measured": measured, "reason": reason}


def test_a_behaviour_change_between_the_releases_is_named_with_what_each_side_saw():
    """The drift rows whose change lies between the two runs, as each run observed them."""
    row = "clamp(min=0) passes no gradient at exactly 0"
    load = "torch.load defaults to weights_only=True"
    both = f"{DRIFT_ID}[{row}]"
    one = f"{DRIFT_ID}[{load}]"
    old = run({both: drift_entry("old behaviour", "torch 2.9.1"),
               one: drift_entry(None, None, "skipped", "old behaviour not pinned")},
              torch="2.5.1")  # fmt: skip
    new = run({both: drift_entry("new behaviour", "torch 2.14.1"),
               one: drift_entry("new behaviour", "torch 2.14.1")})  # fmt: skip
    text = compare.compare(old, new)
    assert "1 behaviour change(s) that touch the note's code (clamp(min=0)" in text
    table = text.split("## Behaviour that changed")[1].split("##")[0]
    assert (
        f"| {row} | torch 2.14 | old behaviour (torch 2.9.1) | new behaviour (torch 2.14.1) |"
        in table
    )
    assert "d/dx clamp(x, min=0) at x == 0 is 0" in table  # what it means, from the table
    assert (
        f"| {load} | torch 2.6 | old behaviour not pinned | new behaviour (torch 2.14.1) |" in table
    )
    assert "Seen on one side only: torch.load defaults to weights_only=True." in table
    same = compare.compare(new, new)
    assert "None: no drift row changes between these releases." in same


def test_many_tests_changed_for_one_reason_read_as_one_line():
    """Six skips that pass for one reason are one line, the tests folded; both sides' reasons."""
    why = "torchvision.transforms.v2 needs torchvision >= 0.16"
    old = run({f"t{i}": {**entry("skipped"), "reason": why} for i in range(6)}
              | {"x": {**entry("xfailed"), "reason": "strict: fails before 2.4"}})  # fmt: skip
    new = run({f"t{i}": entry("passed") for i in range(6)} | {"x": entry("passed")})
    text = compare.compare(old, new)
    assert f"- **6 tests** skipped -> passed (old: {why})" in text
    assert "<summary>the tests</summary>" in text
    assert "- `x`: xfailed -> passed (old: strict: fails before 2.4)" in text


def test_goldens_read_as_rounding_or_a_real_change_against_their_tolerance():
    """A column moved by a few float32 ulps reads as rounding; its tolerance: within or beyond."""
    old = run({}, {"g": {"tiny": [1000.0], "big": [1.0]}})
    old["golden_tolerances"] = {"g": {"atol": 1e-6, "rtol": 1e-5}}
    new = run({}, {"g": {"tiny": [1000.0 + 2**-13], "big": [1.1]}})
    text = compare.compare(old, new)
    assert (
        "| g | tiny | 0.000122 | 1.22e-07 | 0.00191 | atol 1e-06 rtol 1e-05: within "
        "| float32 rounding |" in text
    )
    assert (
        "| g | big | 0.1 | 0.1 | 1.91e-06 | atol 1e-06 rtol 1e-05: beyond | a real change |" in text
    )


def test_warnings_are_grouped_by_message_with_their_library_and_removal():
    """One row per message: the library that emitted it, how many tests, the release removing it."""
    message = "FutureWarning: `x` is deprecated and will be removed in 2.16"
    old = run({"a": entry("passed"), "b": entry("passed")})
    new = run({"a": entry("passed", [message]), "b": entry("passed", [message])})
    new["warning_libraries"] = {message: "torch"}
    text = compare.compare(old, new)
    assert f"| {message} | torch | 2 | 2.16 |" in text
    assert "1 new warning family (1 deprecation(s))" in text
    assert (
        compare.removal_of("pretrained is deprecated since 0.13, may be removed in the future")
        == "a future release"
    )
    assert compare.removal_of("UserWarning: something else") == ""


def test_the_library_of_a_warning_is_the_package_of_its_file():
    """site-packages/<package>/... names the package; the project's own folders name themselves."""
    assert report.library_of("/x/.venv/lib/python3.11/site-packages/torch/jit/_trace.py") == "torch"
    assert report.library_of("/x/site-packages/pytorch_lightning/trainer.py") == "pytorch_lightning"
    assert report.library_of("/work/main/reference/cifar10.py") == "reference"


def test_benchmark_ratios_are_new_over_old(tmp_path, files):
    for name, mean in (("o", 2.0), ("n", 1.0)):
        data = {"benchmarks": [{"fullname": "x::case", "stats": {"mean": mean}}]}
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    bench = (
        compare.load_benchmarks(tmp_path / "o.json"),
        compare.load_benchmarks(tmp_path / "n.json"),
    )
    text = compare.compare(*(compare.load_report(p) for p in files), bench)
    assert "| x::case | 2 s | 1 s | 0.50 |" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not a JSON run report"),
        ('{"schema": "something else"}', "not a run report of schema"),
        ("[1, 2]", "not a run report of schema"),
        (
            json.dumps({"schema": report.SCHEMA, "versions": {}, "tests": []}),
            "without a 'tests' table",
        ),
    ],
    ids=["missing", "not JSON", "other schema", "a list", "malformed"],
)
def test_bad_report_files_stop_with_one_line(tmp_path, files, capsys, content, message):
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert compare.main([str(files[0]), str(bad), "-o", str(tmp_path / "out.md")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert message in err[0]
    assert not (tmp_path / "out.md").exists()


def test_the_run_report_carries_outcomes_durations_goldens_and_warnings():
    checklist = report.Checklist()
    r = pytest.TestReport(
        nodeid="spec/22_g.py::t", location=("f", 0, "t"), keywords={}, outcome="passed",
        longrepr=None, when="call", duration=0.25,
        user_properties=[(report.GOLDEN_KEY, {"name": "rng-cpu", "values": {"a": [1.0]}})],
    )  # fmt: skip
    checklist.record(r)
    data = report.run_report(checklist, {"spec/22_g.py::t": {"FutureWarning: soon"}})
    assert data["schema"] == report.SCHEMA
    assert data["tests"]["spec/22_g.py::t"]["outcome"] == "passed"
    assert data["tests"]["spec/22_g.py::t"]["duration_s"] == 0.25
    assert data["tests"]["spec/22_g.py::t"]["warnings"] == ["FutureWarning: soon"]
    assert data["goldens"] == {"rng-cpu": {"a": [1.0]}}
    assert "torch" in data["versions"]
    assert "torch_threads" in data["devices"]
    json.dumps(data)  # serialisable as written


RUN_TESTS = """
import pytest

def test_passes(record_property):
    \"\"\"A test that passes.\"\"\"
    record_property("accuracy", 0.5)

def test_fails():
    assert 1 == 2

@pytest.mark.skip(reason="not here")
def test_skipped():
    pass
"""


def test_the_run_report_is_pytest_json_reports_file_with_the_spec_s_part(pytester):
    """``--run-report`` writes pytest-json-report's file (its tests, phases, summary) with
    each test's row of the spec under ``metadata["spec"]`` and the run's under ``"spec"``;
    ``load_run_report`` reads it back as the flat table compare and atlas read."""
    pytester.makepyfile(test_run=RUN_TESTS)
    out = pytester.path / "run.json"
    args = ["-p", "spec.plugin.report", "-o", "addopts=", "-p", "no:cacheprovider"]
    result = pytester.runpytest_inprocess(*args, "--run-report", str(out))
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    raw = json.loads(out.read_text())
    assert raw["spec"]["schema"] == report.FILE_SCHEMA
    assert raw["summary"]["total"] == 3  # pytest-json-report's own summary
    by_id = {t["nodeid"]: t for t in raw["tests"]}
    assert by_id["test_run.py::test_fails"]["call"]["outcome"] == "failed"  # its phases
    assert by_id["test_run.py::test_passes"]["metadata"]["spec"]["doc"] == "A test that passes."
    flat = report.load_run_report(out)
    assert flat["schema"] == report.SCHEMA
    assert {k: t["outcome"] for k, t in flat["tests"].items()} == {
        "test_run.py::test_passes": "passed", "test_run.py::test_fails": "failed",
        "test_run.py::test_skipped": "skipped",
    }  # fmt: skip
    assert flat["tests"]["test_run.py::test_skipped"]["reason"] == "not here"
    assert flat["tests"]["test_run.py::test_passes"]["measured"] == {"accuracy": "0.5"}
    assert flat["counts"] == {"passed": 1, "failed": 1, "skipped": 1}
    assert flat["pytest"]["exitcode"] == 1
    assert "torch" in flat["versions"]
    assert not list(pytester.path.glob("*.tmp")), "the write left a temporary"


def test_the_run_report_needs_pytest_json_report_and_says_so(pytester):
    """With pytest-json-report disabled, ``--run-report`` stops the run in one line."""
    pytester.makepyfile(test_run=RUN_TESTS)
    args = ["-p", "spec.plugin.report", "-o", "addopts=", "-p", "no:pytest_jsonreport"]
    result = pytester.runpytest_inprocess(*args, "--run-report", "x.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "--run-report is built on pytest-json-report" in result.stderr.str()


def test_a_flat_run_report_still_loads_and_anything_else_is_refused(tmp_path):
    """Files written before the report was built on pytest-json-report load as they are;
    a JSON file of neither kind is refused naming both schemas."""
    flat = tmp_path / "old.json"
    flat.write_text(json.dumps({"schema": report.SCHEMA, "tests": {}, "versions": {}}))
    assert report.load_run_report(flat)["schema"] == report.SCHEMA
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"tests": []}))
    with pytest.raises(ValueError, match=r"run-report/1' or '.*run-report/2' \(found None\)"):
        report.load_run_report(other)


def speed_file(old_ms: dict, new_ms: dict, old_torch="2.9.1", new_torch="2.14.1") -> dict:
    """A speed file: per batch a list of ms/step, one per round, for each side."""

    def rounds(per_batch, torch):
        n = len(next(iter(per_batch.values())))
        return [{"torch": torch, "seconds_per_step": {b: v[i] / 1e3 for b, v in per_batch.items()}}
                for i in range(n)]  # fmt: skip

    return {"schema": speed.SCHEMA, "threads": 1, "steps": 100, "batches": list(old_ms),
            "old": {"torch": old_torch, "rounds": rounds(old_ms, old_torch)},
            "new": {"torch": new_torch, "rounds": rounds(new_ms, new_torch)}}  # fmt: skip


def test_the_core_speed_reads_as_the_median_ratio_of_rounds_and_its_range():
    """Per batch: new/old of each round paired in order; the median; noise when 1 is inside."""
    data = speed_file({"4": [1.0, 1.0, 1.0], "64": [10.0, 10.0, 10.0]},
                      {"4": [1.3, 1.2, 1.25], "64": [9.0, 10.5, 10.2]})  # fmt: skip
    read = speed.summary(data)
    assert read["4"]["ratio"] == pytest.approx(1.25)
    assert (read["4"]["low"], read["4"]["high"]) == (pytest.approx(1.2), pytest.approx(1.3))
    assert read["4"]["reads"] == "slower"
    assert read["64"]["ratio"] == pytest.approx(1.02)
    assert read["64"]["reads"] == "within noise"
    faster = speed.summary(speed_file({"4": [2.0, 2.0]}, {"4": [1.0, 1.5]}))
    assert faster["4"]["reads"] == "faster"


def test_the_upgrade_report_gives_the_core_speed_in_its_summary_and_a_table(files):
    old, new = (compare.load_report(p) for p in files)
    data = speed_file({"4": [1.0, 1.0, 1.0]}, {"4": [1.3, 1.2, 1.25]})
    text = compare.compare(old, new, speed=data)
    assert ", training core: 1.25x at batch 4 (slower)**" in text.splitlines()[2]
    assert "| 4 | 1.000 | 1.200 | 1.25x | 1.20-1.30 | slower |" in text
    # timed the other way round (new release first): the sides follow the runs' releases
    swapped = speed_file({"4": [1.3, 1.2, 1.25]}, {"4": [1.0, 1.0, 1.0]},
                         old_torch="2.14.1", new_torch="2.9.1")  # fmt: skip
    assert compare.compare(old, new, speed=swapped) == text


def test_the_upgrade_report_names_the_implementation_of_each_run(files):
    old, new = (compare.load_report(p) for p in files)
    mine = {"package": "mine", "folder": "/tmp/mine", "commit": None, "is_reference": False}
    ref = {"package": "reference", "folder": "/w/reference", "commit": "a" * 40,
           "is_reference": True}  # fmt: skip
    same = compare.compare({**old, "implementation": mine}, {**new, "implementation": mine})
    assert "Implementation under test: mine (/tmp/mine, not in git)." in same
    differ = compare.compare({**old, "implementation": ref}, {**new, "implementation": mine})
    assert f"old run reference (/w/reference, git {'a' * 12}); new run mine" in differ
    assert "Not the same code on both sides" in differ


def test_the_speed_tool_times_the_core_in_a_child_process(monkeypatch):
    """One real child on this interpreter, a few steps: its torch and a time per batch.

    A test of the tool: the child times the reference, whatever implementation this run
    grades (a learner's may not have a Net yet)."""
    pytest.importorskip("torchvision", reason="the reference's CIFAR-10 Net module imports it")
    monkeypatch.setenv(implementation.ENV, str(implementation.REFERENCE))
    timed = speed._child(sys.executable, [2], steps=2)
    assert timed["torch"] == torch.__version__.split("+")[0]
    assert timed["seconds_per_step"]["2"] > 0


def test_the_speed_tool_writes_both_sides_and_every_round(tmp_path, monkeypatch):
    """The file it writes: both interpreters' releases and rounds, readable by ``load``."""

    def child(python, batches, steps):
        return {"torch": f"torch of {python}", "seconds_per_step": {"2": 0.001}}

    monkeypatch.setattr(speed, "_child", child)
    out = tmp_path / "speed.json"
    argv = ["A", "B", "--rounds", "2", "--steps", "2", "--batch", "2", "-o", str(out)]
    assert speed.main(argv) == 0
    data = speed.load(out)
    assert (data["batches"], data["steps"], data["threads"]) == ([2], 2, 1)
    assert (data["old"]["torch"], data["new"]["torch"]) == ("torch of A", "torch of B")
    assert [len(data[side]["rounds"]) for side in ("old", "new")] == [2, 2]
    assert speed.summary(data)["2"]["ratio"] == 1.0


def test_the_speed_tool_alternates_the_interpreters_a_b_b_a(monkeypatch):
    """A machine that drifts during the run weighs on both sides alike."""
    calls = []

    def child(python, batches, steps):
        calls.append(python)
        return {"torch": python, "seconds_per_step": {"4": 1.0}}

    monkeypatch.setattr(speed, "_child", child)
    data = speed.measure("A", "B", rounds=3, steps=1, batches=[4], log=lambda line: None)
    assert calls == ["A", "B", "B", "A", "A", "B"]
    assert (data["old"]["torch"], data["new"]["torch"]) == ("A", "B")


def test_the_speed_tool_stops_with_one_line_when_an_interpreter_fails(tmp_path, capsys):
    out = tmp_path / "speed.json"
    assert speed.main([str(tmp_path / "no-python"), sys.executable, "--rounds", "1",
                       "--steps", "1", "-o", str(out)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"python -m spec.tools.speed: error: {tmp_path / 'no-python'}: ")
    assert "could not time the core" in err[0]
    assert not out.exists()
