"""Every chapter test says which line of the note it checks, and quotes it truly."""

import ast
import hashlib
from pathlib import Path

import pytest

from spec.helpers import note

SPEC = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(SPEC.glob("[0-9][0-9]_*.py"))


def chapter_tests():
    for path in CHAPTERS:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                yield pytest.param(path, node, id=f"{path.stem}::{node.name}")


#: sha256 of ../shared/seed/pytorch-notes.md, the note as given (recorded once).
NOTE_SHA256 = "3c3f9126a88d342c48128dcbfccc39bcd586e0746bce99dcdbf24aeebba0f36a"


def test_the_note_copy_is_byte_identical_to_the_seed():
    """spec/pytorch-notes.md is the seed note, byte for byte (no formatter touched it)."""
    assert hashlib.sha256(note.NOTE_PATH.read_bytes()).hexdigest() == NOTE_SHA256


def test_chapters_are_numbered_in_order_without_gaps():
    """Chapter files are numbered 01, 02, ... with no gap or repeat."""
    numbers = [int(p.name[:2]) for p in CHAPTERS]
    assert numbers == list(range(1, len(numbers) + 1))


def test_each_chapter_opens_with_a_title():
    """Each chapter module has a docstring whose first line is its title."""
    for path in CHAPTERS:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, path.name
        assert doc.splitlines()[0].strip(), path.name


@pytest.mark.parametrize(("path", "node"), list(chapter_tests()))
def test_every_test_quotes_the_note_truly(path, node):
    """A chapter test has a docstring with a `Note:` line whose quotes are in the note."""
    doc = ast.get_docstring(node)
    assert doc, f"{path.name}::{node.name} has no docstring"
    quotes = note.quotes_in(doc)
    assert quotes, f"{path.name}::{node.name}: no quoted `Note:` line"
    missing = [q for q in quotes if not note.is_in_note(q)]
    assert not missing, f"{path.name}::{node.name} quotes text not in the note: {missing}"


def test_the_quote_checker_rejects_what_the_note_does_not_say():
    """The checker itself can fail: a made-up quote is not found in the note."""
    assert note.is_in_note("x = torch.rand(5, 3)")
    assert not note.is_in_note("x = torch.rand(5, 4)")
    assert note.quotes_in('Title.\n\nNote: "a "b"\n  c"\n\nmore "d"') == ['a "b" c']
    assert note.quotes_in("Title.\n\nNote: unquoted\n") == []
