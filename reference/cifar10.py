"""TRAINING A CLASSIFIER — CIFAR-10, in the tutorial's five steps:

1. Load and normalize the CIFAR10 training and test datasets using torchvision
2. Define a Convolutional Neural Network
3. Define a loss function
4. Train the network on the training data
5. Test the network on the test data

then save and load the trained weights. The demo that runs all of it from the command
line (flags, progress bar, loss plot) is ``reference.cifar10_demo``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision.transforms as transforms
from torch.utils.data import DataLoader

from reference import checkpoint, cifar10_data
from reference.checks import check_float_batch
from reference.cifar10_data import CLASSES

#: The ten classes by the note's short names, as its output prints them ("plane", "car").
classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

#: 1. Load and normalize: ToTensor maps [0, 255] to [0, 1]; Normalize with mean 0.5 and
#: std 0.5 per channel maps that to [-1, 1].
transform = transforms.Compose(
    [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
)


def make_loaders(root, batch_size: int = 4, seed: int | None = None, num_workers: int = 0):
    """``(trainloader, testloader)`` over CIFAR-10 at ``root``, with ``transform``.

    Note: "Load and normalizing the CIFAR10 training and test datasets using torchvision"

    The training set shuffled (``shuffle=True``; with ``seed``, by a
    ``torch.Generator().manual_seed(seed)``, so the same seed gives the same order), the
    test set in order. ``root`` holds ``cifar-10-batches-py``: load each split with
    ``cifar10_data.load_cifar10(root, train=..., transform=transform)`` — torchvision's
    ``CIFAR10`` for the real set, the same class checked against our own checksums for
    the generated one.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    trainset = cifar10_data.load_cifar10(root, train=True, transform=transform)
    testset = cifar10_data.load_cifar10(root, train=False, transform=transform)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    trainloader = DataLoader(
        trainset, batch_size=batch_size, shuffle=True, num_workers=num_workers, generator=generator
    )
    testloader = DataLoader(testset, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    return trainloader, testloader


# 2. Define a Convolutional Neural Network
class Net(nn.Module):
    """The note's CIFAR-10 CNN: conv1, pool, conv2, fc1, fc2, fc3; 10 raw scores per image.

    Note: "self.conv1 = nn.Conv2d(3, 6, 5) self.pool = nn.MaxPool2d(2, 2) self.conv2 =
    nn.Conv2d(6, 16, 5) self.fc1 = nn.Linear(16 * 5 * 5, 120) self.fc2 = nn.Linear(120, 84)
    self.fc3 = nn.Linear(84, 10)"

    ``forward`` takes a batch of any size N, (N, 3, 32, 32), and returns (N, 10) logits:
    no softmax (``nn.CrossEntropyLoss`` applies its own).

    Reference only: ``forward`` first checks its input (``check_input``): without the
    check, ``x.view(-1, 16 * 5 * 5)`` silently regroups a batch of wrong-sized images
    into a different number of rows (or fails deep inside with "shape '[-1, 400]' is
    invalid").
    """

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        check_input(x)
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 5 * 5)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def check_input(x: object) -> None:
    """Beyond the note: raise an error naming the (N, 3, 32, 32) float batch expected."""
    check_float_batch(x, "Net", "(N, 3, 32, 32)", lambda s: tuple(s[1:]) == (3, 32, 32))


# 3. Define a loss function and optimizer
def make_criterion_and_optimizer(net: nn.Module, lr: float = 0.001, momentum: float = 0.9):
    """``(criterion, optimizer)`` for ``net``: cross-entropy, and SGD with momentum.

    Note: "criterion = nn.CrossEntropyLoss() optimizer = optim.SGD(net.parameters(), lr=0.001,
    momentum=0.9)"
    """
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    return criterion, optimizer


# 4. Train the network on the training data
def train(
    net: nn.Module,
    trainloader: Iterable,
    criterion,
    optimizer,
    epochs: int = 2,
    print_every: int = 2000,
    device: torch.device | str = "cpu",
    log: Callable[[str], None] | None = print,
    max_steps: int | None = None,
) -> list[float]:
    """The note's training loop; returns the running losses it printed, as floats.

    Note: "for epoch in range(10):  # loop over the dataset multiple times running_loss = 0.0
    for i, data in enumerate(trainloader, 0):"

    Its lines are the note's, in the note's order: for every mini-batch zero the
    gradients, forward, loss, backward, step, and add ``loss.item()`` to the running
    loss; every ``print_every`` mini-batches log ``'[%d, %5d] loss: %.3f' % (epoch + 1,
    i + 1, running_loss / print_every)`` and reset it; at the end log "Finished
    Training". ``epochs`` and ``print_every`` are the note's 10 and 2000 made
    parameters; inputs and labels move to ``device`` every step, as in the note's
    "Training on GPU"; ``log`` is where the lines go (``print``; None for silence).

    Reference only: a non-finite loss stops the loop with ``FloatingPointError``;
    ``max_steps`` can cut it short.
    """
    if epochs < 1 or print_every < 1:
        raise ValueError(f"expected epochs >= 1 and print_every >= 1, got {epochs}, {print_every}")
    logged: list[float] = []
    step = 0
    for epoch in range(epochs):  # loop over the dataset multiple times
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data[0].to(device), data[1].to(device)

            # zero the parameter gradients
            optimizer.zero_grad()

            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            # print statistics
            running_loss += loss.item()
            if running_loss != running_loss or abs(running_loss) == float("inf"):
                raise FloatingPointError(
                    f"loss is {loss.item()} at epoch {epoch + 1}, mini-batch {i + 1}: "
                    "expected finite inputs (NaN or inf in the data?) and a stable learning rate"
                )
            if i % print_every == print_every - 1:  # print every print_every mini-batches
                logged.append(running_loss / print_every)
                if log is not None:
                    log("[%d, %5d] loss: %.3f" % (epoch + 1, i + 1, running_loss / print_every))
                running_loss = 0.0
            step += 1
            if max_steps is not None and step >= max_steps:
                return logged
    if log is not None:
        log("Finished Training")
    return logged


# 5. Test the network on the test data
def predict(net: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The predicted class of each image: the index of its highest score, under no_grad.

    Note: "outputs = net(images) # outputs: (4, 10) _, predicted = torch.max(outputs, 1)"
    """
    with torch.no_grad():
        outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    return predicted


def collect_predictions(net: nn.Module, loader: Iterable, device="cpu"):
    """Beyond the note: (predicted, labels) over a whole loader, under ``torch.no_grad()``."""
    predicted, truth = [], []
    net.eval()
    with torch.no_grad():
        for images, labels in loader:
            outputs = net(images.to(device))
            predicted.append(torch.max(outputs, 1).indices.cpu())
            truth.append(labels)
    return torch.cat(predicted), torch.cat(truth)


def accuracy(net: nn.Module, loader: Iterable, device="cpu") -> float:
    """The whole-set accuracy in percent, 100 * correct / total, evaluated under no_grad.

    Note: "correct = 0 total = 0 with torch.no_grad(): for data in testloader:"
    """
    correct = 0
    total = 0
    with torch.no_grad():
        for data in loader:
            images, labels = data[0].to(device), data[1].to(device)
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return 100 * correct / total


def per_class_accuracy(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int = 10):
    """``(accuracy of each class, confusion matrix)`` from the predictions of a whole set.

    Note: "Hmmm, what are the classes that performed well, and the classes that did not
    perform well"

    The accuracy of class k is the share of its images predicted as k (float64, one per
    class); the confusion matrix counts images by (true class, predicted class). The
    note's loop assumes batches of exactly 4; this takes all predictions at once.

    Reference only: a class with no examples gets NaN, not a division error; tensors of
    other shapes are refused with ``ValueError``.
    """
    if predicted.shape != labels.shape or predicted.dim() != 1:
        raise ValueError(
            f"expected two 1-d tensors of equal length, got {tuple(predicted.shape)} "
            f"and {tuple(labels.shape)}"
        )
    index = labels.long() * num_classes + predicted.long()
    confusion = torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)
    totals = confusion.sum(dim=1)
    correct = confusion.diagonal()
    return correct.double() / totals.double(), confusion


# Save and load
def save(net: nn.Module, path: str | os.PathLike) -> None:
    """Save the net's weights (its state dict) to ``path``.

    Note: "torch.save(net.state_dict(), PATH)"

    Reference only: atomically (``reference.checkpoint``): an interrupted save never
    leaves a half-written PATH or loses the previous one.
    """
    checkpoint.save_checkpoint(net.state_dict(), path)


def load(path: str | os.PathLike, map_location="cpu") -> Net:
    """A new ``Net`` holding the weights saved at ``path``.

    Note: "the_model.load_state_dict(torch.load(PATH))"

    Reference only: loading tensors only (``weights_only=True``: a checkpoint cannot run
    code), with errors that name what is wrong with a damaged file.
    """
    the_model = Net()
    the_model.load_state_dict(checkpoint.load_checkpoint(path, map_location=map_location))
    return the_model


__all__ = [
    "CLASSES",
    "Net",
    "accuracy",
    "classes",
    "collect_predictions",
    "load",
    "make_criterion_and_optimizer",
    "make_loaders",
    "per_class_accuracy",
    "predict",
    "save",
    "train",
    "transform",
]
