"""The run report and the upgrade report: what they contain, and how bad files are refused."""

import json

import pytest

from spec.helpers import compare, report


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
    assert "| `a` | passed | failed |" in text
    assert "only old: `gone`" in text
    assert "only new: `new`" in text
    assert "| g | col | 0.5 | 0.25 |" in text
    assert "| g | same |" not in text  # unchanged columns are not listed
    assert "- `b`: DeprecationWarning: y" in text.split("went away")[0]
    assert "- `b`: FutureWarning: x" in text.split("went away")[1]


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
