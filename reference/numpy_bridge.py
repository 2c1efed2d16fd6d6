"""NumPy Bridge — Torch Tensor <=> NumPy array, sharing memory (CPU only)."""

from __future__ import annotations

import numpy as np
import torch


def tensor_to_numpy(a: torch.Tensor) -> np.ndarray:
    """``b = a.numpy()``: the array views the tensor's memory; no copy is made."""
    return a.numpy()


def numpy_to_tensor(a: np.ndarray) -> torch.Tensor:
    """``b = torch.from_numpy(a)``: the tensor views the array's memory; no copy is made."""
    return torch.from_numpy(a)


#: dtypes that exist on both sides, and map one-to-one through the bridge.
#: (bfloat16 and the float8 types have no NumPy counterpart.)
DTYPE_PAIRS: tuple[tuple[np.dtype, torch.dtype], ...] = (
    (np.dtype(np.bool_), torch.bool),
    (np.dtype(np.uint8), torch.uint8),
    (np.dtype(np.int8), torch.int8),
    (np.dtype(np.int16), torch.int16),
    (np.dtype(np.int32), torch.int32),
    (np.dtype(np.int64), torch.int64),
    (np.dtype(np.float16), torch.float16),
    (np.dtype(np.float32), torch.float32),
    (np.dtype(np.float64), torch.float64),
    (np.dtype(np.complex64), torch.complex64),
    (np.dtype(np.complex128), torch.complex128),
)
