"""Reference implementations of the note's snippets, one module per chapter.

Plain code a learner can copy; names kept from the note where they teach
(``Net``, ``criterion``, ``optimizer``). The spec in ``spec/`` checks every claim.
"""
