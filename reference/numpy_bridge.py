"""NumPy Bridge — Torch Tensor <=> NumPy array, sharing memory (CPU only)."""

from __future__ import annotations

import numpy as np
import torch


def tensor_to_numpy(a: torch.Tensor) -> np.ndarray:
    """The tensor as a NumPy array that views its memory: no copy is made.

    Note: "Converting a Torch Tensor to a NumPy Array: `tensor.numpy()`"
    """
    return a.numpy()


def numpy_to_tensor(a: np.ndarray) -> torch.Tensor:
    """The array as a tensor that views its memory (and keeps its dtype): no copy is made.

    Note: "Converting NumPy Array to Torch Tensor: `torch.from_numpy(array)`"
    """
    return torch.from_numpy(a)
