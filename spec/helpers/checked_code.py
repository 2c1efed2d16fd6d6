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
            for target in node.targets:
                if isinstance(target, ast.Name):
                    defs[target.id] = node
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reference"):
            for alias in node.names:
                local = alias.asname or alias.name
                if node.module == "reference":  # from reference import cifar10
                    imports[local] = (f"reference.{alias.name}", "")
                else:  # from reference.cifar10 import Net
                    imports[local] = (node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("reference."):
                    imports[alias.asname or alias.name] = (alias.name, "")
    return tree, defs, imports


def _path_of(module: str) -> Path | None:
    path = ROOT / (module.replace(".", "/") + ".py")
    return path if path.is_file() else None


def _used_names(node: ast.AST) -> list[tuple[str, str | None]]:
    """(name, attribute) pairs a node uses: ``cifar10.train`` -> ("cifar10", "train"); a
    name used on its own -> (name, None)."""
    out = []
    qualifiers = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name):
            out.append((sub.value.id, sub.attr))
            qualifiers.add(id(sub.value))
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and id(sub) not in qualifiers:
            out.append((sub.id, None))
        elif isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out += [(a.arg, None) for a in sub.args.args]  # fixtures by parameter name
    return out


def _code_of(node: ast.AST) -> str:
    """The node as code, without docstrings or comments (a docstring that quotes the note
    must not count as code that uses the quote's names)."""
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


def code_checked_by(path: Path, name: str) -> str:
    """The text of test ``name`` in ``path`` and of everything it uses, as described above."""
    seen: set[tuple[Path, str]] = set()
    files: set[Path] = set()
    parts: list[str] = []

    def visit(file: Path, def_name: str, depth: int) -> None:
        if (file, def_name) in seen or depth > DEPTH:
            return
        seen.add((file, def_name))
        tree, defs, imports = _module(file)
        # A reference module's imports: the reference code's ``transforms.Resize`` is the
        # note's ``torchvision.transforms.Resize``. Not a chapter's own imports: a name
        # imported there is not a name the test uses.
        if file.parent.name == "reference" and file not in files:
            files.add(file)
            parts.extend(
                ast.unparse(n) for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
            )
        node = defs.get(def_name)
        if node is None:
            return
        parts.append(_code_of(node))
        in_reference = file.parent.name == "reference"
        for used, attr in _used_names(node):
            if used in defs and used != def_name:
                visit(file, used, depth + 1)
            elif used in imports and not in_reference:
                module, imported = imports[used]
                target = _path_of(module)
                if target is None:
                    continue
                if imported:  # a function or class imported by name
                    visit(target, imported, depth + 1)
                elif attr:  # module.attr
                    visit(target, attr, depth + 1)
                else:  # the module itself, used as a value
                    parts.append(_code_of(_module(target)[0]))

    visit(path, name, 0)
    return "\n".join(parts)
