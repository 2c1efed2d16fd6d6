"""Independent computations the chapters compare the implementation with.

Written from the layer definitions in NumPy float64, never from the code under test.
"""

from __future__ import annotations

import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view


def numpy_lenet(net: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """The note's two LeNets' forward pass (conv -> relu -> 2x2 max-pool, twice; then
    three Linear layers with relu between) in NumPy float64, from ``net``'s weights:
    conv = cross-correlation over sliding windows, max-pool over 2x2 blocks. Works for
    both: the kernel sizes come from the weights."""
    p = {k: v.detach().double().cpu().numpy() for k, v in net.state_dict().items()}

    def conv(a, w, b):  # a: (N, C, H, W), w: (O, C, k, k)
        windows = sliding_window_view(a, w.shape[2:], axis=(2, 3))  # N, C, H', W', k, k
        return np.einsum("nchwij,ocij->nohw", windows, w) + b[None, :, None, None]

    def pool(a):  # 2x2, stride 2, floor
        n, c, h, w = a.shape
        a = a[:, :, : h // 2 * 2, : w // 2 * 2]
        return a.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

    def relu(a):
        return np.maximum(a, 0)

    a = pool(relu(conv(x, p["conv1.weight"], p["conv1.bias"])))
    a = pool(relu(conv(a, p["conv2.weight"], p["conv2.bias"])))
    a = a.reshape(a.shape[0], -1)
    a = relu(a @ p["fc1.weight"].T + p["fc1.bias"])
    a = relu(a @ p["fc2.weight"].T + p["fc2.bias"])
    return a @ p["fc3.weight"].T + p["fc3.bias"]


def the_notes_training_loop(net, batches, criterion, optimizer, epochs: int, print_every: int,
                            zero_grad: bool = True) -> list[float]:  # fmt: skip
    """The note's CIFAR-10 loop (step 4), written out here, independently of the
    implementation: returns the running losses it would print. ``zero_grad=False`` is the
    classic mistake, for diagnoses."""
    logged = []
    for _epoch in range(epochs):
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(batches, 0):
            if zero_grad:
                optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % print_every == print_every - 1:
                logged.append(running_loss / print_every)
                running_loss = 0.0
    return logged
