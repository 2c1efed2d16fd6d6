"""The second implementation: code written the official tutorials' way passes the spec.

``spec/exercises/tutorial_style`` is the note written as its sources write it (the
blitz, Learning PyTorch with Examples, the TensorBoard tutorial, Lightning's MNIST hello
world): script-like, no input checks, drawing helpers that return nothing, the
tutorial's tags, ``transforms.v2``, torchmetrics objects. Every implementation test of
the note's chapters and the goldens must pass on it; a test may fail only if it is
declared below with the note's line it stands on — the note and the tutorial then
disagree, and the spec sides with the note.
"""

import textwrap

import pytest

from spec.exercises.nested import (
    TUTORIAL_STYLE,
    only_in_the_reference_s_run,
    outcomes,
    run_spec,
)

#: {test id: (the note's line, why the tutorial's way fails it)}. Empty: nothing of the
#: tutorials' way that this implementation follows contradicts the note.
DIFFERENCES: dict[str, tuple[int, str]] = {}


@pytest.mark.slow
def test_the_tutorials_way_passes_every_chapter_but_the_declared_differences(
    tmp_path, record_property
):
    """The note's chapters and the goldens on tutorial_style: no failure, error or to-do
    but the declared differences, and each declared difference does fail."""
    only_in_the_reference_s_run()
    report = run_spec(
        TUTORIAL_STYLE, ["spec/note", "spec/guarantees/06_goldens.py"],
        tmp_path / "tutorial.json", "-m", "not fact",
    )  # fmt: skip
    counted = outcomes(report)
    record_property("tutorial style", ", ".join(f"{n} {k}" for k, n in counted.items()))
    bad = {
        test_id: test.get("message") or test["reason"]
        for test_id, test in report["tests"].items()
        if test["outcome"] in ("failed", "error", "todo") and test_id not in DIFFERENCES
    }
    assert not bad, "\n".join(f"{k}:\n{textwrap.indent(v, '  ')}" for k, v in bad.items())
    stale = [k for k in DIFFERENCES if report["tests"].get(k, {}).get("outcome") != "failed"]
    assert not stale, f"declared differences that no longer fail: {stale}"
    assert counted.get("passed", 0) > 140, counted


def test_the_second_implementation_imports_no_reference_code():
    """tutorial_style is written apart from reference/: it imports only the project's
    offline data (``reference.cifar10_data``, the skeleton's one support module)."""
    imported = set()
    for path in TUTORIAL_STYLE.glob("*.py"):
        for line in path.read_text(encoding="utf-8").splitlines():
            words = line.split()
            if words[:1] == ["from"] and words[1].startswith("reference"):
                imported.add(f"{words[1]}.{words[3]}")
            elif words[:1] == ["import"] and words[1].startswith("reference"):
                imported.add(words[1])
    assert imported == {"reference.cifar10_data"}, imported
