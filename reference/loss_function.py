"""Loss Function — ``nn.MSELoss`` on the LeNet's output and a dummy target."""

from __future__ import annotations

import torch
import torch.nn as nn

#: The note's loss: "criterion = nn.MSELoss()", the mean-squared error.
criterion = nn.MSELoss()


def loss_for(net: nn.Module, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The MSE loss of ``net(input)`` against a target shaped like the output.

    Note: "output = net(input) target = torch.randn(10)  # a dummy target, for example target =
    target.view(1, -1)  # make it the same shape as output criterion = nn.MSELoss() loss =
    criterion(output, target)"

    ``target`` arrives as the note's (10,) dummy target: view it as (1, -1) first.
    """
    output = net(input)
    target = target.view(1, -1)
    return criterion(output, target)
