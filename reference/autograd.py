"""AUTOGRAD — the 60-minute blitz expressions the note's chapter stands on."""

from __future__ import annotations

import torch


def blitz_out(x: torch.Tensor) -> torch.Tensor:
    """``y = x + 2; z = y * y * 3; out = z.mean()`` (the blitz's autograd example)."""
    y = x + 2
    z = y * y * 3
    return z.mean()


def evaluate(model: torch.nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """Evaluate without tracking history: "wrap the code block in with torch.no_grad()".

    The model's parameters still have ``requires_grad=True``; the output records no
    graph and keeps no intermediate tensors alive for a backward pass.
    """
    with torch.no_grad():
        return model(inputs)
