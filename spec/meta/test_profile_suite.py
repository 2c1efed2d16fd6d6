"""The suite's profiler (``make profile-suite``): what it reads from a run and how it says it."""

from spec.tools import profile_suite


def _test(nodeid: str, setup: float, call: float, teardown: float = 0.0) -> dict:
    return {
        "nodeid": nodeid,
        "setup": {"duration": setup},
        "call": {"duration": call},
        "teardown": {"duration": teardown},
    }


REPORT = {
    "summary": {"passed": 3, "skipped": 1},
    "tests": [
        _test("spec/a.py::test_fixture_heavy", 5.0, 0.5),
        _test("spec/a.py::test_quick", 0.0, 0.25),
        _test("spec/b.py::test_slow_call", 0.25, 3.0, 0.5),
        {"nodeid": "spec/b.py::test_skipped", "setup": {"duration": 0.125}},
    ],
}


def test_the_slowest_tests_add_up_their_phases_and_files_add_up_their_tests():
    tests, files = profile_suite.slowest(REPORT, n=2)
    assert tests == [(5.5, "spec/a.py::test_fixture_heavy"), (3.75, "spec/b.py::test_slow_call")]
    assert files == [(5.75, "spec/a.py"), (3.875, "spec/b.py")]


def test_the_worker_count_comes_from_the_command_line():
    assert profile_suite.workers_of(["spec", "-n", "2", "--dist", "loadfile"]) == 2
    assert profile_suite.workers_of(["spec", "-n4"]) == 4
    assert profile_suite.workers_of(["spec", "-q"]) == 1


def test_the_profile_names_wall_cpu_the_import_share_and_the_slowest():
    figures = {
        "when": "2026-12-06", "machine": "2-core linux", "args": ["spec", "-n", "2"],
        "exit_code": 0, "wall_s": 60.0, "cpu_s": 120.0, "workers": 2,
        "collect_wall_s": 9.0, "collect_cpu_s": 9.0, "bytecode": False,
        "dont_write_bytecode": "1", "omp": "1", "torch_threads": "1",
        "sys_s": 9.5, "faults": 2_430_000, "glibc_tunables": "glibc.malloc.hugetlb=1",
    }  # fmt: skip
    text = profile_suite.render(figures, REPORT)
    assert "**60.0 s wall, 120.0 CPU-s**" in text
    assert "3 passed, 1 skipped" in text
    assert "9.5 s in the kernel, 2.4 M page faults" in text
    assert "GLIBC_TUNABLES='glibc.malloc.hugetlb=1'" in text
    assert "x 2 workers = 18.0 CPU-s, **15% of the run's CPU**" in text
    assert "bytecode: MISSING; PYTHONDONTWRITEBYTECODE='1'" in text
    assert text.index("test_fixture_heavy") < text.index("test_slow_call")
    assert "| `spec/a.py` | 5.75 |" in text


def test_the_files_handed_out_first_exist_and_are_named_once():
    """conftest's LONGEST_FILES (the order xdist hands files out in) names real files,
    each once: a renamed file would otherwise silently fall back to the end."""
    from pathlib import Path

    import conftest

    root = Path(conftest.__file__).parent
    assert len(set(conftest.LONGEST_FILES)) == len(conftest.LONGEST_FILES)
    missing = [f for f in conftest.LONGEST_FILES if not (root / f).is_file()]
    assert not missing, missing


def test_files_are_handed_out_longest_first_and_each_file_s_tests_stay_together():
    """The xdist order: LONGEST_FILES first, then files with a slow test, then the rest;
    within a file the tests keep their order and stay together, so its module fixtures
    are made once (sorted test by test, a slow test of one file went before the other
    tests of its file, and Lightning's fit was made twice in each nested spec run)."""
    from types import SimpleNamespace

    import conftest

    def item(nodeid, *marks):
        return SimpleNamespace(nodeid=nodeid, keywords={"x": 1, **dict.fromkeys(marks, 1)})

    longest = conftest.LONGEST_FILES[0]
    items = [
        item("spec/a.py::quick"), item("spec/a.py::fit", "slow"), item("spec/a.py::after"),
        item("spec/b.py::one"), item("spec/b.py::two"),
        item("spec/c.py::ddp", "distributed"),
        item(f"{longest}::t"),
    ]  # fmt: skip
    ordered = [i.nodeid for i in conftest._longest_files_first(items)]
    assert ordered == [
        f"{longest}::t",
        "spec/a.py::quick", "spec/a.py::fit", "spec/a.py::after",
        "spec/c.py::ddp",
        "spec/b.py::one", "spec/b.py::two",
    ]  # fmt: skip


def test_xdist_s_controller_imports_no_torch_before_the_workers_start():
    """pytest-xdist's controller loads the root conftest and prints the header before it
    starts the workers, and runs no test: neither imports torch (1.2 s that kept both
    workers waiting). The header then leaves the devices to the workers, who name them
    when the run ends."""
    import subprocess
    import sys
    from pathlib import Path

    import conftest

    script = (
        "import sys, conftest\n"
        "from spec.helpers import environment\n"
        "lines = environment.header_lines(devices=False)\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "print(lines[-1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=Path(conftest.__file__).parent,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (
        done.stdout.strip()
        == "devices and torch threads: as each worker sees them, when the run ends"
    )
