"""Input checks shared by the reference models: errors that say what was expected.

Without them, a wrong-sized image reaches a Linear layer and PyTorch reports
"mat1 and mat2 shapes cannot be multiplied (1x400 and 576x120)".
"""

from __future__ import annotations

from collections.abc import Callable

import torch


def check_float_batch(
    x: object,
    who: str,
    expected_shape: str,
    shape_ok: Callable[[torch.Size], bool],
    hint: Callable[[torch.Size], str] = lambda shape: "",
) -> None:
    """Raise ``TypeError``/``ValueError`` unless ``x`` is a float tensor, N >= 1 rows,
    whose shape ``shape_ok`` accepts; the message names ``expected_shape``."""
    expected = f"a float tensor shaped {expected_shape} with N >= 1"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{who} expects {expected}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{who} expects {expected}, got dtype {x.dtype}")
    if x.dim() == 0 or not shape_ok(x.shape):
        raise ValueError(f"{who} expects {expected}, got shape {tuple(x.shape)}{hint(x.shape)}")
    if x.shape[0] == 0:
        raise ValueError(f"{who} expects {expected}, got an empty batch {tuple(x.shape)}")
