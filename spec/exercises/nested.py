"""The spec run against another implementation, as a pytest session nested in this one.

The libraries are imported already, so a nested session costs only its tests: a child
process would spend most of its time importing torch again. The implementation under
test is the outer run's again afterwards.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

from spec.helpers import implementation
from spec.helpers.run_report import load_run_report

ROOT = Path(__file__).resolve().parents[2]
#: The second implementation, written the official tutorials' way (test data).
TUTORIAL_STYLE = ROOT / "spec" / "exercises" / "tutorial_style"


def only_in_the_reference_s_run() -> None:
    """Skip a proof of the spec itself unless the run grades the reference."""
    import pytest

    if not implementation.current().is_reference:
        pytest.skip("a proof of the spec itself: it runs in the reference's run")


#: What the chapters import between them: a proof of the spec runs chapters whole, and
#: where one of these is missing (torch 1.13.1 has no torchvision for Python 3.11) the
#: chapters it runs are skipped, which proves nothing.
CHAPTER_LIBRARIES = ("torchvision", "pytorch_lightning", "torchmetrics", "tensorboard",
                     "matplotlib", "mlxtend")  # fmt: skip


def run_spec(impl: Path, paths: list[str], out: Path, *marks: str) -> dict:
    """The spec's ``paths`` run against ``impl``; the run report (``--run-report out``).
    Skips, naming the library, where the chapters cannot all run."""
    import importlib.util

    import pytest

    for library in CHAPTER_LIBRARIES:
        if importlib.util.find_spec(library) is None:
            pytest.skip(f"a proof of the spec runs its chapters: needs {library}, not installed")

    args = [*paths, "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "--impl", str(impl),
            "--run-report", str(out), "--basetemp", str(out.parent / "inner"), *marks]  # fmt: skip
    cwd = Path.cwd()
    # What the outer run holds now is set aside from the garbage collector, as the root
    # conftest does after collecting: pytest collects garbage several times as a session
    # ends, and walking the whole heap (torch and Lightning imported, the outer tests'
    # fixtures) took half of a one-test session (0.17 of 0.33 s). Only what the nested
    # session makes is walked. Nothing is unfrozen after: the outer run keeps it so.
    gc.freeze()
    with implementation.restored():
        try:
            os.chdir(ROOT)
            pytest.main(args)
        finally:
            os.chdir(cwd)
    assert out.exists(), f"the nested run wrote no report: {args}"
    return load_run_report(out)


def outcomes(report: dict) -> dict[str, int]:
    """{outcome: how many tests had it}."""
    counted: dict[str, int] = {}
    for test in report["tests"].values():
        counted[test["outcome"]] = counted.get(test["outcome"], 0) + 1
    return dict(sorted(counted.items()))


def judge(report: dict, differences: dict[str, tuple[int, str]]) -> tuple[dict, list]:
    """(every test that failed, erred or is to do without a declared difference, with its
    message; every declared difference that did not fail): both empty when an
    implementation passes but for what it declares."""
    bad = {
        test_id: test.get("message") or test["reason"]
        for test_id, test in report["tests"].items()
        if test["outcome"] in ("failed", "error", "todo") and test_id not in differences
    }
    stale = [k for k in differences if report["tests"].get(k, {}).get("outcome") != "failed"]
    return bad, stale
