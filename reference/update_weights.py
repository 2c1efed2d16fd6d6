"""Update the weights — the SGD rule by hand, and with ``torch.optim``."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.optim as optim

learning_rate = 0.01


def sgd_by_hand(net: nn.Module, learning_rate: float = learning_rate) -> None:
    """``weight = weight - learning_rate * gradient`` for every parameter, in place."""
    with torch.no_grad():
        for weight in net.parameters():
            gradient = weight.grad
            weight.copy_(weight - learning_rate * gradient)


def make_optimizer(net: nn.Module, learning_rate: float = learning_rate) -> optim.Optimizer:
    """``optimizer = optim.SGD(net.parameters(), lr=0.01)``."""
    return optim.SGD(net.parameters(), lr=learning_rate)


def training_step(net, optimizer, criterion, input, target) -> float:
    """One pass of the note's training loop; returns the loss before the update."""
    optimizer.zero_grad()  # zero the gradient buffers
    output = net(input)
    loss = criterion(output, target)
    value = loss.item()
    if value != value or abs(value) == float("inf"):
        raise FloatingPointError(f"loss is {value}: expected finite input and target")
    loss.backward()
    optimizer.step()  # Does the update
    return value
