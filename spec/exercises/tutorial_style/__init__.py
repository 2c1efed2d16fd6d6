"""A second implementation of the note, written the way the official tutorials write it.

Test data for the spec itself (spec/meta/test_tutorial_style.py): where the note's
sources — the 60-minute blitz, Learning PyTorch with Examples, the TensorBoard tutorial,
Lightning's MNIST hello world — write something differently from ``reference/``, this
package follows them: script-like functions, ``print`` where the tutorial prints,
``torch.flatten`` instead of ``view``, ``nn.Sequential`` where the note allows, drawing
helpers that return nothing, the tutorial's tag names, no input checks. Written by the
project's team in that style; no tutorial's code is copied.

The spec must pass it, chapter by chapter, except for the differences declared in
``DIFFERENCES`` (spec/meta/test_tutorial_style.py), each with the note's line that makes
it one.
"""
