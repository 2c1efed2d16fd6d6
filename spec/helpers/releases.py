"""Release-dependent behaviour that more than one chapter checks, bisected once, here.

The drift chapter (spec/guarantees/05_drift.py) pins each change on both sides; a
chapter whose own lesson touches the same call (``add_graph`` in
spec/note/12_tensorboard.py) checks it with the same table. ``TORCH`` is the one
constant the spec reads the installed release from; ``version_of`` (the drift table's)
reads any other library's. Which side of a change a release is on is the drift table's to
say: ``changed(row)``, ``GATES[name].met()``.

Where a test needs a release, the gate is one mark with its reason kept as data
(``GATES`` in the drift table, spec/helpers/drift.py, after Lightning's ``RunIf``):
``@needs("torch.func")`` skips, naming why; ``expect_failure_before(...)`` marks a test
the spec knows fails on older releases.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from packaging.version import Version

from spec.helpers.drift import GATES, stage, version_of

TORCH = version_of("torch")


def needs(name: str) -> pytest.MarkDecorator:
    """Skip where gate ``name`` (spec/helpers/drift.py's ``GATES``) is not met, with its
    reason."""
    gate = GATES[name]
    return pytest.mark.skipif(not gate.met(), reason=gate.reason)


def expect_failure_before(name: str) -> pytest.MarkDecorator:
    """A strict xfail where gate ``name`` is not met: the day it holds there, the spec says so."""
    gate = GATES[name]
    return pytest.mark.xfail(not gate.met(), strict=True, reason=gate.reason)


def add_graph_jit_warnings(writer, model: torch.nn.Module, example: torch.Tensor) -> set[type]:
    """The categories of the "torch.jit.trace is deprecated" warnings that one
    ``writer.add_graph(model, example)`` raises (every warning recorded, none filtered)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        writer.add_graph(model, example)
    return {w.category for w in caught if "torch.jit.trace` is deprecated" in str(w.message)}


def add_graph_jit_warning_expected(version: Version = TORCH) -> set[type]:
    """The categories ``add_graph_jit_warnings`` finds on ``version``: the drift row's
    stages (a DeprecationWarning, which Python shows only for code in ``__main__``, then a
    FutureWarning shown to every user), nothing before the first."""
    what = stage("SummaryWriter.add_graph warns: torch.jit.trace is deprecated", version)
    return (
        set()
        if what is None
        else {{"DeprecationWarning": DeprecationWarning, "FutureWarning": FutureWarning}[what]}
    )


def seed_everything(seed: int) -> int:
    """``pytorch_lightning.seed_everything(seed)`` without its log line where it can:
    Lightning 2.3.3 (the newest for torch 2.0) has no ``verbose=``; 2.6.6 has it."""
    import inspect

    import pytorch_lightning as pl

    if "verbose" in inspect.signature(pl.seed_everything).parameters:
        return pl.seed_everything(seed, verbose=False)
    return pl.seed_everything(seed)
