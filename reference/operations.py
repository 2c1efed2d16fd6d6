"""Operations — NumPy-like indexing and ``view``."""

from __future__ import annotations

import torch


def second_column(x: torch.Tensor) -> torch.Tensor:
    """The second column of ``x``, by NumPy-like indexing: a view that shares x's storage.

    Note: "use standard NumPy-like indexing: `x[:, 1]`"
    """
    return x[:, 1]


def views_of_4x4(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(y, z)``: the 4x4 ``x`` viewed as 16 values, and as rows of 8 (-1 inferred as 2).

    Note: "y = x.view(16) z = x.view(-1, 8)  # the size -1 is inferred from other dimensions"

    Both are views: they share x's memory, nothing is copied.
    """
    y = x.view(16)
    z = x.view(-1, 8)
    return y, z
