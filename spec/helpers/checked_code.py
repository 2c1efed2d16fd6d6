"""The code a chapter test runs, as text: its own body, the fixtures and module helpers it
uses, the ``reference`` functions and classes they call and those functions' helpers in
the same module — not what they import in turn (a test of the demo's flags does not run
the training loop the demo calls) — plus each visited reference module's imports. A reference module
used as a value (``getattr(t, name)``) counts whole.

The quote rule (spec/meta/test_docstrings.py) looks up a quoted code line's identifiers
here: a test that quotes ``for epoch in range(10)`` has to run code that loops over
epochs. Read with ``ast`` only — nothing is imported or run.
"""

from __future__ import annotations

import ast
import copy
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: How many calls deep to follow within the chapter (test -> fixture -> helper ...).
DEPTH = 4


@cache
def _module(path: Path) -> tuple[ast.Module, dict[str, ast.AST], dict[str, tuple[str, str]]]:
    """(tree, top-level defs by name, imported names -> (reference module, name))."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    defs: dict[str, ast.AST] = {}
    imports: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            defs[node.name] = node
        elif isinstance(node, ast.Assign):
            seam = _impl_target(node.value)
            for target in node.targets:
                if not isinstance(target, ast.Name):
                    continue
                if seam is not None:  # cifar10 = impl.cifar10, or Net = impl.cifar10.Net
                    imports[target.id] = seam
                else:
                    defs[target.id] = node
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reference"):
            for alias in node.names:
                local = alias.asname or alias.name
                if node.module == "reference":  # from reference import cifar10
                    imports[local] = (f"reference.{alias.name}", "")
                else:  # from reference.cifar10 import Net
                    imports[local] = (node.module, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module == SEAM_MODULE:
            for alias in node.names:  # from spec.helpers.implementation import Net
                if alias.name != SEAM:
                    imports[alias.asname or alias.name] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("reference."):
                    imports[alias.asname or alias.name] = (alias.name, "")
    return tree, defs, imports


#: The seam's name (spec.helpers.implementation.impl): chapters read the implementation
#: under test through it; for the code a test runs, it stands for ``reference``.
SEAM = "impl"
#: The seam's module: its ``Net()`` and ``criterion`` reach the implementation too.
SEAM_MODULE = "spec.helpers.implementation"


def _impl_target(value: ast.AST) -> tuple[str, str] | None:
    """``impl.cifar10`` -> ("reference.cifar10", ""); ``impl.cifar10.Net`` ->
    ("reference.cifar10", "Net"); anything else -> None."""
    if not isinstance(value, ast.Attribute):
        return None
    if isinstance(value.value, ast.Name) and value.value.id == SEAM:
        return f"reference.{value.attr}", ""
    inner = value.value
    if (
        isinstance(inner, ast.Attribute)
        and isinstance(inner.value, ast.Name)
        and inner.value.id == SEAM
    ):
        return f"reference.{inner.attr}", value.attr
    return None


def _path_of(module: str) -> Path | None:
    path = ROOT / (module.replace(".", "/") + ".py")
    return path if path.is_file() else None


def _used_names(node: ast.AST) -> list[tuple[str, str | None]]:
    """(name, attribute) pairs a node uses: ``cifar10.train`` -> ("cifar10", "train"); a
    name used on its own -> (name, None)."""
    out = []
    qualifiers = set()
    for sub in ast.walk(node):
        seam = _impl_target(sub)
        if seam is not None and seam[1]:  # impl.cifar10.train, used in place
            out.append((SEAM, f"{seam[0]}:{seam[1]}"))
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
            out.append((sub.value.id, sub.attr))
            qualifiers.add(id(sub.value))
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and id(sub) not in qualifiers:
            out.append((sub.id, None))
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out += [(a.arg, None) for a in sub.args.args]  # fixtures by parameter name
    return out


#: _code_of's texts by node (the node kept beside its text, so that its id stays its own).
_CODE: dict[int, tuple[ast.AST, str]] = {}


def _code_of(node: ast.AST) -> str:
    """The node as code, without docstrings or comments (a docstring that quotes the note
    must not count as code that uses the quote's names). Once per node: the modules' trees
    are read once (``_module``), and their fixtures and helpers are reached by many tests."""
    cached = _CODE.get(id(node))
    if cached is None or cached[0] is not node:
        cached = _CODE[id(node)] = (node, _unparsed_without_docstrings(node))
    return cached[1]


def _unparsed_without_docstrings(node: ast.AST) -> str:
    node = copy.deepcopy(node)
    for sub in ast.walk(node):
        body = getattr(sub, "body", None)
        if (
            isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            sub.body = body[1:] or [ast.Pass()]
    return ast.unparse(node)


#: spec.helpers.note's functions that run (or read) the note's block at a given line.
NOTE_RUNNERS = frozenset({"note_object", "run_block", "definition"})


def _note_blocks_run_by(node: ast.AST) -> list[str]:
    """The note's own code a test runs: ``note.run_block(353, ...)`` runs the block at
    line 353, so that block's text is code the test runs."""
    from spec.helpers import note

    found = []
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Attribute)
            and sub.func.attr in NOTE_RUNNERS
            and isinstance(sub.func.value, ast.Name)
            and sub.func.value.id == "note"
            and sub.args
            and isinstance(sub.args[0], ast.Constant)
            and isinstance(sub.args[0].value, int)
        ):
            found.append(note.python_blocks().get(sub.args[0].value, ""))
    return found


def code_checked_by(path: Path, name: str) -> str:
    """The text of test ``name`` in ``path`` and of everything it uses, as described above."""
    return _walk(path, name, text=True)[0]


def implementation_names(path: Path, name: str) -> set[tuple[str, str]]:
    """The (module, name) pairs of the implementation under test that test ``name`` of
    chapter ``path`` reaches through ``impl`` — in its body, its fixtures, its helpers —
    e.g. {("cifar10", "train"), ("cifar10", "Net")}. A module used as a whole (passed
    around, or read with ``getattr``) gives (module, "*")."""
    return _walk(path, name, text=False)[1]


def _walk(path: Path, name: str, *, text: bool) -> tuple[str, set[tuple[str, str]]]:
    """(the code text, when ``text``: unparsing is most of the walk's time; the
    implementation's names reached)."""
    seen: set[tuple[Path, str]] = set()
    files: set[Path] = set()
    parts: list[str] = []
    reached: set[tuple[str, str]] = set()

    def visit(file: Path, def_name: str, depth: int) -> None:
        if (file, def_name) in seen or depth > DEPTH:
            return
        seen.add((file, def_name))
        tree, defs, imports = _module(file)
        # A reference module's imports: the reference code's ``transforms.Resize`` is the
        # note's ``torchvision.transforms.Resize``. Not a chapter's own imports: a name
        # imported there is not a name the test uses.
        if text and file.parent.name == "reference" and file not in files:
            files.add(file)
            parts.extend(
                ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
            )
        node = defs.get(def_name)
        if node is None:
            return
        if text:
            parts.append(_code_of(node))
            parts.extend(_note_blocks_run_by(node))
        in_reference = file.parent.name == "reference"
        for used, attr in _used_names(node):
            if used == SEAM and attr and ":" in attr and not in_reference:
                module, imported = attr.split(":")
                reach(module, imported, depth)
            elif used in defs and used != def_name:
                visit(file, used, depth + 1)
            elif used in imports and not in_reference:
                module, imported = imports[used]
                if imported:  # a function or class imported by name
                    reach(module, imported, depth)
                elif attr:  # module.attr
                    reach(module, attr, depth)
                else:  # the module itself, used as a value
                    reach(module, "*", depth)

    def reach(module: str, imported: str, depth: int) -> None:
        target = _path_of(module)
        if module.startswith("reference."):
            reached.add((module.removeprefix("reference."), imported))
        if target is None:
            return
        if imported == "*":
            if text:
                parts.append(_code_of(_module(target)[0]))
        else:
            visit(target, imported, depth + 1)

    visit(path, name, 0)
    return "\n".join(parts), reached
