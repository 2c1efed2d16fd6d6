"""Exercises: learners write the note's code, the spec grades it.

- ``skeleton``: ``make exercises DIR=...`` writes a package with every name the note's
  chapters reach — signature, docstring (the note's lines, the tests that grade it) and a
  body that raises ``NotImplementedError`` — generated from ``reference/``;
- ``loop``: ``make next``, ``make hint``, ``make watch``: the first chapter not yet
  passing, the hint for its first to-do, and a rerun on every save.

The page for learners is spec/EXERCISES.md.
"""
