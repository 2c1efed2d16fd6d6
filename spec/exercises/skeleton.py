"""The learner's skeleton: ``python -m spec.exercises.skeleton DIR [--from NN]``.

Writes a package with one module per chapter of the note, holding every name the
chapters reach (``spec.exercises.contract``): each function and method with the
reference's signature and docstring — what the note asks, in its words, and the tests
that grade it — and a body that raises ``NotImplementedError``; each value the note
defines (``criterion``, ``transform``, ...) as a ``ToDo`` that raises it when used. The
spec reports every test that reaches one as *to do*, not failed.

Generated from ``reference/`` (never its bodies), so the two cannot drift:
spec/meta/test_exercises.py checks that every name has the reference's signature.
``--from NN`` copies the reference's modules of the chapters before NN, so that a
learner can start at chapter NN and the chapters after it still run.

In the reference's docstrings, a paragraph that starts "Reference only:" describes what
the reference adds (its input checks, its safe saving): it is left out of the skeleton's.
A method whose docstring starts "Beyond the note:" is one of the reference's extras: the
skeleton's class does not have it. A module-level value keeps the ``#:`` comment above it.
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from spec.exercises.contract import chapter_of_module, contract
from spec.helpers.implementation import CHAPTER_MODULES, REFERENCE
from spec.helpers.note import BEYOND

#: Reference modules an implementation may import as they are: the project's offline
#: data, not code the note asks a learner to write.
SUPPORT = frozenset({"cifar10_data"})
#: A copy of a reference module keeps its imports of the reference's other modules.
EVERY_REFERENCE_MODULE = frozenset(p.stem for p in REFERENCE.glob("*.py"))

TODO_MODULE = '''\
"""A value the note asks for that is not written yet.

Any use of a ``ToDo`` — calling it, reading from it, comparing it — raises
``NotImplementedError``, which the spec reports as "to do". Replace it with the real
thing (``criterion = ToDo(...)`` becomes ``criterion = nn.MSELoss()``).
"""


class ToDo:
    def __init__(self, what: str):
        self._what = what

    def _todo(self, *args, **kwargs):
        raise NotImplementedError(f"write {self._what}")

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        self._todo()

    def __repr__(self) -> str:
        return f"ToDo({self._what!r})"

    __hash__ = object.__hash__
    __call__ = __getitem__ = __iter__ = __len__ = __bool__ = _todo
    __float__ = __int__ = __index__ = __neg__ = _todo
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _todo
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _todo
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __pow__ = __rpow__ = _todo
'''

INIT_MODULE = '''\
"""My implementation of the note's code, one module per chapter.

Graded by the spec: ``make spec IMPL={folder}`` (every chapter), ``make next
IMPL={folder}`` (the first chapter not yet passing), ``make hint IMPL={folder}``,
``make watch IMPL={folder}`` (reruns on every save). A test that reaches code not written
yet is "to do", not failed. Written by ``make exercises`` from the reference's
signatures and docstrings (spec/EXERCISES.md).
"""
'''


#: A paragraph of a reference docstring that the skeleton leaves out.
REFERENCE_ONLY = "Reference only:"


def _docstring(node: ast.AST) -> str:
    return ast.get_docstring(node, clean=True) or ""


def contract_doc(node: ast.AST) -> str:
    """The docstring a learner sees: the reference's, without its "Reference only:"
    paragraphs."""
    paragraphs = re.split(r"\n\s*\n", _docstring(node))
    kept = [p for p in paragraphs if not p.lstrip().startswith(REFERENCE_ONLY)]
    return "\n\n".join(kept).strip()


def is_extra(node: ast.AST) -> bool:
    return _docstring(node).startswith(BEYOND)


def _graded_by(ids: tuple[str, ...]) -> str:
    if not ids:
        return ""
    lines = "\n".join(f"- {i}" for i in ids)
    return f"\n\nGraded by:\n{lines}"


def _stub(node: ast.FunctionDef, what: str, graded: str) -> ast.FunctionDef:
    stub = ast.FunctionDef(
        name=node.name,
        args=node.args,
        body=[],
        decorator_list=node.decorator_list,
        returns=node.returns,
        type_comment=None,
        type_params=[],
    )
    doc = contract_doc(node) + graded
    if doc:
        stub.body.append(ast.Expr(ast.Constant(doc)))
    stub.body.append(ast.parse(f"raise NotImplementedError({f'write {what}'!r})").body[0])
    return ast.fix_missing_locations(stub)


def _class_stub(node: ast.ClassDef, module: str, graded: str) -> ast.ClassDef:
    body: list[ast.stmt] = []
    doc = contract_doc(node) + graded
    if doc:
        body.append(ast.Expr(ast.Constant(doc)))
    for item in node.body:
        if not isinstance(item, ast.FunctionDef) or is_extra(item):
            continue
        public = not item.name.startswith("_") or (
            item.name.startswith("__") and item.name.endswith("__")
        )
        if public:
            body.append(_stub(item, f"{module}.{node.name}.{item.name}", ""))
    if len(body) == (1 if doc else 0):
        body.append(ast.Pass())
    stub = ast.ClassDef(
        name=node.name,
        bases=node.bases,
        keywords=node.keywords,
        body=body,
        decorator_list=node.decorator_list,
        type_params=[],
    )
    return ast.fix_missing_locations(stub)


def _records(tree: ast.Module, names: set[str]) -> set[str]:
    """The dataclasses the return annotations of ``names`` name (``-> MemoryReport``): the
    shape of what the contract demands back, which the skeleton defines."""
    dataclasses = {
        n.name
        for n in tree.body
        if isinstance(n, ast.ClassDef)
        and any("dataclass" in ast.unparse(d) for d in n.decorator_list)
    }
    named = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in names and node.returns:
            named |= {n.id for n in ast.walk(node.returns) if isinstance(n, ast.Name)}
            if isinstance(node.returns, ast.Constant) and isinstance(node.returns.value, str):
                named |= set(re.findall(r"\w+", node.returns.value))
    return named & dataclasses


def _record_stub(node: ast.ClassDef, lines: list[str]) -> ast.ClassDef:
    """A record of the contract as data: its decorator and fields, each field's comment
    in the docstring; none of the reference's methods."""
    fields = [f for f in node.body if isinstance(f, ast.AnnAssign)]
    described = []
    for f in fields:
        comment = lines[f.lineno - 1].partition("#")[2].strip()
        described.append(f"- ``{ast.unparse(f.target)}`` ({ast.unparse(f.annotation)})"
                         + (f": {comment}" if comment else ""))  # fmt: skip
    doc = (contract_doc(node) + "\n\nFields:\n" + "\n".join(described)).strip()
    stub = ast.ClassDef(
        name=node.name, bases=node.bases, keywords=node.keywords,
        body=[ast.Expr(ast.Constant(doc)), *fields], decorator_list=node.decorator_list,
        type_params=[],
    )  # fmt: skip
    return ast.fix_missing_locations(stub)


def _imported_names(node: ast.stmt) -> list[str]:
    return [a.asname or a.name.split(".")[0] for a in node.names]


def _rewrite_import(
    node: ast.stmt, in_package: set[str], keep: frozenset[str] = SUPPORT
) -> ast.stmt | list[ast.stmt] | None:
    """A reference module's import, as the implementation's: ``from reference import x``
    becomes ``from . import x`` for the modules the package has, stays absolute for the
    modules in ``keep`` (the project's support modules; for a copy of the reference's
    code, every other reference module), and is dropped for the rest."""
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("reference"):
        if node.module == "reference":
            keep_local = [a for a in node.names if a.name in in_package]
            keep_support = [a for a in node.names if a.name in keep and a.name not in in_package]
            out = []
            if keep_local:
                out.append(ast.ImportFrom(module=None, names=keep_local, level=1))
            if keep_support:
                out.append(ast.ImportFrom(module="reference", names=keep_support, level=0))
            return out or None
        name = node.module.split(".", 1)[1]
        if name in in_package:
            return ast.ImportFrom(module=name, names=node.names, level=1)
        if name in keep:
            return node
        return None
    return node


def reference_tree(module: str) -> ast.Module:
    return ast.parse((REFERENCE / f"{module}.py").read_text(encoding="utf-8"))


def _values_in_defaults(tree: ast.Module, names: set[str]) -> set[str]:
    """Module-level values the signatures of ``names`` use as defaults
    (``def make_optimizer(net, learning_rate=learning_rate)``): the skeleton needs them."""
    values = {
        t.id
        for n in tree.body
        if isinstance(n, ast.Assign)
        for target in n.targets
        for t in ast.walk(target)
        if isinstance(t, ast.Name)
    }
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and (
            node.name in names
            or any(
                isinstance(c, ast.ClassDef) and c.name in names and node in c.body
                for c in tree.body
            )
        ):
            for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
                used |= {n.id for n in ast.walk(default) if isinstance(n, ast.Name)}
    return used & values


def _doc_comments(lines: list[str], node: ast.stmt) -> str:
    """The ``#:`` comment lines right above ``node`` in the reference's source."""
    found = []
    at = node.lineno - 2
    while at >= 0 and re.match(r"[A-Za-z_][\w, ]* = ", lines[at]):  # one of a group of values
        at -= 1
    while at >= 0 and lines[at].lstrip().startswith("#:"):
        found.insert(0, lines[at].strip())
        at -= 1
    return "\n".join(found)


def skeleton_source(module: str, names: dict[str, tuple[str, ...]], in_package: set[str]) -> str:
    """The skeleton of one module: its docstring, its imports, the contract's names."""
    tree = reference_tree(module)
    lines = (REFERENCE / f"{module}.py").read_text(encoding="utf-8").splitlines()
    comments: dict[int, str] = {}  # id(statement) -> the #: comment to print above it
    body: list[ast.stmt] = []
    wanted = set(names) | _values_in_defaults(tree, set(names))
    records = _records(tree, set(names))
    placed: set[str] = set()
    uses_todo = False
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and not body:
            body.append(node)  # the module docstring
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            rewritten = _rewrite_import(node, in_package)
            for n in rewritten if isinstance(rewritten, list) else [rewritten]:
                if n is None:
                    continue
                # a contract name the reference imports (cifar10.CLASSES) comes along
                placed |= set(_imported_names(n)) & wanted
                body.append(n)
        elif isinstance(node, ast.FunctionDef) and node.name in wanted:
            body.append(_stub(node, f"{module}.{node.name}", _graded_by(names[node.name])))
            placed.add(node.name)
        elif isinstance(node, ast.ClassDef) and node.name in records:
            body.append(_record_stub(node, lines))
        elif isinstance(node, ast.ClassDef) and node.name in wanted:
            body.append(_class_stub(node, module, _graded_by(names[node.name])))
            placed.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            bound = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            first = True
            for name in bound:
                if name in wanted and name not in placed:
                    what = f"{module}.{name}"
                    stub = ast.parse(f"{name} = ToDo({what!r})").body[0]
                    if first:
                        comments[id(stub)] = _doc_comments(lines, node)
                        first = False
                    body.append(stub)
                    placed.add(name)
                    uses_todo = True
    missing = wanted - placed
    if missing:
        raise LookupError(
            f"reference/{module}.py defines no {sorted(missing)}, which the chapters reach"
        )
    if uses_todo:  # after the last import
        at = max(i for i, n in enumerate(body) if isinstance(n, (ast.Import, ast.ImportFrom)))
        body.insert(at + 1, ast.ImportFrom(module="_todo", names=[ast.alias("ToDo")], level=1))
    out = []
    for index, node in enumerate(body):
        if index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            out.append(f'"""{node.value.value}"""\n')  # the module docstring, as written
            continue
        if comments.get(id(node)):
            out.append(comments[id(node)])
        out.append(ast.unparse(ast.fix_missing_locations(node)))
    return "\n".join(out) + "\n"


def reference_copy(module: str, in_package: set[str]) -> str:
    """A reference module, whole, with its imports as the package needs them."""
    tree = reference_tree(module)
    text = (REFERENCE / f"{module}.py").read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    for node in sorted(
        (n for n in tree.body if isinstance(n, ast.ImportFrom)),
        key=lambda n: n.lineno,
        reverse=True,
    ):
        rewritten = _rewrite_import(node, in_package, keep=EVERY_REFERENCE_MODULE)
        if rewritten is node:
            continue
        nodes = rewritten if isinstance(rewritten, list) else [rewritten]
        new = "".join(ast.unparse(n) + "\n" for n in nodes if n is not None)
        lines[node.lineno - 1 : node.end_lineno] = [new]
    return "".join(lines)


def write(folder: Path, start: str | None = None) -> list[Path]:
    """Write the skeleton into ``folder`` (which must not hold one already); the modules
    of chapters before ``start`` are the reference's. Returns the files written."""
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty: choose a new folder (nothing written)")
    if start is not None and start not in CHAPTER_MODULES and start != "17":
        raise ValueError(f"--from {start}: expected a chapter 01 to 17")
    wanted = contract()
    modules = [m for m in CHAPTER_MODULES.values() if m in wanted]
    in_package = set(modules)
    sources = {"__init__.py": INIT_MODULE.format(folder=folder), "_todo.py": TODO_MODULE}
    for module in modules:
        chapter = chapter_of_module(module)
        if start is not None and chapter is not None and chapter < start:
            sources[f"{module}.py"] = reference_copy(module, in_package)
        else:
            sources[f"{module}.py"] = skeleton_source(module, wanted[module], in_package)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.writing")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for name, source in sources.items():
            (tmp / name).write_text(source, encoding="utf-8")
        _format(tmp)
        for path in sorted(tmp.iterdir()):
            path.replace(folder / path.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [folder / name for name in sources]


def _format(folder: Path) -> None:
    """ruff format, where ruff is installed (the skeleton reads better wrapped)."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        return
    subprocess.run(
        [ruff, "format", "--quiet", "--line-length", "100", "--no-cache", str(folder)],
        check=False, capture_output=True,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spec.exercises.skeleton",
        description="Write the exercise skeleton: the note's names, their docstrings, "
        "bodies that raise NotImplementedError.",
    )
    parser.add_argument("folder", help="a new (or empty) folder for the package")
    parser.add_argument(
        "--from", dest="start", metavar="NN",
        help="start at chapter NN: the chapters before it get the reference's code",
    )  # fmt: skip
    args = parser.parse_args(argv)
    start = args.start
    if start is not None and start.isdigit():
        start = f"{int(start):02d}"
    try:
        written = write(Path(args.folder), start)
    except (FileExistsError, ValueError, LookupError) as error:
        parser.error(str(error))
    names = sum(len(v) for v in contract().values())
    print(f"wrote {len(written)} files to {args.folder}: {names} names to write")
    print(f"next: make next IMPL={args.folder}   (or make spec IMPL={args.folder})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
