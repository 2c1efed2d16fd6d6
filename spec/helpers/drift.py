"""The drift table: every idiom of the note that behaves differently today, by release.

Each row names the note's line, the library and release where it changed, and checks
what a user sees on the *installed* release (the new behaviour from ``changed_in`` on,
the old one before, where checkable). The drift chapter (spec/guarantees/05_drift.py)
runs the checks; the note-executed chapter (spec/note/17_the_note_executed.py) names the
row that explains each block that fails as written.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from packaging.version import Version

from spec.helpers import releases


def installed(name: str) -> Version | None:
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return Version(str(module.__version__).split("+")[0])


@dataclass(frozen=True)
class Drift:
    id: str
    library: str  # import name whose version gates the change
    changed_in: str
    note: str  # the note's line, verbatim
    now: str  # what a user sees from `changed_in` on
    check_new: Callable[[], None]
    check_old: Callable[[], None] | None = None  # before `changed_in`, where checkable


# ---------------------------------------------------------------- the checks
def dataiter_next_is_gone():
    loader = torch.utils.data.DataLoader(list(range(8)), batch_size=4)
    it = iter(loader)
    with pytest.raises(AttributeError, match="has no attribute 'next'"):
        it.next()
    assert next(it).tolist() == [0, 1, 2, 3]


def lightning_metrics_is_gone():
    with pytest.raises(ModuleNotFoundError, match=r"pytorch_lightning\.metrics"):
        importlib.import_module("pytorch_lightning.metrics.functional")


def torch_load_is_weights_only():
    import io
    import pickle

    buffer = io.BytesIO()
    torch.save({"fn": len}, buffer)  # a builtin function: not a tensor
    buffer.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        torch.load(buffer)


def torch_load_is_not_weights_only():
    import io

    buffer = io.BytesIO()
    torch.save({"fn": len}, buffer)
    buffer.seek(0)
    assert torch.load(buffer)["fn"] is len


def grad_fn_has_numeric_suffix():
    x = torch.ones(2, requires_grad=True)
    loss = torch.nn.MSELoss()(x, torch.zeros(2))
    assert type(loss.grad_fn).__name__ == "MseLossBackward0"


def zero_grad_sets_none():
    net = torch.nn.Linear(2, 1)
    net(torch.ones(1, 2)).sum().backward()
    net.zero_grad()
    assert net.weight.grad is None


def zero_grad_sets_zeros():
    net = torch.nn.Linear(2, 1)
    net(torch.ones(1, 2)).sum().backward()
    net.zero_grad()
    assert net.weight.grad is not None
    assert bool((net.weight.grad == 0).all())


def pretrained_keyword_is_deprecated():
    from torchvision import models

    with pytest.warns(UserWarning, match="'pretrained' is deprecated since 0.13"):
        models.resnet18(pretrained=False)


def lightning_2_removed_trainer_arguments_and_epoch_end_hooks():
    import pytorch_lightning as pl

    for old in ({"gpus": 1}, {"progress_bar_refresh_rate": 1}, {"weights_summary": None}):
        with pytest.raises(TypeError, match="unexpected keyword argument"):
            pl.Trainer(**old)

    class OldStyle(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(2, 1)

        def training_step(self, batch, batch_idx):
            return self.layer(batch).sum()

        def validation_step(self, batch, batch_idx):
            return self.layer(batch).sum()

        def validation_epoch_end(self, outputs):  # Lightning 1.x hook
            pass

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

        def train_dataloader(self):
            return torch.utils.data.DataLoader(torch.ones(4, 2), batch_size=2)

        def val_dataloader(self):
            return torch.utils.data.DataLoader(torch.ones(4, 2), batch_size=2)

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    trainer = pl.Trainer(
        fast_dev_run=True, accelerator="cpu", enable_progress_bar=False, logger=False,
        enable_model_summary=False,
    )  # fmt: skip
    with pytest.raises(
        NotImplementedError, match=r"`validation_epoch_end` has been removed in v2\.0\.0"
    ):
        trainer.fit(OldStyle())


def torch_max_returns_a_named_tuple():
    result = torch.max(torch.tensor([[1.0, 3.0, 2.0]]), 1)
    assert type(result).__module__ == "torch.return_types"
    assert result.indices.tolist() == [1]
    assert result.values.tolist() == [3.0]


def pretrainedmodels_needs_six():
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    try:
        declared = {Requirement(r).name for r in requires("pretrainedmodels") or []}
    except PackageNotFoundError:
        pytest.skip("pretrainedmodels is not installed")
    assert "six" not in declared
    saved = dict(sys.modules)
    try:
        for name in [m for m in sys.modules if m.split(".")[0] in ("pretrainedmodels", "six")]:
            del sys.modules[name]
        sys.modules["six"] = None
        with pytest.raises(ModuleNotFoundError, match="six"):
            importlib.import_module("pretrainedmodels")
    finally:
        for name in set(sys.modules) - set(saved):
            del sys.modules[name]
        sys.modules.update(saved)


def add_graph_jit_warnings() -> set[type]:
    import tempfile

    from torch.utils.tensorboard import SummaryWriter

    with tempfile.TemporaryDirectory() as logdir, SummaryWriter(logdir) as writer:
        return releases.add_graph_jit_warnings(writer, torch.nn.Linear(2, 1), torch.ones(1, 2))


def add_graph_warns_future_warning():
    assert add_graph_jit_warnings() == {FutureWarning}


def add_graph_warned_deprecation_or_nothing():
    # before 2.14: a DeprecationWarning from 2.10 on, nothing before (spec/helpers/releases.py)
    assert add_graph_jit_warnings() == releases.add_graph_jit_warning_expected(installed("torch"))


def clamp_gradient_at_zero() -> float:
    x = torch.zeros(1, requires_grad=True)
    x.clamp(min=0).sum().backward()
    return x.grad.item()


def clamp_passes_no_gradient_at_zero():
    assert clamp_gradient_at_zero() == 0.0


def clamp_passed_gradient_one_at_zero():
    # bisected on the CPU: 1 on 2.9.1 and 2.13.0, 0 on 2.14.0 and 2.14.1
    assert clamp_gradient_at_zero() == 1.0


DRIFT = [
    Drift(
        "dataiter.next() is gone", "torch", "1.13",
        "images, labels = dataiter.next() # 4 images, (4,3,32,32)",
        "AttributeError: '_SingleProcessDataLoaderIter' object has no attribute 'next'; use next(dataiter)",
        dataiter_next_is_gone,
    ),
    Drift(
        "pytorch_lightning.metrics is gone", "pytorch_lightning", "1.5",
        "from pytorch_lightning.metrics.functional import accuracy",
        "ModuleNotFoundError; use torchmetrics.functional.accuracy(..., task='multiclass', num_classes=10)",
        lightning_metrics_is_gone,
    ),
    Drift(
        "torch.load defaults to weights_only=True", "torch", "2.6",
        "the_model.load_state_dict(torch.load(PATH))",
        "a state_dict loads as before; any other pickled object raises UnpicklingError",
        torch_load_is_weights_only, torch_load_is_not_weights_only,
    ),
    Drift(
        "grad_fn names end in a number", "torch", "1.10",
        "tensor(0.9145, grad_fn=<MseLossBackward>)",
        "grad_fn=<MseLossBackward0>",
        grad_fn_has_numeric_suffix,
    ),
    Drift(
        "zero_grad() sets gradients to None", "torch", "2.0",
        "tensor([0., 0., 0., 0., 0., 0.])",
        "conv1.bias.grad is None after net.zero_grad() (set_to_none=True by default)",
        zero_grad_sets_none, zero_grad_sets_zeros,
    ),
    Drift(
        "pretrained=True became weights=", "torchvision", "0.13",
        "[torchvision.models](https://ptorch.com/docs/1/models)",
        "UserWarning: 'pretrained' is deprecated since 0.13; pass weights=ResNet18_Weights.IMAGENET1K_V1",
        pretrained_keyword_is_deprecated,
    ),
    Drift(
        "Lightning 2.0 removed Trainer arguments and *_epoch_end hooks", "pytorch_lightning", "2.0",
        "self.log('val_loss', loss, prog_bar=True)",
        "TypeError for gpus=, progress_bar_refresh_rate=, weights_summary=; NotImplementedError for validation_epoch_end",
        lightning_2_removed_trainer_arguments_and_epoch_end_hooks,
    ),
    Drift(
        "torch.max(x, dim) returns a named tuple", "torch", "1.1",
        "torch.max(input, dim, keepdim=False, out=None) -> (Tensor, LongTensor)",
        "torch.return_types.max(values=..., indices=...), still unpackable as a pair",
        torch_max_returns_a_named_tuple,
    ),
    Drift(
        "pretrainedmodels needs six (undeclared)", "pretrainedmodels", "0.7.4",
        "[pretrained-models.pytorch](https://github.com/Cadene/pretrained-models.pytorch)",
        "import pretrainedmodels fails with ModuleNotFoundError unless six is installed",
        pretrainedmodels_needs_six,
    ),
    Drift(
        "SummaryWriter.add_graph warns: torch.jit.trace is deprecated", "torch", "2.14",
        "https://pytorch.org/tutorials/intermediate/tensorboard_tutorial.html",
        "a FutureWarning (shown to every user) from torch.jit.trace inside add_graph; 2.10-2.13 raised a DeprecationWarning (hidden outside __main__), 2.9.1 none",
        add_graph_warns_future_warning, add_graph_warned_deprecation_or_nothing,
    ),
    Drift(
        "clamp(min=0) passes no gradient at exactly 0", "torch", "2.14",
        "h_relu = self.linear1(x).clamp(min=0)",
        "d/dx clamp(x, min=0) at x == 0 is 0 (like ReLU); it was 1 up to 2.13 (2.9.1 and 2.13.0 checked; 0 from 2.14.0)",
        clamp_passes_no_gradient_at_zero, clamp_passed_gradient_one_at_zero,
    ),
]  # fmt: skip


BY_ID = {row.id: row for row in DRIFT}


def has_changed(row: Drift) -> bool | None:
    """True where the installed release shows the new behaviour of ``row``, False where the
    old, None where its library is not installed."""
    version = installed(row.library)
    return None if version is None else version >= Version(row.changed_in)
