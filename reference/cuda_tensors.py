"""CUDA Tensors — moving tensors in and out of the GPU with ``torch.device``."""

from __future__ import annotations

import torch


def add_on_device(x: torch.Tensor, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """The note's CUDA cell, for any device (it runs on "cpu" too): ``(z, z.to("cpu",
    torch.double))``.

    Note: "y = torch.ones_like(x, device=device)  # directly create a tensor on GPU x =
    x.to(device)                       # or just use strings ``.to("cuda")`` z = x + y"

    ``z = x + y`` is made on ``device``; the second tensor is z moved to the CPU and made
    float64 in one ``.to`` call.
    """
    device = torch.device(device)
    y = torch.ones_like(x, device=device)
    x = x.to(device)
    z = x + y
    return z, z.to("cpu", torch.double)


def default_device() -> torch.device:
    """The first CUDA device where there is one, else the CPU.

    Note: "device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")"
    """
    return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
