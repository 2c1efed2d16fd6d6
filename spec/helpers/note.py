"""The study note the spec is written against (a copy lives in spec/pytorch-notes.md).

Docstrings of chapter tests quote it on a line that starts with ``Note:``; the meta
tests check that every such quote really is in the note, so a docstring cannot claim
the note says something it does not.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

NOTE_PATH = Path(__file__).resolve().parents[1] / "pytorch-notes.md"


def normalize(text: str) -> str:
    """Collapse whitespace so quotes may be re-wrapped in a docstring."""
    return re.sub(r"\s+", " ", text).strip()


@cache
def note_text() -> str:
    return normalize(NOTE_PATH.read_text(encoding="utf-8"))


def quotes_in(docstring: str) -> list[str]:
    """The quote of a docstring's ``Note:`` paragraph: the text from its first to its last
    double quote (so the quote may itself contain quotes), up to the next blank line."""
    match = re.search(r"^\s*Note:(.*?)(?:\n\s*\n|\Z)", docstring, flags=re.S | re.M)
    if not match:
        return []
    para = match.group(1).strip()
    if len(para) < 2 or not (para.startswith('"') and para.endswith('"')):
        return []
    return [normalize(para[1:-1])]


def is_in_note(quote: str) -> bool:
    return normalize(quote) in note_text()


# --------------------------------------------------------------------------- the quote rule
#: A test not tied to a line of the note says so on a line starting with this.
BEYOND = "Beyond the note:"

_LINK = re.compile(r"\[([^\]]*)\]\(([^)]*)\)")
_URL = re.compile(r"https?://\S+")


#: A test that runs the note's own code blocks (read from the note file when it runs) says
#: so on a line starting with this; its chapter must read the note's file for it to count.
EXECUTES = "The note's own code:"


def executes_the_note(docstring: str) -> bool:
    return any(line.strip().startswith(EXECUTES) for line in docstring.splitlines())


def beyond_the_note(docstring: str) -> bool:
    return any(line.strip().startswith(BEYOND) for line in docstring.splitlines())


def is_url_only(quote: str) -> bool:
    """True for a quote that is nothing but a link or an address: it names a page, it
    says nothing a test could check."""
    rest = _URL.sub("", _LINK.sub("", quote))
    return not re.search(r"\w", rest)


def _closers(text: str) -> str:
    stack = []
    pairs = {"(": ")", "[": "]", "{": "}"}
    for ch in text:
        if ch in pairs:
            stack.append(pairs[ch])
        elif ch in pairs.values() and stack and stack[-1] == ch:
            stack.pop()
    return "".join(reversed(stack))


def parse_code(quote: str) -> ast.AST | None:
    """The quote as Python, if it is a line (or a fragment of one) of code.

    A quote cut mid-expression is completed the obvious ways before parsing: closing the
    brackets it opens, dropping a trailing operator or comma, giving a ``for ...:`` a
    body. Prose does not parse; a lone word parses as a name and does not count as code.
    """
    text = quote.strip()
    text = re.sub(r"\s+#.*$", "", text)  # a trailing comment
    attempts = []
    for body in (text, re.sub(r"[\s%+*/,\-]+$", "", text)):
        for tail in ("", _closers(body)):
            candidate = body + tail
            attempts.append(candidate)
            if candidate.endswith(":"):
                attempts.append(candidate + " pass")
    for candidate in attempts:
        try:
            tree = ast.parse(candidate)
        except SyntaxError:
            continue
        interesting = (ast.Call, ast.Attribute, ast.Assign, ast.AugAssign, ast.For, ast.With)
        interesting += (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Subscript)
        if any(isinstance(node, interesting) for node in ast.walk(tree)):
            return tree
        return None
    return None


#: Names a quote may use without the test repeating them: the printing around a value.
INCIDENTAL = frozenset({"print", "self"})


def identifiers(tree: ast.AST) -> set[str]:
    """The names a piece of code uses: variables it reads, attributes, imported modules,
    defined functions and classes — not the names it binds (``z = x.view(-1, 8)``
    checks ``view``, whatever the test calls its result), not keyword-argument names,
    string contents or ``INCIDENTAL`` names."""
    bound = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in bound:
            names.add(node.id)
        elif isinstance(node, ast.Attribute):
            names.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.update(node.name.split("."))
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.update(node.module.split("."))
    return names - INCIDENTAL


def missing_identifiers(quote: str, source: str) -> set[str]:
    """The identifiers of a quoted code line that the checking code never uses (empty for
    prose, and for code whose every name occurs as a word in ``source``)."""
    tree = parse_code(quote)
    if tree is None:
        return set()
    # Case aside: the note's PATH is a test's path.
    found = lambda name: re.search(rf"\b{re.escape(name)}\b", source, flags=re.I)  # noqa: E731
    return {name for name in identifiers(tree) if not found(name)}


# --------------------------------------------------------------------------- the note's code
_FENCE = re.compile(r"^```(\S*)\s*$")


@cache
def python_blocks() -> dict[int, str]:
    """The note's Python code blocks, by the line of their opening fence (1-based)."""
    blocks: dict[int, str] = {}
    lines = NOTE_PATH.read_text(encoding="utf-8").splitlines()
    opened: tuple[int, str] | None = None
    body: list[str] = []
    for number, line in enumerate(lines, 1):
        fence = _FENCE.match(line)
        if fence and opened is None:
            opened, body = (number, fence.group(1)), []
        elif fence and opened is not None:
            if opened[1] == "python":
                blocks[opened[0]] = "\n".join(body) + "\n"
            opened = None
        elif opened is not None:
            body.append(line)
    return blocks


#: The one erratum that stops a block of the note from parsing: line 538 indents
#: ``val_transform`` by one space (an IndentationError as written).
ERRATA = {538: (("\n val_transform", "\nval_transform"),)}


def defined_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement defines: a class, a function, assigned names."""
    if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        return {node.name}
    if isinstance(node, ast.Assign):
        return {
            t.id for target in node.targets for t in ast.walk(target) if isinstance(t, ast.Name)
        }
    return set()


def top_level(tree: ast.Module, name: str) -> ast.stmt:
    """The top-level statement of ``tree`` that defines ``name`` (``LookupError`` if none)."""
    for node in tree.body:
        if name in defined_names(node):
            return node
    raise LookupError(f"nothing at the top level defines {name!r}")


def definition(line: int, name: str) -> str:
    """The source of the top-level ``class``/``def``/assignment ``name`` in the note's block
    at ``line``, verbatim (the note's own code, for the tests that run it) but for the
    block's erratum in ``ERRATA``, if it has one."""
    source = python_blocks()[line]
    for old, new in ERRATA.get(line, ()):
        source = source.replace(old, new)
    try:
        node = top_level(ast.parse(source), name)
    except LookupError:
        raise LookupError(f"the note's block at line {line} defines no {name!r}") from None
    return ast.get_source_segment(source, node) + "\n"


def note_object(line: int, name: str, prelude: str = "") -> object:
    """``name`` as the note's block at ``line`` defines it, executed alone (after
    ``prelude``, the imports the note's block relies on): e.g. the note's own ``Net``."""
    namespace: dict = {}
    exec(compile(prelude + definition(line, name), f"<the note, line {line}>", "exec"), namespace)
    return namespace[name]


def run_block(line: int, namespace: dict) -> str:
    """Run the note's block at ``line`` as it is, in ``namespace`` (which provides what the
    note's earlier blocks made: ``net``, ``testloader``, ``classes``...); return what it
    printed. Its errors propagate, with tracebacks that point at the note's lines."""
    import contextlib
    import io

    printed = io.StringIO()
    code = compile("\n" * line + python_blocks()[line], str(NOTE_PATH), "exec")
    with contextlib.redirect_stdout(printed):
        exec(code, namespace)
    return printed.getvalue()
