"""NEURAL NETWORKS — "Define the network": the note's LeNet for 1-channel 32x32 images."""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from reference.checks import check_float_batch

#: The input this net is built for; see ``Net.accepts``.
INPUT_SHAPE = (1, 32, 32)


def _after_conv_and_pool(size: int) -> int:
    """One side of the feature map after conv(3x3) -> max_pool(2), as in ``forward``."""
    return (size - 2) // 2


class Net(nn.Module):
    """The note's LeNet for 1-channel 32x32 images: conv1, conv2, fc1, fc2, fc3.

    Note: "self.conv1 = nn.Conv2d(1, 6, 3) self.conv2 = nn.Conv2d(6, 16, 3) # an affine
    operation: y = Wx + b self.fc1 = nn.Linear(16 * 6 * 6, 120)  # 6*6 from image dimension
    self.fc2 = nn.Linear(120, 84) self.fc3 = nn.Linear(84, 10)"

    ``forward``: max-pool(2) of relu(conv1), then of relu(conv2), flatten all but the
    batch dimension, relu(fc1), relu(fc2), fc3; ``print(net)`` shows the note's module
    tree.

    Reference only: ``forward`` first checks its input (``check_input``): without the
    check, a 28x28 MNIST image reaches ``fc1`` and fails there with PyTorch's "mat1 and
    mat2 shapes cannot be multiplied (1x400 and 576x120)".
    """

    def __init__(self):
        super().__init__()
        # 1 input image channel, 6 output channels, 3x3 square convolution
        # kernel
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        # an affine operation: y = Wx + b
        self.fc1 = nn.Linear(16 * 6 * 6, 120)  # 6*6 from image dimension
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        check_input(x)
        # Max pooling over a (2, 2) window
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        # If the size is a square you can only specify a single number
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

    def num_flat_features(self, x):
        """The number of features per example: the product of all sizes but the first."""
        size = x.size()[1:]  # all dimensions except the batch dimension
        num_features = 1
        for s in size:
            num_features *= s
        return num_features

    @staticmethod
    def accepts(height: int, width: int) -> bool:
        """Beyond the note: True when an image of this size reduces to the 6x6 map ``fc1``
        is built for: 32x32 as the note says, but also anything from 30 to 33 a side."""
        return _after_conv_and_pool(_after_conv_and_pool(height)) == 6 and (
            _after_conv_and_pool(_after_conv_and_pool(width)) == 6
        )


def check_input(x: object) -> None:
    """Beyond the note: raise a ``ValueError``/``TypeError`` that says what ``Net`` expects."""
    check_float_batch(
        x,
        "Net",
        "(N, 1, 32, 32)",
        lambda s: len(s) == 4 and s[1] == 1 and Net.accepts(s[2], s[3]),
        lambda s: " (resize 28x28 MNIST images to 32x32)" if tuple(s[-2:]) == (28, 28) else "",
    )
