"""Exercises: learners write the note's code, the spec grades it.

- ``skeleton``: ``make exercises DIR=...`` writes a package with every name the note's
  chapters reach — signature, docstring (the note's lines, the tests that grade it) and a
  body that raises ``NotImplementedError`` — generated from ``reference/``;
- ``loop``: ``make next``, ``make hint``, ``make watch``: the first chapter not yet
  passing, the hint for its first to-do, and a rerun on every save;
- ``warm``: what keeps ``watch`` warm: the chapters collected once, each check in a fork;
- ``latency``: ``make loop-latency``: how long the loop takes to answer a save;
- ``contract``, ``blank``, ``note_code``: what the chapters demand, the blank skeleton's
  judge, and the note's own code as an implementation (the spec's proofs of itself);
- ``tutorial_style``: a second implementation, written the official tutorials' way (a
  package, test data for spec/meta/test_tutorial_style.py);
- ``nested``: the spec run against another implementation inside the running session.

The page for learners is spec/EXERCISES.md.
"""
