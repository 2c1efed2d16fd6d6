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
    judge,
    only_in_the_reference_s_run,
    outcomes,
    run_spec,
)
from spec.helpers import releases

#: {test id: (the note's line, why the tutorial's way fails it)}. Empty: nothing of the
#: tutorials' way that this implementation follows contradicts the note.
DIFFERENCES: dict[str, tuple[int, str]] = {}


@pytest.mark.slow
@releases.needs("transforms v2")  # tutorial_style's transforms are today's tutorials' v2
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
    bad, stale = judge(report, DIFFERENCES)
    assert not bad, "\n".join(f"{k}:\n{textwrap.indent(v, '  ')}" for k, v in bad.items())
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


def test_only_a_declared_difference_may_fail_and_it_must():
    """The judge of the second implementation's run: an undeclared failure, error or
    to-do is reported with its message; a declared difference that passes is stale."""
    report = {"tests": {
        "a": {"outcome": "passed", "reason": ""},
        "b": {"outcome": "failed", "reason": "b", "message": "b: the note expects 3x3"},
        "c": {"outcome": "todo", "reason": "write x"},
        "d": {"outcome": "failed", "reason": "d"},
        "e": {"outcome": "passed", "reason": ""},
    }}  # fmt: skip
    bad, stale = judge(report, {"d": (95, "5x5 kernels"), "e": (95, "passes now")})
    assert bad == {"b": "b: the note expects 3x3", "c": "write x"}
    assert stale == ["e"]
    assert judge(report, {"b": (1, ""), "d": (1, "")}) == ({"c": "write x"}, [])
