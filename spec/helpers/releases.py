"""Release-dependent behaviour that more than one chapter checks, bisected once, here.

The drift chapter (spec/guarantees/05_drift.py) pins each change on both sides; a
chapter whose own lesson touches the same call (``add_graph`` in
spec/note/12_tensorboard.py) checks it with the same table. ``TORCH`` is the one
constant the spec reads the installed release from.
"""

from __future__ import annotations

import warnings

import torch
from packaging.version import Version

TORCH = Version(torch.__version__.split("+")[0])


def add_graph_jit_warnings(writer, model: torch.nn.Module, example: torch.Tensor) -> set[type]:
    """The categories of the "torch.jit.trace is deprecated" warnings that one
    ``writer.add_graph(model, example)`` raises (every warning recorded, none filtered)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer.add_graph(model, example)
    return {w.category for w in caught if "torch.jit.trace` is deprecated" in str(w.message)}


def add_graph_jit_warning_expected(version: Version = TORCH) -> set[type]:
    """Bisected on the CPU: nothing on 2.9.1; a DeprecationWarning (which Python shows only
    for code in ``__main__``) on 2.10.0, 2.11.0, 2.12.0 and 2.13.0; a FutureWarning, shown
    to every user, from 2.14.0 (2.14.0 and 2.14.1 checked)."""
    if version >= Version("2.14"):
        return {FutureWarning}
    if version >= Version("2.10"):
        return {DeprecationWarning}
    return set()


def seed_everything(seed: int) -> int:
    """``pytorch_lightning.seed_everything(seed)`` without its log line where it can:
    Lightning 2.3.3 (the newest for torch 2.0) has no ``verbose=``; 2.6.6 has it."""
    import inspect

    import pytorch_lightning as pl

    if "verbose" in inspect.signature(pl.seed_everything).parameters:
        return pl.seed_everything(seed, verbose=False)
    return pl.seed_everything(seed)
