"""Quotes — every chapter test quotes the note truly, runs it, or says it goes beyond it."""

import ast
import functools
import hashlib
import inspect
from pathlib import Path

import pytest

from spec.helpers import note, notebook
from spec.helpers.checked_code import code_checked_by

SPEC = Path(__file__).resolve().parents[1]
#: The two kinds of chapter: the note's, in its order, and the project's own guarantees.
KINDS = ("note", "guarantees")
CHAPTERS = {kind: sorted((SPEC / kind).glob("[0-9][0-9]_*.py")) for kind in KINDS}


def chapter_tests():
    for kind in KINDS:
        for path in CHAPTERS[kind]:
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    yield pytest.param(path, node, id=f"{kind}/{path.stem}::{node.name}")


#: sha256 of ../shared/seed/pytorch-notes.md, the note as given (recorded once).
NOTE_SHA256 = "3c3f9126a88d342c48128dcbfccc39bcd586e0746bce99dcdbf24aeebba0f36a"


def test_the_note_copy_is_byte_identical_to_the_seed():
    """spec/pytorch-notes.md is the seed note, byte for byte (no formatter touched it)."""
    assert hashlib.sha256(note.NOTE_PATH.read_bytes()).hexdigest() == NOTE_SHA256


@pytest.mark.parametrize("kind", KINDS)
def test_chapters_are_numbered_in_order_without_gaps(kind):
    """Chapter files of each kind are numbered 01, 02, ... with no gap or repeat."""
    numbers = [int(p.name[:2]) for p in CHAPTERS[kind]]
    assert numbers
    assert numbers == list(range(1, len(numbers) + 1))


def test_spec_holds_no_chapter_outside_its_two_kinds():
    """Chapters live in spec/note/ or spec/guarantees/; nothing numbered is left elsewhere."""
    stray = [p for p in SPEC.rglob("[0-9][0-9]_*.py") if p.parent.name not in KINDS]
    assert not stray


def test_each_chapter_opens_with_a_title():
    """Each chapter module has a docstring whose first line is its title."""
    for kind in KINDS:
        for path in CHAPTERS[kind]:
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
            assert doc, path.name
            assert doc.splitlines()[0].strip(), path.name


@pytest.mark.parametrize(("path", "node"), list(chapter_tests()))
def test_every_test_quotes_the_note_truly_or_says_it_goes_beyond_it(path, node):
    """A chapter test quotes the note (`Note: "..."`), runs its code, or says `Beyond the note:`.

    The last may be said once in the chapter's docstring, for all its tests.

    A quote must be in the note, must say something (a bare link does not), and when it
    is code, every name in it must occur in the code the test runs (its body, its
    fixtures and helpers, the reference functions it calls): a quote cannot drift away
    from what the test checks.
    """
    where = f"{path.parent.name}/{path.name}::{node.name}"
    doc = ast.get_docstring(node)
    assert doc, f"{where} has no docstring"
    quotes = note.quotes_in(doc)
    if note.executes_the_note(doc):
        # the test runs the note's blocks themselves: its chapter must read them from
        # the note's file (notebook.note_fences parses NOTE_PATH), not from a copy
        source = path.read_text(encoding="utf-8")
        assert "note_fences()" in source, f"{where}: its chapter never reads the note"
        assert "NOTE_PATH.read_text" in inspect.getsource(notebook.note_fences), where
        assert not quotes, where
        assert not note.beyond_the_note(doc), where
        return
    if not quotes:
        # a chapter that goes beyond the note as a whole says so once, in its docstring
        module_doc = module_docstring(path)
        assert note.beyond_the_note(doc) or note.beyond_the_note(module_doc), (
            f'{where}: neither a `Note: "..."` quote, "Beyond the note:" (in the test or the '
            f'chapter\'s docstring) nor "{note.EXECUTES}"'
        )
        return
    assert not note.beyond_the_note(doc), f"{where}: quotes the note and says it goes beyond it"
    for quote in quotes:
        assert note.is_in_note(quote), f"{where} quotes text not in the note: {quote!r}"
        assert not note.is_url_only(quote), f"{where} quotes only a link: {quote!r}"
        missing = note.missing_identifiers(quote, code_checked_by(path, node.name))
        assert not missing, f"{where} quotes {quote!r}, but its code never uses {sorted(missing)}"


@functools.cache
def module_docstring(path: Path) -> str:
    """A chapter's docstring, its file parsed once for all its tests."""
    return ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""


def test_the_quote_checker_rejects_what_the_note_does_not_say():
    """The checker itself can fail: a made-up quote is not found in the note."""
    assert note.is_in_note("x = torch.rand(5, 3)")
    assert not note.is_in_note("x = torch.rand(5, 4)")
    assert note.quotes_in('Title.\n\nNote: "a "b"\n  c"\n\nmore "d"') == ['a "b" c']
    assert note.quotes_in("Title.\n\nNote: unquoted\n") == []


def test_the_quote_rule_tells_links_prose_and_code_apart():
    """Links alone are refused; prose is not code; a code line's names must be used."""
    assert note.is_url_only("[torchvision.models](https://ptorch.com/docs/1/models)")
    assert note.is_url_only("https://pytorch.org/tutorials/intermediate/tensorboard_tutorial.html")
    assert not note.is_url_only("see [the docs](https://x.org) for dim")
    assert note.parse_code("For this tutorial, we will use the CIFAR10 dataset.") is None
    assert note.parse_code("Tensors") is None  # a lone word is not code
    loop = "for epoch in range(10):  # loop over the dataset multiple times"
    assert note.missing_identifiers(loop, "parser.error('--epochs')") == {"range"}
    assert note.missing_identifiers(loop, "for epoch in range(2): pass") == set()
    cut = "print('[%d, %5d] loss: %.3f' %"  # cut mid-expression, as quotes are
    assert note.missing_identifiers(cut, "log(x)") == set()  # print is incidental
    assert note.missing_identifiers("z = x.view(-1, 8)", "y = x.view(-1, 8)") == set()
    assert note.missing_identifiers("z = x.view(-1, 8)", "y = x.reshape(-1, 8)") == {"view"}
    assert note.missing_identifiers("nn depends on autograd", "") == set()  # prose


def test_the_code_a_test_runs_includes_fixtures_and_reference_functions(tmp_path):
    """A test's checked code follows its fixtures, its module helpers and reference calls."""
    chapter = tmp_path / "01_x.py"
    chapter.write_text(
        "import fractions\n"
        "from reference import cifar10\n"
        "from reference.neural_networks import Net\n"
        "def helper():\n    return 'HELPER'\n"
        "def data():\n    return helper()\n"
        "def test_a(data):\n    cifar10.train(Net())\n"
        "from reference import cifar10_demo\n"
        "def test_b():\n    cifar10_demo.main([])\n",
        encoding="utf-8",
    )
    text = code_checked_by(chapter, "test_a")
    assert "HELPER" in text  # fixture -> helper
    assert "optimizer.step()" in text  # reference.cifar10.train's body
    assert "self.conv1" in text  # reference.neural_networks.Net
    assert "fractions" not in code_checked_by(chapter, "test_b")  # its chapter's imports: no
    assert "optimizer.step()" not in code_checked_by(chapter, "test_b")  # main, not what it imports
