"""The second implementation: code written the official tutorials' way passes the spec.

``spec/exercises/tutorial_style`` is the note written as its sources write it (the
blitz, Learning PyTorch with Examples, the TensorBoard tutorial, Lightning's MNIST hello
world): script-like, no input checks, drawing helpers that return nothing, the
tutorial's tags, ``transforms.v2``, torchmetrics objects. Every implementation test of
the note's chapters and the goldens must pass on it; a test may fail only if it is
declared below with the note's line it stands on — the note and the tutorial then
disagree, and the spec sides with the note.
"""

import shutil
import textwrap

import pytest

from spec.exercises.nested import ROOT, outcomes, run_spec
from spec.helpers import implementation, teach

TUTORIAL_STYLE = ROOT / "spec" / "exercises" / "tutorial_style"

#: {test id: (the note's line, why the tutorial's way fails it)}. Empty: nothing of the
#: tutorials' way that this implementation follows contradicts the note.
DIFFERENCES: dict[str, tuple[int, str]] = {}

#: The official TensorBoard tutorial's two errata, as its own lines have them: the
#: corrected line of tutorial_style/tensorboard_tutorial.py and the tutorial's.
ERRATA = {
    "test_the_image_grid_shows_the_batch_s_four_images": (
        'writer.add_image("four_cifar10_images", img_grid / 2 + 0.5)',
        'writer.add_image("four_cifar10_images", img_grid)',
        teach.GRID_STILL_NORMALISED,
    ),
    "test_the_projector_shows_each_image_with_its_class": (
        "label_img=images / 255)",
        "label_img=images)",
        teach.SPRITE_FROM_UINT8,
    ),
}


def reference_run_only():
    if not implementation.current().is_reference:
        pytest.skip("a proof of the spec itself: it runs in the reference's run")


@pytest.mark.slow
def test_the_tutorials_way_passes_every_chapter_but_the_declared_differences(
    tmp_path, record_property
):
    """The note's chapters and the goldens on tutorial_style: no failure, error or to-do
    but the declared differences, and each declared difference does fail."""
    reference_run_only()
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


@pytest.mark.slow
def test_the_tensorboard_tutorial_s_errata_are_named_where_code_repeats_them(tmp_path):
    """tutorial_style with the tutorial's own two lines back: chapter 12 fails exactly the
    two tests they break, each naming the erratum; nothing else of the run changes."""
    reference_run_only()
    folder = tmp_path / "with_errata"
    shutil.copytree(TUTORIAL_STYLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    module = folder / "tensorboard_tutorial.py"
    source = module.read_text(encoding="utf-8")
    for fixed, erratum, _hint in ERRATA.values():
        assert fixed in source, f"{fixed!r} is no longer in tutorial_style"
        source = source.replace(fixed, erratum)
    module.write_text(source, encoding="utf-8")
    report = run_spec(folder, ["spec/note/12_tensorboard.py"], tmp_path / "errata.json",
                      "-m", "not fact")  # fmt: skip
    failed = {
        test_id.rsplit("::", 1)[1]: test.get("message") or test["reason"]
        for test_id, test in report["tests"].items()
        if test["outcome"] != "passed" and test["kind"] == "implementation"
    }
    assert set(failed) == set(ERRATA), failed
    for name, (_fixed, _erratum, hint) in ERRATA.items():
        assert "did you " + hint.split("?")[0] in failed[name], failed[name]
        assert "the tutorial the note links expects" in failed[name], failed[name]


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
