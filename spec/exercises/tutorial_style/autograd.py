"""Autograd: the blitz's example in one expression, and evaluation as a decorated function."""

import torch


def blitz_out(x):
    return (3 * (x + 2) ** 2).mean()


@torch.no_grad()
def evaluate(model, inputs):
    return model(inputs)
