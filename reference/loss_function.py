"""Loss Function — ``nn.MSELoss`` on the LeNet's output and a dummy target."""

from __future__ import annotations

import torch
import torch.nn as nn

criterion = nn.MSELoss()


def loss_for(net: nn.Module, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The note's steps::

    output = net(input)
    target = target.view(1, -1)  # make it the same shape as output
    loss = criterion(output, target)
    """
    output = net(input)
    target = target.view(1, -1)
    return criterion(output, target)


def grad_fn_chain(loss: torch.Tensor) -> list[str]:
    """Names of the backward nodes from ``loss`` back to the input, following the data
    path (not the AccumulateGrad leaves of weights and biases, nor their transposes)."""
    names = []
    node = loss.grad_fn
    while node is not None:
        names.append(type(node).__name__)
        data_path = [
            fn
            for fn, _ in node.next_functions
            if fn is not None and type(fn).__name__ not in ("AccumulateGrad", "TBackward0")
        ]
        node = data_path[0] if data_path else None
    return names
