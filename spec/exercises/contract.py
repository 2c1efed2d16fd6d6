"""The contract: what the note's chapters require of an implementation, read from the
chapters themselves.

A chapter test reaches the implementation through ``impl`` (``cifar10 = impl.cifar10``,
then ``cifar10.train(...)``); ``spec.helpers.checked_code`` follows a test into its
fixtures and helpers and lists the (module, name) pairs it reaches. The contract is
every name an *implementation* test of a note chapter reaches — not facts (they reach
nothing) and not the reference's extras (``@pytest.mark.extra``) — with the tests that
grade it. Read with ``ast`` only: nothing is imported or run.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from spec.helpers.checked_code import implementation_names

SPEC = Path(__file__).resolve().parents[1]
NOTE_CHAPTERS = SPEC / "note"


@dataclass(frozen=True)
class ChapterTest:
    path: Path
    name: str
    kind: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(SPEC.parent).as_posix()}::{self.name}"


def _marks(node: ast.AST) -> set[str]:
    """The names of ``pytest.mark.X`` in a decorator list or a ``pytestmark`` value."""
    found = set()
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Attribute)
            and sub.value.attr == "mark"
        ):
            found.add(sub.attr)
    return found


def kind_of(decorated: set[str]) -> str:
    if "fact" in decorated:
        return "fact"
    if "extra" in decorated:
        return "extra"
    return "implementation"


def tests_of(path: Path) -> Iterator[ChapterTest]:
    """Every test function of a chapter, with its kind from its marks (and the module's
    ``pytestmark``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module_marks: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        ):
            module_marks |= _marks(node.value)
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
            marks = module_marks | set().union(*(_marks(d) for d in node.decorator_list))
            yield ChapterTest(path, node.name, kind_of(marks))


def note_chapters() -> list[Path]:
    return sorted(NOTE_CHAPTERS.glob("[0-9][0-9]_*.py"))


@cache
def contract() -> dict[str, dict[str, tuple[str, ...]]]:
    """{module: {name: (the ids of the tests that grade it, in chapter order)}}."""
    graded: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in note_chapters():
        for test in tests_of(path):
            if test.kind != "implementation":
                continue
            for module, name in sorted(implementation_names(path, test.name)):
                graded[module][name].append(test.id)
    return {m: {n: tuple(ids) for n, ids in names.items()} for m, names in graded.items()}


def chapter_of_module(module: str) -> str | None:
    """'cifar10' -> '10': the chapter a module of the implementation belongs to."""
    from spec.helpers.implementation import CHAPTER_MODULES

    return next((n for n, m in CHAPTER_MODULES.items() if m == module), None)
