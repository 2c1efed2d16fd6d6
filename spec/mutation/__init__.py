"""Mutation testing of ``reference/``: does the spec notice small wrong changes?

``make mutants`` (``python -m spec.mutation run``) runs mutmut 3 (its settings are in
pyproject.toml's ``[tool.mutmut]``): it changes the reference one small thing at a time
— an operator, a constant, a keyword argument dropped, a statement deleted — and runs
the chapters that cover the changed function. A mutant the spec fails on is *killed*;
one it passes is a *survivor*: either a test is missing or too weak, or the change does
not change behaviour (an *equivalent* mutant, listed with its reason in
``equivalent.toml``). Then ``python -m spec.mutation report`` writes ``REPORT.md`` and
``results.json`` here: killed / survived / timeout per module, the score without the
equivalent mutants, the survivors with their diffs, and the run's time and commit.

mutmut 3 mutates the bodies of functions and methods only: module-level values (the
note's ``criterion``, ``transform``, the transforms' constants) are not mutated; the
chapters check them against the note's own values.
"""
