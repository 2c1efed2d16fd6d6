"""Operations — NumPy-like indexing and ``view``."""

from __future__ import annotations

import torch


def second_column(x: torch.Tensor) -> torch.Tensor:
    """Standard NumPy-like indexing: ``x[:, 1]`` (a view: it shares x's storage)."""
    return x[:, 1]


def views_of_4x4(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The note's resize/reshape example::

    y = x.view(16)
    z = x.view(-1, 8)  # the size -1 is inferred from other dimensions
    """
    y = x.view(16)
    z = x.view(-1, 8)
    return y, z
