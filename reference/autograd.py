"""AUTOGRAD — the 60-minute blitz expressions the note's chapter stands on."""

from __future__ import annotations

import torch


def blitz_out(x: torch.Tensor) -> torch.Tensor:
    """``out`` of the blitz's autograd example: the mean of 3 (x + 2)^2.

    Beyond the note: its autograd section keeps only the ``torch.no_grad()`` tip; this is
    the example of the blitz it summarizes: ``y = x + 2; z = y * y * 3; out = z.mean()``.
    """
    y = x + 2
    z = y * y * 3
    return z.mean()


def evaluate(model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """``model(inputs)`` evaluated without tracking history.

    Note: "To prevent tracking history (and using memory), you can also wrap the code block
    in with `torch.no_grad()`. This can be particularly helpful when **evaluating a model**"

    The model's parameters keep ``requires_grad=True``; the output records no graph and
    keeps no intermediate tensors alive for a backward pass.
    """
    with torch.no_grad():
        return model(inputs)
