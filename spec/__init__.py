"""The executable specification: one chapter file per section of the note.

Chapter files are named ``NN_chapter.py`` in the note's order; ``spec/helpers`` holds
what they share (split by concern) and ``spec/meta`` tests those helpers.
"""
