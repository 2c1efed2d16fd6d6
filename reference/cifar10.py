"""TRAINING A CLASSIFIER — CIFAR-10 with the note's CNN, loop, save/load and tests.

Run the demo: ``python -m reference.cifar10 --help``. By default it trains on a
generated CIFAR-10-format data set (see ``reference.cifar10_data``); ``--data DIR`` (or
``CIFAR10_ROOT``) points it at the real one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision.transforms as transforms
from torch.utils.data import DataLoader

from reference import checkpoint, cifar10_data
from reference.checks import check_float_batch
from reference.cifar10_data import CLASSES

#: The note's short names, as its output prints them ("plane", "car").
classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

# 1. Load and normalize: ToTensor maps [0, 255] to [0, 1]; Normalize(0.5, 0.5) to [-1, 1].
transform = transforms.Compose(
    [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
)


# 2. Define a Convolutional Neural Network
class Net(nn.Module):
    """The note's CIFAR-10 CNN, with a check of the input's shape.

    Without the check, ``x.view(-1, 16 * 5 * 5)`` silently regroups a batch of
    wrong-sized images into a different number of rows (or fails deep inside with
    "shape '[-1, 400]' is invalid").
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
    check_float_batch(x, "Net", "(N, 3, 32, 32)", lambda s: tuple(s[1:]) == (3, 32, 32))


# 3. Define a loss function and optimizer
def make_criterion_and_optimizer(net: nn.Module, lr: float = 0.001, momentum: float = 0.9):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    return criterion, optimizer


def make_loaders(root, batch_size: int = 4, seed: int | None = None, num_workers: int = 0):
    """trainloader (shuffled) and testloader (in order), as the tutorial builds them."""
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
    """The note's loop, line for line, returning the logged running losses.

    ``print_every`` is the note's 2000; the printed line keeps the note's
    ``'[%d, %5d] loss: %.3f'`` format. Inputs move to ``device`` every step, as in
    "Training on GPU".
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
    """``_, predicted = torch.max(outputs, 1)``: the class index of each row's maximum."""
    with torch.no_grad():
        outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    return predicted


def collect_predictions(net: nn.Module, loader: Iterable, device="cpu"):
    """(predicted, labels) over a whole loader, under ``torch.no_grad()``."""
    predicted, truth = [], []
    net.eval()
    with torch.no_grad():
        for images, labels in loader:
            outputs = net(images.to(device))
            predicted.append(torch.max(outputs, 1).indices.cpu())
            truth.append(labels)
    return torch.cat(predicted), torch.cat(truth)


def accuracy(net: nn.Module, loader: Iterable, device="cpu") -> float:
    """The note's whole-set accuracy: 100 * correct / total."""
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


def per_class_accuracy_as_in_the_note(net, loader, batch_size_assumed: int = 4):
    """The note's per-class loop, unchanged: it assumes every batch holds exactly 4
    images (``for i in range(4)``) and that ``.squeeze()`` leaves a 1-d tensor.

    Kept to show where it breaks; use ``per_class_accuracy``.
    """
    class_correct = [0.0 for i in range(10)]
    class_total = [0.0 for i in range(10)]
    with torch.no_grad():
        for data in loader:
            images, labels = data
            outputs = net(images)
            _, predicted = torch.max(outputs, 1)
            c = (predicted == labels).squeeze()
            for i in range(batch_size_assumed):
                label = labels[i]
                class_correct[label] += c[i].item()
                class_total[label] += 1
    return class_correct, class_total


def per_class_accuracy(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int = 10):
    """Per-class accuracy (recall) from a confusion matrix built with ``bincount``.

    Returns ``(accuracy per class, confusion matrix)``; a class with no examples gets
    NaN, not a division error.
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
    """``torch.save(net.state_dict(), PATH)``, atomically (``reference.checkpoint``): an
    interrupted save never leaves a half-written PATH or loses the previous one."""
    checkpoint.save_checkpoint(net.state_dict(), path)


def load(path: str | os.PathLike, map_location="cpu") -> Net:
    """``the_model = Net(); the_model.load_state_dict(torch.load(PATH))`` — loading
    tensors only (``weights_only=True``: a checkpoint cannot run code)."""
    the_model = Net()
    the_model.load_state_dict(checkpoint.load_checkpoint(path, map_location=map_location))
    return the_model


# ------------------------------------------------------------------------ the demo
def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available here")
    return torch.device(name)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reference.cifar10",
        description="Train the note's CIFAR-10 CNN (generated data unless --data is given).",
    )
    p.add_argument("--epochs", type=positive_int, default=2)
    p.add_argument("--batch-size", type=positive_int, default=4)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument(
        "--data",
        default=os.environ.get(cifar10_data.REAL_DATA_ENV),
        help="directory holding cifar-10-batches-py/ (real or generated); default: generate "
        f"one under OUT/data (or ${cifar10_data.REAL_DATA_ENV})",
    )
    p.add_argument(
        "--train-size", type=positive_int, default=5000, help="generated training images"
    )
    p.add_argument("--test-size", type=positive_int, default=1000, help="generated test images")
    p.add_argument("--print-every", type=positive_int, default=250, help="the note's 2000")
    p.add_argument("--out", default="reports/cifar10", help="where weights and the plot go")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        device = _device(args.device)
    except ValueError as e:
        parser.error(str(e))
    out = Path(args.out)
    if args.data is not None:
        root = Path(args.data)
        if not (root / cifar10_data.BASE_FOLDER).is_dir():
            parser.error(f"--data {root}: no {cifar10_data.BASE_FOLDER}/ there")
    else:
        root = out / "data"
        if not (root / cifar10_data.BASE_FOLDER).is_dir():
            cifar10_data.write_cifar10(root, args.train_size, args.test_size, seed=args.seed)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        trainloader, testloader = make_loaders(root, args.batch_size, seed=args.seed)
    except (RuntimeError, FileNotFoundError) as e:
        parser.error(str(e))
    net = Net().to(device)  # convert parameters and buffers to CUDA tensors (if any)
    criterion, optimizer = make_criterion_and_optimizer(net)
    print(f"device: {device}, train: {len(trainloader.dataset)}, test: {len(testloader.dataset)}")

    loader = trainloader
    if not args.no_progress:
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            loader = _Progress(trainloader, tqdm)
    start = time.perf_counter()
    log = loader.write if isinstance(loader, _Progress) else print
    losses = train(
        net, loader, criterion, optimizer, args.epochs, args.print_every, device, log=log
    )
    if isinstance(loader, _Progress):
        loader.close()
    seconds = time.perf_counter() - start

    predicted, labels = collect_predictions(net, testloader, device)
    total = 100 * (predicted == labels).double().mean().item()
    print(f"Accuracy of the network on the {len(labels)} test images: {total:.1f} %")
    per_class, _ = per_class_accuracy(predicted, labels)
    for name, acc in zip(classes, per_class.tolist(), strict=True):
        print("Accuracy of %5s : %5.1f %%" % (name, 100 * acc))
    out.mkdir(parents=True, exist_ok=True)
    save(net, out / "cifar_net.pth")
    plot = _plot_losses(losses, args.print_every, out / "loss.png")
    print(f"trained {seconds:.1f} s; saved {out / 'cifar_net.pth'}" + (f", {plot}" if plot else ""))
    return 0


class _Progress:
    """A tqdm bar over the loader that restarts each epoch and can print above itself."""

    def __init__(self, loader, tqdm):
        self.loader, self.tqdm, self.bar = loader, tqdm, None

    def __iter__(self):
        if self.bar is not None:
            self.bar.close()
        self.bar = self.tqdm(self.loader, unit="batch", leave=False, file=sys.stderr)
        return iter(self.bar)

    def __len__(self):
        return len(self.loader)

    def write(self, line: str) -> None:
        (self.tqdm.write if self.bar is not None else print)(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _plot_losses(losses: list[float], every: int, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([every * (i + 1) for i in range(len(losses))], losses, marker="o")
    ax.set_xlabel("mini-batches")
    ax.set_ylabel(f"running loss (mean of {every})")
    ax.set_title("CIFAR-10 Net: training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


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

if __name__ == "__main__":
    raise SystemExit(main())
