"""The NumPy bridge: torch.as_tensor shares an array's memory as torch.from_numpy does."""

import torch


def tensor_to_numpy(a):
    return a.numpy()


def numpy_to_tensor(a):
    return torch.as_tensor(a)
