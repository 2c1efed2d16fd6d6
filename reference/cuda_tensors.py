"""CUDA Tensors — moving tensors in and out of the GPU with ``torch.device``."""

from __future__ import annotations

import torch


def add_on_device(x: torch.Tensor, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """The note's cell, for any device (it runs on "cpu" too)::

        y = torch.ones_like(x, device=device)  # directly create a tensor on GPU
        x = x.to(device)                       # or just use strings ``.to("cuda")``
        z = x + y
        z.to("cpu", torch.double)              # ``.to`` can also change dtype together!

    Returns ``(z, z.to("cpu", torch.double))``.
    """
    device = torch.device(device)
    y = torch.ones_like(x, device=device)
    x = x.to(device)
    z = x + y
    return z, z.to("cpu", torch.double)


def default_device() -> torch.device:
    """``torch.device("cuda:0" if torch.cuda.is_available() else "cpu")``."""
    return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
