"""Tensors — the note's "Getting Started" constructors, each as a small function."""

from __future__ import annotations

import torch


def random_matrix() -> torch.Tensor:
    """Construct a randomly initialized matrix: ``x = torch.rand(5, 3)``."""
    return torch.rand(5, 3)


def zeros_long() -> torch.Tensor:
    """Construct a matrix filled zeros and of dtype long."""
    return torch.zeros(5, 3, dtype=torch.long)


def from_data() -> torch.Tensor:
    """Construct a tensor directly from data: ``x = torch.tensor([5.5, 3])``."""
    return torch.tensor([5.5, 3])


def based_on_existing(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Create tensors from an existing one; they reuse its properties (dtype, device,
    layout) unless new values are provided.

    Returns the note's two steps: ``x.new_ones(5, 3, dtype=torch.double)`` and then
    ``torch.randn_like(<that>, dtype=torch.float)``.
    """
    ones = x.new_ones(5, 3, dtype=torch.double)  # new size and dtype given; device kept
    noise = torch.randn_like(ones, dtype=torch.float)  # size and device kept; dtype overridden
    return ones, noise
