"""The drift table (spec/helpers/drift.py) is the one place the spec names a release.

A chapter that asks "is this release before or after the change?" asks the table —
``changed(row id)``, ``GATES[name].met()``, ``stage(row id)`` — so that a release learnt
once (bisected, checked by the atlas) is written once, and ``make explain``, the upgrade
report, the atlas and the chapters cannot disagree about it.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Where a release may be written: the table itself; the atlas's install map (which
#: torchvision was released with which torch: an installation fact, not a behaviour); the
#: project's own tests, whose fixtures are reports of made-up releases.
ALLOWED = {
    "spec/helpers/drift.py",
    "spec/tools/companions.py",
}
ALLOWED_FOLDERS = ("spec/meta/",)

#: The calls that compare a release with a literal.
COMPARING = {"since", "Version", "parse"}


def release_comparisons(source: str) -> list[tuple[int, str]]:
    """Each ``since(library, "2.0")``, ``Version("2.3")`` or ``>= (2, 0)``-style comparison
    with a literal release in ``source``: (line, the call as written)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            literals = [a for a in node.args if isinstance(a, ast.Constant)]
            if name in COMPARING and any(
                isinstance(a.value, str) and a.value[:1].isdigit() for a in literals
            ):
                found.append((node.lineno, ast.unparse(node)))
        if isinstance(node, ast.Compare) and any(
            isinstance(c, ast.Tuple) and all(isinstance(e, ast.Constant) for e in c.elts)
            for c in node.comparators
        ):
            left = ast.unparse(node.left)
            if "version" in left.lower() and "sys.version_info" not in left:
                found.append((node.lineno, ast.unparse(node)))
    return found


def spec_files() -> list[str]:
    return sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / "spec").rglob("*.py")
        if str(p.relative_to(ROOT)) not in ALLOWED
        and not str(p.relative_to(ROOT)).startswith(ALLOWED_FOLDERS)
    )


def test_the_finder_finds_what_it_looks_for():
    """The check can fail: each way of writing a release gate is found."""
    source = (
        'if releases.since("torch", "2.0"):\n    pass\n'
        'old = Version(torch.__version__) < Version("1.13")\n'
        "new = TORCH_VERSION >= (2, 1)\n"
        'fine = changed("zero_grad() sets gradients to None")\n'
    )
    assert sorted(line for line, _ in release_comparisons(source)) == [1, 3, 4]


@pytest.mark.parametrize("path", spec_files())
def test_no_release_is_written_outside_the_drift_table(path):
    """A release written in a chapter or a tool is a second source of release knowledge."""
    found = release_comparisons((ROOT / path).read_text(encoding="utf-8"))
    assert not found, (
        f"{path} compares with a release written in place: "
        + "; ".join(f"line {line}: {code}" for line, code in found)
        + " — add a row or a gate to spec/helpers/drift.py and ask it"
    )
