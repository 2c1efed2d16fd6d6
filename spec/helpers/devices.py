"""Devices: ``cpu_and_cuda()`` and the CPU-vs-CUDA comparison.

Style after torchvision's ``test/common_utils.py``: CUDA cases are always collected and
carry the ``cuda`` marker, which the root conftest turns into a skip (with the reason
below) on machines without a GPU. So a report from a CPU-only machine still lists them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    import torch

# Skip reasons are data: the report groups skips by these strings.
NO_CUDA_REASON = "needs CUDA: torch.cuda.is_available() is False on this machine"
NO_NETWORK_REASON = "needs the internet: pass --run-network on a machine that has it"
LONG_REASON = "the full fault counts: pass --run-long (make faults); make test runs the short ones"

needs_cuda = pytest.mark.cuda


def cpu_and_cuda() -> list:
    """``cpu`` always, ``cuda`` marked so it skips (with a reason) where there is no GPU."""
    return [pytest.param("cpu", id="cpu"), pytest.param("cuda", id="cuda", marks=needs_cuda)]


def to_device(tree: Any, device: torch.device | str) -> Any:
    """Move every tensor in a nested structure (tuple, list, dict) to ``device``.

    Modules are deep-copied first, so the caller's model is never moved or mutated."""
    import torch

    if isinstance(tree, torch.nn.Module):
        return copy.deepcopy(tree).to(device)
    if isinstance(tree, torch.Tensor):
        return tree.to(device)
    if isinstance(tree, dict):
        return {k: to_device(v, device) for k, v in tree.items()}
    if isinstance(tree, tuple) and hasattr(tree, "_fields"):  # namedtuple
        return type(tree)(*(to_device(v, device) for v in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(to_device(v, device) for v in tree)
    return tree


def assert_cpu_cuda_close(
    fn: Callable[..., Any],
    *inputs: Any,
    rtol: float,
    atol: float,
    msg: str | None = None,
) -> None:
    """``test_compare_cpu`` style: run ``fn`` on the same inputs on CPU and on CUDA and
    compare the (nested) results with one ``assert_close``. Inputs are made on the
    CPU by the caller, so both devices see identical values; tolerances are explicit
    because CUDA kernels sum in a different order (and never use TF32 here: the root
    conftest pins it off)."""
    import torch

    expected = fn(*to_device(inputs, "cpu"))
    actual = fn(*to_device(inputs, "cuda"))
    torch.testing.assert_close(to_device(actual, "cpu"), expected, rtol=rtol, atol=atol, msg=msg)
