"""Tensors — the note's "Getting Started" constructors, each as a small function."""

from __future__ import annotations

import torch


def random_matrix() -> torch.Tensor:
    """A randomly initialized 5x3 matrix (float32, uniform on [0, 1)).

    Note: "Construct a randomly initialized matrix: `x = torch.rand(5, 3)`"
    """
    return torch.rand(5, 3)


def zeros_long() -> torch.Tensor:
    """A 5x3 matrix of zeros of dtype long (int64).

    Note: "Construct a matrix filled zeros and of dtype long: `x = torch.zeros(5, 3,
    dtype=torch.long)`"
    """
    return torch.zeros(5, 3, dtype=torch.long)


def from_data() -> torch.Tensor:
    """The tensor holding 5.5 and 3, made directly from that data.

    Note: "Construct a tensor directly from data: `x = torch.tensor([5.5, 3])`"
    """
    return torch.tensor([5.5, 3])


def based_on_existing(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The note's two tensors made from an existing one: ``(ones, noise)``.

    Note: "These methods will **reuse** properties of the input tensor, e.g. dtype, unless
    new values are provided by user: - `x = x.new_ones(5, 3, dtype=torch.double)` - `x =
    torch.randn_like(x, dtype=torch.float)`"

    ``ones`` is ``x.new_ones(5, 3, dtype=torch.double)``: a new size and dtype, x's device;
    ``noise`` is ``torch.randn_like(ones, dtype=torch.float)``: ones' size and device,
    dtype float32.
    """
    ones = x.new_ones(5, 3, dtype=torch.double)  # new size and dtype given; device kept
    noise = torch.randn_like(ones, dtype=torch.float)  # size and device kept; dtype overridden
    return ones, noise
