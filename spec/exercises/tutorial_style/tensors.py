"""Tensors, the tutorial's way: each constructor as the note prints it."""

import torch


def random_matrix():
    return torch.rand(5, 3)


def zeros_long():
    return torch.zeros(5, 3, dtype=torch.long)


def from_data():
    return torch.tensor([5.5, 3])


def based_on_existing(x):
    x = x.new_ones(5, 3, dtype=torch.double)  # new_* methods take in sizes
    y = torch.randn_like(x, dtype=torch.float)  # override dtype, same size
    return x, y
