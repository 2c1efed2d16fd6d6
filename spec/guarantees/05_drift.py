"""Drift — every idiom of the note that behaves differently today, with the release it changed in.

Beyond the note: each drift row names the note's line it concerns; this checks the rows.

One table (``spec/helpers/drift.py``, which the upgrade report and the atlas read too):
each row names the note's line, the library and release where it changed. Its checks
are here (``CHECKS``, by row): what a user sees on the *installed* release — the old
behaviour before that release, the new one from it on — so this chapter holds on every
supported release.
"""

import importlib
import logging
import sys

import pytest
import torch
from packaging.version import Version

from spec.helpers import releases
from spec.helpers.drift import BY_ID, DRIFT, explain_error, installed

#: Facts about the libraries, release by release: no implementation is involved.
pytestmark = pytest.mark.fact


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

    try:
        module = OldStyle()
    except ValueError as error:
        # a LightningModule imports torch.distributed._shard, which torch 1.13 cannot
        # import under Python 3.11 (one of its dataclasses has a mutable default)
        if "mutable default" not in str(error):
            raise
        pytest.skip(f"no LightningModule builds on torch {torch.__version__} under Python "
                    f"{sys.version_info.major}.{sys.version_info.minor}: {error}")  # fmt: skip
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    trainer = pl.Trainer(
        fast_dev_run=True, accelerator="cpu", enable_progress_bar=False, logger=False,
        enable_model_summary=False,
    )  # fmt: skip
    with pytest.raises(
        NotImplementedError, match=r"`validation_epoch_end` has been removed in v2\.0\.0"
    ):
        trainer.fit(module)


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
        # only pretrainedmodels' and six's own: a module of torch first imported meanwhile
        # (torch._dynamo registers C++ operators) cannot be imported a second time
        for name in set(sys.modules) - set(saved):
            if name.split(".")[0] in ("pretrainedmodels", "six"):
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


def mnist_attributes_warn_and_read_data_and_targets():
    from torchvision.datasets import MNIST

    mnist = MNIST.__new__(MNIST)  # the attributes, without files to load
    mnist.data, mnist.targets, mnist.train = torch.zeros(2, 28, 28), torch.tensor([3, 4]), True
    with pytest.warns(UserWarning, match="train_data has been renamed data"):
        assert mnist.train_data is mnist.data
    with pytest.warns(UserWarning, match="test_labels has been renamed targets"):
        assert mnist.test_labels is mnist.targets


def tsne_refuses_n_iter():
    from sklearn.manifold import TSNE

    with pytest.raises(TypeError, match="unexpected keyword argument 'n_iter'"):
        TSNE(n_iter=300)
    assert TSNE(max_iter=300).max_iter == 300


def inception_family_warns_about_its_initialisation():
    import warnings

    from torchvision import models

    with pytest.warns(FutureWarning, match="default weight initialization of GoogleNet"):
        models.googlenet(num_classes=10, aux_logits=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said which: no warning
        models.googlenet(num_classes=10, aux_logits=False, init_weights=False)


def volatile_does_nothing():
    from torch.autograd import Variable

    with pytest.warns(UserWarning, match="volatile was removed and now has no effect"):
        v = Variable(torch.ones(2), volatile=True)
    assert torch.equal(v, torch.ones(2))  # a plain tensor: volatile changed nothing


def indexing_a_0_dim_tensor_fails():
    loss = torch.tensor(1.5)
    with pytest.raises(IndexError, match="invalid index of a 0-dim tensor"):
        loss.data[0]
    assert loss.item() == 1.5


def size_average_warns_and_maps_to_reduction():
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        criterion = torch.nn.MSELoss(size_average=False)
    assert criterion.reduction == "sum"


def softmax_without_dim_warns():
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        torch.nn.functional.softmax(torch.ones(2, 3))


def upsample_warns_and_interpolates():
    x = torch.arange(4.0).reshape(1, 1, 2, 2)
    # (2.0.1 names it without the backquotes)
    with pytest.warns(UserWarning, match=r"nn\.functional\.upsample`? is deprecated"):
        old = torch.nn.functional.upsample(x, scale_factor=2)
    assert torch.equal(old, torch.nn.functional.interpolate(x, scale_factor=2))


def init_without_underscore_warns():
    # a UserWarning on 2.0.1 (without the backquotes), a FutureWarning on 2.9.1 and later
    with pytest.warns((UserWarning, FutureWarning), match=r"nn\.init\.xavier_uniform`? is now"):
        torch.nn.init.xavier_uniform(torch.empty(3, 3))


def numpy_builtin_aliases_are_gone():
    import numpy as np

    for alias in ("float", "int", "object"):  # (np.bool is back since NumPy 2.0)
        with pytest.raises(AttributeError, match=f"module 'numpy' has no attribute '{alias}'"):
            getattr(np, alias)


def cuda_amp_warns_to_use_torch_amp():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.amp.autocast()
    messages = [str(w.message) for w in caught if w.category is FutureWarning]
    assert any("torch.cuda.amp.autocast(args...)` is deprecated" in m for m in messages)


def old_linear_algebra_is_removed():
    a = torch.tensor([[2.0, 1.0], [1.0, 2.0]])
    with pytest.raises(RuntimeError, match=r"deprecated since version 1\.9 and is now removed"):
        torch.symeig(a, eigenvectors=True)
    torch.testing.assert_close(torch.linalg.eigvalsh(a), torch.tensor([1.0, 3.0]))


def scale_and_random_sized_crop_are_gone():
    from torchvision import transforms

    assert not hasattr(transforms, "Scale")
    assert not hasattr(transforms, "RandomSizedCrop")
    assert transforms.Resize(32).size == 32


def clip_grad_norm_without_underscore_warns():
    layer = torch.nn.Linear(2, 1)
    layer(torch.ones(1, 2)).sum().backward()
    with pytest.warns((UserWarning, FutureWarning), match="clip_grad_norm`? is now deprecated"):
        torch.nn.utils.clip_grad_norm(layer.parameters(), 1.0)


def scalar_first_add_warns_and_still_adds():
    w = torch.ones(3)
    with pytest.warns(UserWarning, match="This overload of add_ is deprecated"):
        w.add_(-0.5, torch.ones(3))
    torch.testing.assert_close(w, torch.full((3,), 0.5))


def uint8_mask_warns_and_selects_as_bool():
    x = torch.tensor([1.0, -2.0, 3.0])
    with pytest.warns(UserWarning, match="indexing with dtype torch.uint8 is now deprecated"):
        picked = x[torch.tensor([1, 0, 1], dtype=torch.uint8)]
    assert picked.tolist() == [1.0, 3.0]
    assert (x > 0).dtype == torch.bool


def optimizer_and_scheduler(lr=0.1):
    layer = torch.nn.Linear(2, 1)
    optimizer = torch.optim.SGD(layer.parameters(), lr=lr)
    return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)


def scheduler_before_optimizer_warns():
    optimizer, scheduler = optimizer_and_scheduler()
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler\.step\(\)` before"):
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == 0.05  # the first learning rate skipped


def scheduler_step_with_epoch_warns():
    optimizer, scheduler = optimizer_and_scheduler()
    optimizer.step()
    with pytest.warns(UserWarning, match="The epoch parameter in `scheduler.step\\(\\)`"):
        scheduler.step(1)


def set_default_tensor_type_warns():
    before = torch.get_default_dtype()
    try:
        with pytest.warns(UserWarning, match=r"set_default_tensor_type\(\) is deprecated"):
            torch.set_default_tensor_type(torch.FloatTensor)
    finally:
        torch.set_default_dtype(before)


def set_default_tensor_type_is_silent():
    import warnings

    before = torch.get_default_dtype()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            torch.set_default_tensor_type(torch.FloatTensor)
    finally:
        torch.set_default_dtype(before)


def torch_six_is_gone():
    with pytest.raises(ModuleNotFoundError, match=r"torch\._six"):
        importlib.import_module("torch._six")


def models_utils_is_gone():
    with pytest.raises(ModuleNotFoundError, match=r"torchvision\.models\.utils"):
        importlib.import_module("torchvision.models.utils")
    assert callable(torch.hub.load_state_dict_from_url)


def functional_tensor_is_gone():
    with pytest.raises(ModuleNotFoundError, match=r"transforms\.functional_tensor"):
        importlib.import_module("torchvision.transforms.functional_tensor")


def functional_tensor_warns():
    sys.modules.pop("torchvision.transforms.functional_tensor", None)
    with pytest.warns(UserWarning, match="functional_tensor module is deprecated"):
        importlib.import_module("torchvision.transforms.functional_tensor")


def legacy_autograd_function_fails():
    import warnings

    class Legacy(torch.autograd.Function):
        def forward(self, x):  # the pre-1.3 style: an instance, no ctx
            return x.clamp(min=0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # "should not be instantiated"
        with pytest.raises(RuntimeError, match="Legacy autograd function with non-static"):
            Legacy()(torch.ones(2, requires_grad=True))


def numpy_function_of_a_tensor(*, warns: bool):
    import warnings

    import numpy as np

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = np.exp(torch.zeros(3))
    torch.testing.assert_close(result, torch.ones(3))  # still a tensor, still right
    said = [w for w in caught if "__array_wrap__ must accept context" in str(w.message)]
    assert bool(said) == warns, [str(w.message) for w in caught]


def numpy_2_warns_on_a_tensor():
    numpy_function_of_a_tensor(warns=True)


def numpy_1_takes_a_tensor_silently():
    numpy_function_of_a_tensor(warns=False)


def tensors_print_as_tensor():
    printed = repr(torch.ones(2, 2, requires_grad=True))
    assert printed.startswith("tensor([[1., 1.],"), printed
    assert printed.endswith("requires_grad=True)"), printed
    assert "FloatTensor of size" not in str(torch.ones(2, 2))


def activations_print_inplace_true():
    assert repr(torch.nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(torch.nn.ReLU()) == "ReLU()"


def torchtext_does_not_load():
    # not installed; or installed, and built for an older torch (ImportError, OSError)
    with pytest.raises((ImportError, OSError), match="torchtext"):
        importlib.import_module("torchtext")


def set_matplotlib_formats_is_gone():
    display = importlib.import_module("IPython.display")
    assert not hasattr(display, "set_matplotlib_formats")
    backend = importlib.import_module("matplotlib_inline.backend_inline")
    assert callable(backend.set_matplotlib_formats)


def batchnorm_prints_bias():
    assert "affine=True, bias=True, track_running_stats=True" in repr(torch.nn.BatchNorm2d(4))


def dropout_prints_inplace():
    assert repr(torch.nn.Dropout(0.5)) == "Dropout(p=0.5, inplace=False)"


def vgg_and_resnet_pool_adaptively():
    from torchvision import models

    # init_weights=False: VGG's own normal draws over its 129 M weights are skipped (0.4 s of
    # 0.9); only the layers' kinds are asked
    vgg = models.vgg11(num_classes=10, init_weights=False)
    assert isinstance(vgg.avgpool, torch.nn.AdaptiveAvgPool2d)
    assert isinstance(models.resnet18(num_classes=10).avgpool, torch.nn.AdaptiveAvgPool2d)


def linear_prints_bias():
    assert repr(torch.nn.Linear(30, 40)) == "Linear(in_features=30, out_features=40, bias=True)"


#: Each row's checks: (the new behaviour, the old one where it can be checked).
CHECKS = {
    "dataiter.next() is gone": (dataiter_next_is_gone, None),
    "pytorch_lightning.metrics is gone": (lightning_metrics_is_gone, None),
    "torch.load defaults to weights_only=True": (
        torch_load_is_weights_only,
        torch_load_is_not_weights_only,
    ),
    "grad_fn names end in a number": (grad_fn_has_numeric_suffix, None),
    "zero_grad() sets gradients to None": (zero_grad_sets_none, zero_grad_sets_zeros),
    "pretrained=True became weights=": (pretrained_keyword_is_deprecated, None),
    "Lightning 2.0 removed Trainer arguments and *_epoch_end hooks": (
        lightning_2_removed_trainer_arguments_and_epoch_end_hooks,
        None,
    ),
    "torch.max(x, dim) returns a named tuple": (torch_max_returns_a_named_tuple, None),
    "pretrainedmodels needs six (undeclared)": (pretrainedmodels_needs_six, None),
    "SummaryWriter.add_graph warns: torch.jit.trace is deprecated": (
        add_graph_warns_future_warning,
        add_graph_warned_deprecation_or_nothing,
    ),
    "clamp(min=0) passes no gradient at exactly 0": (
        clamp_passes_no_gradient_at_zero,
        clamp_passed_gradient_one_at_zero,
    ),
    "MNIST's train_data and train_labels became data and targets": (
        mnist_attributes_warn_and_read_data_and_targets,
        None,
    ),
    "scikit-learn's TSNE(n_iter=) became max_iter=": (tsne_refuses_n_iter, None),
    "inception_v3 and GoogLeNet warn that their default initialisation will change": (
        inception_family_warns_about_its_initialisation,
        None,
    ),
    "Variable(volatile=True) does nothing": (volatile_does_nothing, None),
    "loss.data[0] on a 0-dim tensor is an error": (indexing_a_0_dim_tensor_fails, None),
    "size_average= and reduce= became reduction=": (size_average_warns_and_maps_to_reduction, None),
    "softmax without dim= is deprecated": (softmax_without_dim_warns, None),
    "F.upsample became F.interpolate": (upsample_warns_and_interpolates, None),
    "nn.init functions gained a trailing underscore": (init_without_underscore_warns, None),
    "NumPy removed np.float, np.int and the other builtin aliases": (
        numpy_builtin_aliases_are_gone,
        None,
    ),
    "torch.cuda.amp moved to torch.amp": (cuda_amp_warns_to_use_torch_amp, None),
    "Linear prints bias=True": (linear_prints_bias, None),
    "BatchNorm prints bias=True": (batchnorm_prints_bias, None),
    "Dropout prints inplace=False": (dropout_prints_inplace, None),
    "torchvision's VGG and ResNet pool adaptively": (vgg_and_resnet_pool_adaptively, None),
    "IPython.display.set_matplotlib_formats is gone": (set_matplotlib_formats_is_gone, None),
    "torchtext stopped at torch 2.3": (torchtext_does_not_load, None),
    "tensors print as tensor(...)": (tensors_print_as_tensor, None),
    "activations print inplace=True": (activations_print_inplace_true, None),
    "NumPy 2 warns when its functions are given a tensor": (
        numpy_2_warns_on_a_tensor,
        numpy_1_takes_a_tensor_silently,
    ),
    "torch's own linear algebra moved to torch.linalg": (old_linear_algebra_is_removed, None),
    "transforms.Scale and RandomSizedCrop became Resize and RandomResizedCrop": (
        scale_and_random_sized_crop_are_gone,
        None,
    ),
    "nn.utils.clip_grad_norm gained a trailing underscore": (
        clip_grad_norm_without_underscore_warns,
        None,
    ),
    "add_(scalar, tensor) became add_(tensor, alpha=scalar)": (
        scalar_first_add_warns_and_still_adds,
        None,
    ),
    "uint8 masks became bool masks": (uint8_mask_warns_and_selects_as_bool, None),
    "lr_scheduler.step() comes after optimizer.step()": (scheduler_before_optimizer_warns, None),
    "scheduler.step(epoch) is deprecated": (scheduler_step_with_epoch_warns, None),
    "torch.set_default_tensor_type is deprecated": (
        set_default_tensor_type_warns,
        set_default_tensor_type_is_silent,
    ),
    "torch._six is gone": (torch_six_is_gone, None),
    "torchvision.models.utils is gone": (models_utils_is_gone, None),
    "transforms.functional_tensor is gone": (functional_tensor_is_gone, functional_tensor_warns),
    "autograd.Function needs static forward and backward": (legacy_autograd_function_fails, None),
}


@pytest.mark.parametrize("drift", DRIFT, ids=[d.id for d in DRIFT])
def test_the_installed_release_shows_the_behaviour_its_version_predicts(drift, record_property):
    """Each drift row holds on the installed release: the new behaviour from `changed_in` on, the old one before.

    (The note as a whole, written in 2020 for torch ~1.5; each row's own line is
    checked against the note below.)
    """
    version = installed(drift.library)
    if version is None:
        pytest.skip(f"{drift.library} is not installed")
    # What was seen, for the upgrade report (spec/tools/compare.py): which side of the
    # change this release is on, checked.
    record_property("release", f"{drift.library} {version}")
    check_new, check_old = CHECKS[drift.id]
    if version >= Version(drift.changed_in):
        check_new()
        record_property("observed", "new behaviour")
    elif check_old is not None:
        check_old()
        record_property("observed", "old behaviour")
    else:
        pytest.skip(
            f"{drift.library} {version} predates {drift.changed_in}; old behaviour not pinned"
        )


@pytest.mark.parametrize("drift", DRIFT, ids=[d.id for d in DRIFT])
def test_each_drift_row_quotes_the_note_and_names_a_release(drift):
    """Every row quotes a line that is in the note, or names the old tutorial it was found
    in (a change the note never meets); and names a parseable release."""
    from spec.helpers import note

    if drift.note is None:
        assert drift.seen_in, f"{drift.id}: neither the note's line nor where it was seen"
    else:
        assert note.is_in_note(drift.note), drift.note
    Version(drift.changed_in)
    assert drift.now


def test_every_drift_row_has_its_checks_here():
    """Each row of the table has its checks in ``CHECKS``, and no check is left without a row."""
    assert sorted(CHECKS) == sorted(d.id for d in DRIFT)


# ---------------------------------------------------------------- explaining what old code shows
#: For each row that shows a sign (an error or a warning), the old idiom in a few lines,
#: as a 2019-2021 tutorial writes it: run today, what it raises or warns must be
#: explained by that row, and by no other (the matcher any old note will go through).
OLD_IDIOMS = {
    "dataiter.next() is gone": (
        "import torch\n"
        "loader = torch.utils.data.DataLoader(list(range(8)), batch_size=4)\n"
        "dataiter = iter(loader)\n"
        "images = dataiter.next()\n"
    ),
    "pytorch_lightning.metrics is gone": (
        "from pytorch_lightning.metrics.functional import accuracy\n"
    ),
    "torch.load defaults to weights_only=True": (
        "import io, torch\n"
        "buffer = io.BytesIO()\n"
        "torch.save({'epoch': 3, 'loss_fn': len}, buffer)\n"
        "buffer.seek(0)\n"
        "checkpoint = torch.load(buffer)\n"
    ),
    "pretrained=True became weights=": (
        "import torchvision\n"
        "model = torchvision.models.resnet18(pretrained=False)\n"
    ),
    "Lightning 2.0 removed Trainer arguments and *_epoch_end hooks": (
        "import pytorch_lightning as pl\n"
        "trainer = pl.Trainer(gpus=1, max_epochs=1)\n"
    ),
    "pretrainedmodels needs six (undeclared)": (
        "import sys\n"
        "for name in [m for m in sys.modules if m.split('.')[0] in ('six', 'pretrainedmodels')]:\n"
        "    del sys.modules[name]\n"
        "sys.modules['six'] = None  # a fresh venv: pip does not install six for it\n"
        "import pretrainedmodels\n"
    ),
    "MNIST's train_data and train_labels became data and targets": (
        "import torchvision\n"
        "train_data = torchvision.datasets.MNIST(root='./mnist', train=True, download=True)\n"
        "print(train_data.train_data.size(), train_data.train_labels.size())\n"
    ),
    "scikit-learn's TSNE(n_iter=) became max_iter=": (
        "from sklearn.manifold import TSNE\n"
        "tsne = TSNE(perplexity=30, n_components=2, init='pca', n_iter=5000)\n"
    ),
    "inception_v3 and GoogLeNet warn that their default initialisation will change": (
        "import torchvision\n"
        "model = torchvision.models.googlenet(num_classes=10, aux_logits=False)\n"
    ),
    "Variable(volatile=True) does nothing": (
        "import torch\nfrom torch.autograd import Variable\n"
        "images = Variable(torch.randn(4, 3), volatile=True)\n"
    ),
    "loss.data[0] on a 0-dim tensor is an error": (
        "import torch\nloss = torch.nn.MSELoss()(torch.ones(3), torch.zeros(3))\n"
        "running_loss = 0.0\nrunning_loss += loss.data[0]\n"
    ),
    "size_average= and reduce= became reduction=": (
        "import torch.nn as nn\ncriterion = nn.CrossEntropyLoss(size_average=False)\n"
    ),
    "softmax without dim= is deprecated": (
        "import torch\nimport torch.nn.functional as F\nprobs = F.softmax(torch.randn(4, 10))\n"
    ),
    "F.upsample became F.interpolate": (
        "import torch\nimport torch.nn.functional as F\n"
        "up = F.upsample(torch.randn(1, 3, 8, 8), scale_factor=2, mode='nearest')\n"
    ),
    "nn.init functions gained a trailing underscore": (
        "import torch.nn as nn\nconv = nn.Conv2d(3, 6, 5)\nnn.init.xavier_uniform(conv.weight)\n"
    ),
    "NumPy removed np.float, np.int and the other builtin aliases": (
        "import numpy as np\nlabels = np.array([1, 2, 3]).astype(np.int)\n"
    ),
    "torch.cuda.amp moved to torch.amp": (
        "import torch\nscaler = torch.cuda.amp.GradScaler()\n"
    ),
    "SummaryWriter.add_graph warns: torch.jit.trace is deprecated": (
        "import tempfile\n"
        "from torch.utils.tensorboard import SummaryWriter\n"
        "writer = SummaryWriter(tempfile.mkdtemp())\n"
        "import torch\n"
        "writer.add_graph(torch.nn.Linear(3, 2), torch.randn(1, 3))\n"
        "writer.close()\n"
    ),
    "NumPy 2 warns when its functions are given a tensor": (
        "import numpy as np\nimport torch\nx = torch.linspace(-5, 5, 11)\n"
        "sigmoid = 1 / (1 + np.exp(-x))\n"
    ),
    "torch's own linear algebra moved to torch.linalg": (
        "import torch\nA = torch.randn(4, 4)\nA = A @ A.t()\n"
        "e, V = torch.symeig(A, eigenvectors=True)\n"
    ),
    "transforms.Scale and RandomSizedCrop became Resize and RandomResizedCrop": (
        "import torchvision.transforms as transforms\n"
        "transform = transforms.Compose([transforms.Scale(256), transforms.RandomSizedCrop(224),\n"
        "                                transforms.ToTensor()])\n"
    ),
    "nn.utils.clip_grad_norm gained a trailing underscore": (
        "import torch\nrnn = torch.nn.LSTM(4, 8)\nout, _ = rnn(torch.randn(5, 1, 4))\n"
        "out.sum().backward()\ntorch.nn.utils.clip_grad_norm(rnn.parameters(), 0.25)\n"
    ),
    "add_(scalar, tensor) became add_(tensor, alpha=scalar)": (
        "import torch\nlr = 0.01\nmodel = torch.nn.Linear(3, 1)\n"
        "model(torch.randn(2, 3)).sum().backward()\n"
        "for p in model.parameters():\n    p.data.add_(-lr, p.grad.data)\n"
    ),
    "uint8 masks became bool masks": (
        "import torch\nx = torch.randn(10)\nmask = (x > 0).type(torch.ByteTensor)\n"
        "positives = x[mask]\n"
    ),
    "lr_scheduler.step() comes after optimizer.step()": (
        "import torch\nmodel = torch.nn.Linear(3, 1)\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)\n"
        "for epoch in range(2):\n    scheduler.step()\n"
        "    model(torch.randn(2, 3)).sum().backward()\n    optimizer.step()\n"
    ),
    "scheduler.step(epoch) is deprecated": (
        "import torch\nmodel = torch.nn.Linear(3, 1)\n"
        "optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, gamma=0.1)\n"
        "for epoch in range(2):\n    optimizer.step()\n    scheduler.step(epoch)\n"
    ),
    "torch.set_default_tensor_type is deprecated": (
        "import torch\ntorch.set_default_tensor_type('torch.FloatTensor')\n"
    ),
    "torch._six is gone": (
        "from torch._six import string_classes, int_classes\n"
    ),
    "torchvision.models.utils is gone": (
        "from torchvision.models.utils import load_state_dict_from_url\n"
    ),
    "transforms.functional_tensor is gone": (
        "from torchvision.transforms.functional_tensor import rgb_to_grayscale\n"
    ),
    "torchtext stopped at torch 2.3": (
        "import torchtext\nfrom torchtext.data.utils import get_tokenizer\n"
    ),
    "IPython.display.set_matplotlib_formats is gone": (
        "from IPython import display\nfrom matplotlib import pyplot as plt\n"
        "display.set_matplotlib_formats('svg')\nplt.rcParams['figure.figsize'] = (3.5, 2.5)\n"
    ),
    "autograd.Function needs static forward and backward": (
        "import torch\n"
        "class MyReLU(torch.autograd.Function):\n"
        "    def forward(self, input):\n"
        "        self.save_for_backward(input)\n"
        "        return input.clamp(min=0)\n"
        "    def backward(self, grad_output):\n"
        "        input, = self.saved_tensors\n"
        "        grad_input = grad_output.clone()\n"
        "        grad_input[input < 0] = 0\n"
        "        return grad_input\n"
        "relu = MyReLU()\n"
        "y = relu(torch.randn(4, requires_grad=True))\n"
    ),
}  # fmt: skip


@pytest.mark.parametrize("row", sorted(OLD_IDIOMS))
def test_each_rows_old_idiom_is_explained_by_its_row(row, tmp_path):
    """The old idiom, run today through ``make explain`` (spec/tools/explain.py: in a child
    process, offline data where it downloads), raises or warns what its row's signs
    describe; nothing it raises or warns is explained by another row; and where the row
    has a mechanical fix, the repaired idiom runs without an error or a warning (but what
    this machine lacks)."""
    from spec.tools import explain

    drift = BY_ID[row]
    if installed(drift.library) is None:
        pytest.skip(f"{drift.library} is not installed")
    if installed(drift.library) < Version(drift.changed_in):
        pytest.skip(f"{drift.library} {installed(drift.library)} predates {drift.changed_in}")
    path = tmp_path / "old_idiom.py"
    path.write_text(OLD_IDIOMS[row], encoding="utf-8")
    outcomes = explain.run(explain.read_blocks(path), path, time_limit=60)
    seen = [s for o in outcomes for s in o.seen]
    shown = [f"{s.kind}: {s.message}" for s in seen]
    assert [row] in [s.rows for s in seen], f"nothing it showed is explained by its row: {shown}"
    others = {r for s in seen for r in s.rows} - {row}
    assert not others, f"also explained by {others}: {shown}"
    if drift.fixes:  # and its mechanical fix, applied by explain, makes the idiom run clean
        (outcome,) = outcomes
        assert outcome.repairs, f"the row's fix rewrote nothing in {OLD_IDIOMS[row]!r}"
        # (what this machine lacks may still show: a GradScaler with no GPU says so)
        still = [f"{s.kind}: {s.message}" for s in outcome.after_repair_seen if not s.environment]
        said = f"repaired as {outcome.repairs}, it {outcome.after_repair}: {still}"
        assert outcome.after_repair in ("ran", "warned"), said
        assert not still, said


def test_every_row_that_shows_a_sign_has_its_old_idiom():
    """The rows with signs and the old idioms are the same set: a new row brings its idiom."""
    assert sorted(OLD_IDIOMS) == sorted(d.id for d in DRIFT if d.signs)


def test_what_no_row_knows_is_left_unexplained():
    """An error or a warning no row describes is explained by none: that is where the
    table grows."""
    assert explain_error(ValueError("a tutorial's own bug")) == []
    assert explain_error(AttributeError("'Tensor' object has no attribute 'nxt'")) == []
    assert explain_error(ModuleNotFoundError("No module named 'pytorch_lightning'")) == []
