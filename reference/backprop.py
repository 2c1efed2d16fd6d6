"""Backprop — zero the gradient buffers, then ``loss.backward()``."""

from __future__ import annotations

import torch
import torch.nn as nn


def conv1_bias_grad_before_and_after(
    net: nn.Module, loss: torch.Tensor
) -> tuple[torch.Tensor | None, torch.Tensor]:
    """The note's cell: ``(conv1.bias.grad after net.zero_grad(), conv1.bias.grad after
    loss.backward())``, each as it was at that moment (a copy).

    Note: "net.zero_grad()     # zeroes the gradient buffers of all parameters
    print('conv1.bias.grad before backward') print(net.conv1.bias.grad) loss.backward()"

    ``before`` is ``None`` on torch >= 2.0: ``zero_grad`` sets gradients to None by default.
    """
    net.zero_grad()  # zeroes the gradient buffers of all parameters
    before = net.conv1.bias.grad
    before = None if before is None else before.clone()
    loss.backward()
    return before, net.conv1.bias.grad.clone()
