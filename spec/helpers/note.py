"""The study note the spec is written against (a copy lives in spec/pytorch-notes.md).

Docstrings of chapter tests quote it on a line that starts with ``Note:``; the meta
tests check that every such quote really is in the note, so a docstring cannot claim
the note says something it does not.
"""

from __future__ import annotations

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
