"""Update the weights — the SGD rule by hand, and with ``torch.optim``."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.optim as optim

#: The note's learning rate: "optimizer = optim.SGD(net.parameters(), lr=0.01)".
learning_rate = 0.01


def sgd_by_hand(net: nn.Module, learning_rate: float = learning_rate) -> None:
    """One step of the simplest update rule on every parameter, in place, by hand.

    Note: "weight = weight - learning_rate * gradient"
    """
    with torch.no_grad():
        for weight in net.parameters():
            gradient = weight.grad
            weight.copy_(weight - learning_rate * gradient)


def make_optimizer(net: nn.Module, learning_rate: float = learning_rate) -> optim.Optimizer:
    """Plain SGD over the net's parameters.

    Note: "optimizer = optim.SGD(net.parameters(), lr=0.01)"
    """
    return optim.SGD(net.parameters(), lr=learning_rate)


def training_step(net, optimizer, criterion, input, target) -> float:
    """One pass of the note's training loop; returns the loss before the update, a float.

    Note: "optimizer.zero_grad()   # zero the gradient buffers output = net(input) loss =
    criterion(output, target) loss.backward() optimizer.step()    # Does the update"

    Reference only: a NaN or infinite loss stops it with ``FloatingPointError`` before
    the update.
    """
    optimizer.zero_grad()  # zero the gradient buffers
    output = net(input)
    loss = criterion(output, target)
    value = loss.item()
    if value != value or abs(value) == float("inf"):
        raise FloatingPointError(f"loss is {value}: expected finite input and target")
    loss.backward()
    optimizer.step()  # Does the update
    return value
