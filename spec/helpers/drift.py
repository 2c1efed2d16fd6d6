"""The drift table: the project's one source of release knowledge.

``DRIFT``: every idiom that behaves differently today, by release — the note's own lines,
and the changes that stop other old tutorials. Each row names the library and release
where it changed, what a user sees from then on, how old code shows it (errors, warnings,
printed output) and the mechanical fix where there is one. The drift chapter
(spec/guarantees/05_drift.py) checks each row on the *installed* release (the new
behaviour from ``changed_in`` on, the old one before, where checkable); the note-executed
chapter, ``make explain``, the upgrade report and the atlas read the rows.

``GATES``: the releases where something the spec relies on arrived (a test that needs it
skips before, naming why), and the pins an older release needs to install at all.

No other module of spec/ names a release: a chapter asks ``changed(row id)`` or
``GATES[name].met()`` (spec/meta/test_release_literals.py keeps it so).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import sys
from dataclasses import dataclass

from packaging.version import Version


def version_of(name: str) -> Version | None:
    """The installed release of the library imported as ``name``, without its local tag
    (``2.14.1+cu130`` -> ``2.14.1``); None where it is not installed.

    Read from the package's metadata, not by importing it: a release gate evaluated at
    collection would otherwise import Lightning (over a second) in every pytest process.
    A package without metadata, or whose distribution name the import name does not
    lead to, is imported to read its ``__version__``."""
    module = sys.modules.get(name)
    if module is None and importlib.util.find_spec(name) is not None:
        for distribution in _distributions().get(name, ()):
            try:
                return Version(importlib.metadata.version(distribution).split("+")[0])
            except importlib.metadata.PackageNotFoundError:
                continue
    try:
        module = module or importlib.import_module(name)
    except ImportError:
        return None
    return Version(str(module.__version__).split("+")[0])


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """{import name: the distributions that provide it}."""
    return importlib.metadata.packages_distributions()


def installed(library: str) -> Version | None:
    """The installed release of ``library`` (None where it is missing): read from its
    metadata, so that the atlas's installer reads the gates without importing torch."""
    return version_of(library)


@dataclass(frozen=True)
class Sign:
    """How the change shows when old code meets it: an error or a warning (``what``) of the
    class named ``kind`` (or a subclass) whose message matches the regex ``message``."""

    what: str  # "error" or "warning"
    kind: str
    message: str


@dataclass(frozen=True)
class Drift:
    id: str
    library: str  # import name whose version gates the change
    changed_in: str
    note: str | None  # the note's line, verbatim; None for a change the note never meets
    now: str  # what a user sees from `changed_in` on
    #: what old code raises or warns from `changed_in` on; none where the change shows
    #: only in what it prints or computes
    signs: tuple[Sign, ...] = ()
    #: a row the note never meets: the old tutorial that showed it (repo, commit, path)
    #: and where the change was made
    seen_in: str = ""
    #: the mechanical fix, where there is one: (regex, replacement) pairs that make old
    #: code new (make explain applies them to a block where the row fired)
    fixes: tuple[tuple[str, str], ...] = ()
    #: how the change shows in printed output: (a pattern of the line the old release
    #: printed, a pattern of the line printed today)
    outputs: tuple[tuple[str, str], ...] = ()
    #: the TorchFix rule that flags the same idiom, where one does
    torchfix: str = ""
    #: a change made in steps: (release, what a user sees from it on), oldest first; the
    #: last step is ``changed_in``
    stages: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Gate:
    """A release something arrived in: ``library`` at ``release`` or newer, and why it
    matters (what a skipped test reports)."""

    library: str
    release: str
    reason: str

    def met(self) -> bool:
        """Does the installed release of ``library`` have it?"""
        version = installed(self.library)
        return version is not None and self.met_by(str(version))

    def met_by(self, version: str) -> bool:
        """Does ``version`` (of ``library``) have it?"""
        return Version(version.split("+")[0]) >= Version(self.release)


# Each row's checks (the new behaviour, and the old where checkable) are in the drift
# chapter, spec/guarantees/05_drift.py, keyed by the row's id.


DRIFT = [
    Drift(
        "dataiter.next() is gone", "torch", "1.13",
        "images, labels = dataiter.next() # 4 images, (4,3,32,32)",
        "AttributeError: '_SingleProcessDataLoaderIter' object has no attribute 'next'; use next(dataiter)",
        (Sign("error", "AttributeError", r"Loader\w*Iter' object has no attribute 'next'"),),
        fixes=((r"\b(\w+)\.next\(\)", r"next(\1)"),),
    ),
    Drift(
        "pytorch_lightning.metrics is gone", "pytorch_lightning", "1.5",
        "from pytorch_lightning.metrics.functional import accuracy",
        "ModuleNotFoundError; use torchmetrics.functional.accuracy(..., task='multiclass', num_classes=10)",
        (Sign("error", "ModuleNotFoundError", r"No module named 'pytorch_lightning\.metrics"),),
    ),
    Drift(
        "torch.load defaults to weights_only=True", "torch", "2.6",
        "the_model.load_state_dict(torch.load(PATH))",
        "a state_dict loads as before; any other pickled object raises UnpicklingError",
        (Sign("error", "UnpicklingError", r"Weights only load failed"),),
        # the old behaviour back, for a file the tutorial itself saved: weights_only=False
        # unpickles anything, so it is for files you trust (explain comments the rewrite)
        fixes=((r"\btorch\.load\((?![^()]*weights_only)([^()]*)\)", r"torch.load(\1, weights_only=False)"),),
        torchfix="TOR102",
    ),
    Drift(
        "grad_fn names end in a number", "torch", "1.10",
        "tensor(0.9145, grad_fn=<MseLossBackward>)",
        "grad_fn=<MseLossBackward0>",
        outputs=((r"grad_fn=<\w+Backward>", r"grad_fn=<\w+Backward\d+>"),
                 (r"<\w+Backward object at", r"<\w+Backward\d+ object at")),
    ),
    Drift(
        "zero_grad() sets gradients to None", "torch", "2.0",
        "tensor([0., 0., 0., 0., 0., 0.])",
        "conv1.bias.grad is None after net.zero_grad() (set_to_none=True by default)",
        outputs=((r"^\s*tensor\(\[0\.(,\s*0\.)*\]\)\s*$", r"^\s*None\s*$"),),
    ),
    Drift(
        "pretrained=True became weights=", "torchvision", "0.13",
        "[torchvision.models](https://ptorch.com/docs/1/models)",
        "UserWarning: 'pretrained' is deprecated since 0.13; pass weights=ResNet18_Weights.IMAGENET1K_V1",
        (Sign("warning", "UserWarning", r"'pretrained' is deprecated since 0\.13"),
         Sign("warning", "UserWarning", r"Arguments other than a weight enum or `None` for 'weights' are deprecated")),
        fixes=((r"\bpretrained\s*=\s*True", "weights='DEFAULT'"), (r"\bpretrained\s*=\s*False", "weights=None")),
        torchfix="TOR201",
    ),
    Drift(
        "Lightning 2.0 removed Trainer arguments and *_epoch_end hooks", "pytorch_lightning", "2.0",
        "self.log('val_loss', loss, prog_bar=True)",
        "TypeError for gpus=, progress_bar_refresh_rate=, weights_summary=; NotImplementedError for validation_epoch_end",
        (Sign("error", "TypeError", r"Trainer\.__init__\(\) got an unexpected keyword argument '(gpus|progress_bar_refresh_rate|weights_summary)'"),
         Sign("error", "NotImplementedError", r"`(training|validation|test)_epoch_end` has been removed in v2\.0\.0")),
        # gpus=N: the accelerator Lightning finds and its devices; the two display
        # arguments dropped (their successors are enable_progress_bar, enable_model_summary)
        fixes=((r"\bgpus\s*=\s*[^,)]+", "accelerator='auto', devices='auto'"),
               (r",?\s*\bprogress_bar_refresh_rate\s*=\s*[^,)]+", ""),
               (r",?\s*\bweights_summary\s*=\s*[^,)]+", "")),
    ),
    Drift(
        "torch.max(x, dim) returns a named tuple", "torch", "1.1",
        "torch.max(input, dim, keepdim=False, out=None) -> (Tensor, LongTensor)",
        "torch.return_types.max(values=..., indices=...), still unpackable as a pair",
    ),
    Drift(
        "pretrainedmodels needs six (undeclared)", "pretrainedmodels", "0.7.4",
        "[pretrained-models.pytorch](https://github.com/Cadene/pretrained-models.pytorch)",
        "import pretrainedmodels fails with ModuleNotFoundError unless six is installed",
        (Sign("error", "ModuleNotFoundError", r"No module named 'six(\.\w+)?'"),),
    ),
    Drift(
        "SummaryWriter.add_graph warns: torch.jit.trace is deprecated", "torch", "2.14",
        "https://pytorch.org/tutorials/intermediate/tensorboard_tutorial.html",
        "a FutureWarning (shown to every user) from torch.jit.trace inside add_graph; 2.10-2.13 raised a DeprecationWarning (hidden outside __main__), 2.9.1 none",
        (Sign("warning", "FutureWarning", r"`torch\.jit\.trace(_method)?` is deprecated"),
         Sign("warning", "DeprecationWarning", r"`torch\.jit\.trace(_method)?` is deprecated")),
        # bisected on the CPU: nothing on 2.9.1; a DeprecationWarning on 2.10.0-2.13.0 (Python
        # shows it only for code in __main__); a FutureWarning on 2.14.0 and 2.14.1
        stages=(("2.10", "DeprecationWarning"), ("2.14", "FutureWarning")),
    ),
    Drift(
        "clamp(min=0) passes no gradient at exactly 0", "torch", "2.14",
        "h_relu = self.linear1(x).clamp(min=0)",
        "d/dx clamp(x, min=0) at x == 0 is 0 (like ReLU); it was 1 up to 2.13 (2.9.1 and 2.13.0 checked; 0 from 2.14.0)",
    ),
    # ---- changes the note never meets, found by make explain on old tutorials
    Drift(
        "MNIST's train_data and train_labels became data and targets", "torchvision", "0.2.2",
        None,
        "UserWarning 'train_data has been renamed data' (train_labels, test_data, test_labels alike); the values are data and targets",
        (Sign("warning", "UserWarning", r"(train|test)_(data|labels) has been renamed (data|targets)"),),
        fixes=((r"\.(train|test)_data\b", ".data"), (r"\.(train|test)_labels\b", ".targets")),
        seen_in="MorvanZhou/PyTorch-Tutorial dbe154a tutorial-contents/401_CNN.py; renamed in pytorch/vision#578, warned since #742 (2019-02)",
    ),
    Drift(
        "scikit-learn's TSNE(n_iter=) became max_iter=", "sklearn", "1.7",
        None,
        "TypeError: TSNE.__init__() got an unexpected keyword argument 'n_iter' (a FutureWarning in 1.5 and 1.6); pass max_iter=",
        (Sign("error", "TypeError", r"TSNE\.__init__\(\) got an unexpected keyword argument 'n_iter'"),
         Sign("warning", "FutureWarning", r"'n_iter' was renamed to 'max_iter'")),
        fixes=((r"\bn_iter\s*=", "max_iter="),),
        seen_in="MorvanZhou/PyTorch-Tutorial dbe154a tutorial-contents/401_CNN.py (its t-SNE of the CNN's features)",
    ),
    Drift(
        "inception_v3 and GoogLeNet warn that their default initialisation will change", "torchvision", "0.7",
        None,
        "FutureWarning 'The default weight initialization of inception_v3 (GoogleNet) will be changed' unless init_weights= is given (True keeps the old scipy truncnorm init)",
        (Sign("warning", "FutureWarning", r"The default weight initialization of (inception_v3|GoogleNet) will be changed"),),
        seen_in="zergtant/pytorch-handbook e9a1492 chapter2/2.4-cnn.ipynb; pytorch/vision#2170 (2020-05)",
    ),
    # ---- the 2017-2020 idioms old tutorials are full of (PyTorch's release notes)
    Drift(
        "Variable(volatile=True) does nothing", "torch", "0.4",
        None,
        "UserWarning 'volatile was removed and now has no effect. Use `with torch.no_grad():` instead.'",
        (Sign("warning", "UserWarning", r"volatile was removed and now has no effect"),),
        seen_in="PyTorch 0.4.0 release notes (Variable merged into Tensor)",
        fixes=((r",\s*volatile\s*=\s*True", ""),),
    ),
    Drift(
        "loss.data[0] on a 0-dim tensor is an error", "torch", "1.0",
        None,
        "IndexError 'invalid index of a 0-dim tensor. Use `tensor.item()`' (0.4 warned it would become one)",
        (Sign("error", "IndexError", r"invalid index of a 0-dim tensor"),),
        seen_in="PyTorch 0.4.0 release notes (0-dim tensors; loss.item())",
        fixes=((r"\.data\[0\]", ".item()"),),
    ),
    Drift(
        "size_average= and reduce= became reduction=", "torch", "0.4.1",
        None,
        "UserWarning 'size_average and reduce args will be deprecated, please use reduction=...'",
        (Sign("warning", "UserWarning", r"size_average and reduce args will be deprecated"),),
        seen_in="PyTorch 0.4.1 release notes",
        fixes=((r"\bsize_average\s*=\s*False", "reduction='sum'"),
               (r"\bsize_average\s*=\s*True", "reduction='mean'")),
    ),
    Drift(
        "softmax without dim= is deprecated", "torch", "0.3",
        None,
        "UserWarning 'Implicit dimension choice for softmax has been deprecated. Change the call to include dim=X'",
        (Sign("warning", "UserWarning", r"Implicit dimension choice for (log_)?softmax has been deprecated"),),
        seen_in="PyTorch 0.3.0; OpenNMT/OpenNMT-py#487 (2017-12)",
    ),
    Drift(
        "F.upsample became F.interpolate", "torch", "0.4.1",
        None,
        "UserWarning '`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.'",
        (Sign("warning", "UserWarning", r"`?nn\.functional\.upsample(_bilinear|_nearest)?`? is deprecated"),),
        seen_in="PyTorch 0.4.1 release notes",
        fixes=((r"\b(F|functional)\.upsample\(", r"\1.interpolate("),),
    ),
    Drift(
        "nn.init functions gained a trailing underscore", "torch", "0.4",
        None,
        "FutureWarning (a UserWarning up to 2.0.1 at least) '`nn.init.xavier_uniform` is now deprecated in favor of `nn.init.xavier_uniform_`'",
        (Sign("warning", "UserWarning", r"nn\.init\.\w+`? is now deprecated in favor of"),
         Sign("warning", "FutureWarning", r"nn\.init\.\w+`? is now deprecated in favor of")),
        seen_in="PyTorch 0.4.0 release notes (in-place initialisers)",
        fixes=((r"\b(init\.(?:xavier_uniform|xavier_normal|kaiming_uniform|kaiming_normal|uniform|normal|constant|orthogonal|sparse|eye|dirac))\(", r"\1_("),),
    ),
    Drift(
        "NumPy removed np.float, np.int and the other builtin aliases", "numpy", "1.24",
        None,
        "AttributeError: module 'numpy' has no attribute 'float' (deprecated in 1.20); use float, int, object (np.bool is back since 2.0)",
        (Sign("error", "AttributeError", r"module 'numpy' has no attribute '(float|int|object|str|complex)'"),),
        seen_in="NumPy 1.20.0 and 1.24.0 release notes",
        fixes=((r"\bnp\.(float|int|object|str|complex)\b(?!\w)", r"\1"),),
    ),
    Drift(
        "torch's own linear algebra moved to torch.linalg", "torch", "2.0",
        None,
        "RuntimeError 'This function was deprecated since version 1.9 and is now removed' for torch.symeig, eig, lstsq, solve, matrix_rank (2.0.1 checked); torch.qr and torch.cholesky warned up to 2.9.1 and raise it on 2.14.1; torch.chain_matmul warns. Use torch.linalg.eigh, eig, lstsq, solve, matrix_rank, qr, cholesky, multi_dot",
        (Sign("error", "RuntimeError", r"This function was deprecated since version 1\.9 and is now removed"),
         Sign("warning", "UserWarning", r"torch\.(qr|cholesky|chain_matmul|lu|triangular_solve)\b.* is deprecated")),
        seen_in="PyTorch 1.9 release notes (torch.linalg); removals pytorch/pytorch#70982 and its siblings (2022)",
    ),
    Drift(
        "transforms.Scale and RandomSizedCrop became Resize and RandomResizedCrop", "torchvision", "0.12",
        None,
        "AttributeError: module 'torchvision.transforms' has no attribute 'Scale' (deprecated since 0.2.0, a warning until 0.11)",
        (Sign("error", "AttributeError", r"module 'torchvision\.transforms' has no attribute '(Scale|RandomSizedCrop)'"),),
        fixes=((r"\bScale\(", "Resize("), (r"\bRandomSizedCrop\(", "RandomResizedCrop(")),
        seen_in="pytorch/vision#274 (renamed, 2017-09); removed in 0.12.0, pytorch/vision#5386 (as pytorch/vision#5927 says)",
    ),
    Drift(
        "nn.utils.clip_grad_norm gained a trailing underscore", "torch", "0.4",
        None,
        "FutureWarning (a UserWarning up to 2.0) '`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`'",
        (Sign("warning", "UserWarning", r"nn\.utils\.clip_grad_norm`? is now deprecated in favor of"),
         Sign("warning", "FutureWarning", r"nn\.utils\.clip_grad_norm`? is now deprecated in favor of")),
        seen_in="PyTorch 0.4.0 release notes (in-place functions end in an underscore)",
        fixes=((r"\bclip_grad_norm\(", "clip_grad_norm_("),),
    ),
    Drift(
        "add_(scalar, tensor) became add_(tensor, alpha=scalar)", "torch", "1.5",
        None,
        "UserWarning 'This overload of add_ is deprecated: add_(Number alpha, Tensor other)' (add, sub, addcmul_, addcdiv_ alike): the hand-written SGD step of old tutorials",
        (Sign("warning", "UserWarning", r"This overload of (add|sub|addcmul|addcdiv)_? is deprecated"),),
        seen_in="PyTorch 1.5 release notes (deprecated positional scalar overloads)",
        fixes=((r"\.(add|sub)_\(\s*([^,()=]+?)\s*,\s*([^,()=]+?)\s*\)", r".\1_(\3, alpha=\2)"),),
    ),
    Drift(
        "uint8 masks became bool masks", "torch", "1.2",
        None,
        "UserWarning 'indexing with dtype torch.uint8 is now deprecated, please use a dtype torch.bool instead'; comparisons return bool since 1.2",
        (Sign("warning", "UserWarning", r"indexing with dtype torch\.uint8 is now deprecated"),),
        seen_in="PyTorch 1.2 release notes (torch.bool)",
    ),
    Drift(
        "lr_scheduler.step() comes after optimizer.step()", "torch", "1.1",
        None,
        "UserWarning 'Detected call of `lr_scheduler.step()` before `optimizer.step()`': before 1.1 the scheduler stepped first, and code written so now skips the first learning rate",
        (Sign("warning", "UserWarning", r"Detected call of `lr_scheduler\.step\(\)` before `optimizer\.step\(\)`"),),
        seen_in="PyTorch 1.1.0 release notes (the order of the scheduler's step)",
    ),
    Drift(
        "scheduler.step(epoch) is deprecated", "torch", "1.4",
        None,
        "UserWarning 'The epoch parameter in `scheduler.step()` was not necessary and is being deprecated'; call scheduler.step() once per epoch",
        (Sign("warning", "UserWarning", r"The epoch parameter in `scheduler\.step\(\)` was not necessary"),),
        seen_in="PyTorch 1.4.0 release notes (chainable schedulers)",
        fixes=((r"\b(\w*sched\w*)\.step\(\s*\w*epoch\w*\s*\)", r"\1.step()"),),
    ),
    Drift(
        "torch.set_default_tensor_type is deprecated", "torch", "2.1",
        None,
        "UserWarning 'torch.set_default_tensor_type() is deprecated as of PyTorch 2.1'; use torch.set_default_dtype() and torch.set_default_device()",
        (Sign("warning", "UserWarning", r"set_default_tensor_type\(\) is deprecated"),),
        seen_in="PyTorch 2.1 release notes",
    ),
    Drift(
        "torch._six is gone", "torch", "2.0",
        None,
        "ModuleNotFoundError: No module named 'torch._six' (a private Python 2/3 shim): string_classes is str, int_classes int, container_abcs collections.abc, inf math.inf",
        (Sign("error", "ModuleNotFoundError", r"No module named 'torch\._six'"),),
        seen_in="pytorch/pytorch#94709 (2023-02, Python 2 compatibility removed)",
    ),
    Drift(
        "torchvision.models.utils is gone", "torchvision", "0.11",
        None,
        "ModuleNotFoundError: No module named 'torchvision.models.utils'; load_state_dict_from_url is torch.hub's",
        (Sign("error", "ModuleNotFoundError", r"No module named 'torchvision\.models\.utils'"),),
        seen_in="removed in torchvision 0.11.0 (w86763777/pytorch-image-generation-metrics#3); pytorch/vision#4069",
        fixes=((r"\btorchvision\.models\.utils\b", "torch.hub"),),
    ),
    Drift(
        "transforms.functional_tensor is gone", "torchvision", "0.17",
        None,
        "ModuleNotFoundError: No module named 'torchvision.transforms.functional_tensor' (0.15 and 0.16 warned); use torchvision.transforms.functional",
        (Sign("error", "ModuleNotFoundError", r"No module named 'torchvision\.transforms\.functional_tensor'"),
         Sign("warning", "UserWarning", r"torchvision\.transforms\.functional_tensor module is deprecated")),
        seen_in="pytorch/vision#7269 (deprecated in 0.15, removed in 0.17); XPixelGroup/BasicSR#533",
        fixes=((r"\btorchvision\.transforms\.functional_tensor\b", "torchvision.transforms.functional"),),
    ),
    Drift(
        "autograd.Function needs static forward and backward", "torch", "1.5",
        None,
        "RuntimeError 'Legacy autograd function with non-static forward method is deprecated'; write @staticmethod forward(ctx, ...) and backward(ctx, ...) and call MyFunction.apply(x)",
        (Sign("error", "RuntimeError", r"Legacy autograd function with non-static forward method is deprecated"),
         Sign("warning", "DeprecationWarning", r"should not be instantiated\. Methods on autograd functions ?are all static")),
        seen_in="PyTorch 1.3 (deprecated) and 1.5 (an error) release notes; Learning PyTorch with Examples' MyReLU",
    ),
    Drift(
        "NumPy 2 warns when its functions are given a tensor", "numpy", "2.0",
        None,
        "DeprecationWarning '__array_wrap__ must accept context and return_scalar arguments (positionally) in the future' from np.exp(tensor) and the like (the result is still a tensor); use torch.exp, or np.exp(tensor.numpy())",
        (Sign("warning", "DeprecationWarning", r"__array_wrap__ must accept context and return_scalar arguments"),),
        seen_in="L1aoXingyu/code-of-learn-deep-learning-with-pytorch ea24810 chapter3_NN/logistic-regression/logistic-regression.ipynb; NumPy 2.0.0 release notes (__array_wrap__)",
    ),
    Drift(
        "tensors print as tensor(...)", "torch", "0.4",
        None,
        "a tensor prints as tensor([[1., 2.], ...]) (with requires_grad=True where it is set); before 0.4 as its bare values, then [torch.FloatTensor of size 2x2], and a Variable as 'Variable containing:'",
        outputs=((r"^\s*\[torch\.(cuda\.)?\w*Tensor of size [\dx]+( \(GPU \d+\))?\]\s*$", r""),
                 (r"^\s*Variable containing:\s*$", r""),
                 (r"^\s*-?\d[\d.e+\-\s]*$", r"^\s*(tensor\()?\[|^$"),
                 (r"^\s*(\.\.\.\s*)?⋱(\s*\.\.\.)?\s*$", r"")),
        seen_in="MorvanZhou/PyTorch-Tutorial dbe154a tutorial-contents-notebooks/202_variable.ipynb; PyTorch 0.4.0 release notes (Variable merged into Tensor)",
    ),
    Drift(
        "activations print inplace=True", "torch", "1.2",
        None,
        "nn.ReLU(inplace=True) prints as ReLU(inplace=True), not ReLU(inplace)",
        outputs=((r"\w+\(inplace\)", r"\w+\(inplace=True\)"),),
        seen_in="zergtant/pytorch-handbook e9a1492 chapter2/2.4-cnn.ipynb; pytorch/pytorch#20127 (2019-05)",
    ),
    Drift(
        "torchtext stopped at torch 2.3", "torch", "2.4",
        None,
        "ModuleNotFoundError for torchtext (or, installed anyway, a C++ extension that does not load): its last release, 0.18.0 (2024-04), was built for torch 2.3; use torch<=2.3 with it, or Hugging Face datasets and tokenizers",
        (Sign("error", "ModuleNotFoundError", r"No module named 'torchtext(\.\w+)*'"),
         Sign("error", "OSError", r"torchtext.*(undefined symbol|cannot open shared object)")),
        seen_in="ShusenTang/Dive-into-DL-PyTorch 09c8bac code/d2lzh_pytorch/utils.py; PyPI's torchtext 0.18.0 (2024-04), its last release",
    ),
    Drift(
        "IPython.display.set_matplotlib_formats is gone", "IPython", "9.0",
        None,
        "AttributeError: module 'IPython.display' has no attribute 'set_matplotlib_formats' (a DeprecationWarning since 7.23); matplotlib_inline.backend_inline.set_matplotlib_formats does it",
        (Sign("error", "AttributeError", r"module 'IPython\.display' has no attribute 'set_matplotlib_(formats|close)'"),
         Sign("warning", "DeprecationWarning", r"`set_matplotlib_(formats|close)` is deprecated since IPython 7\.23")),
        seen_in="ShusenTang/Dive-into-DL-PyTorch 09c8bac code/chapter03_DL-basics/3.2_linear-regression-scratch.ipynb; removed in ipython/ipython#14658 (2025-01)",
        fixes=((r"\b(?:IPython\.)?display\.set_matplotlib_formats\(",
                "__import__('matplotlib_inline.backend_inline').backend_inline.set_matplotlib_formats("),),
    ),
    Drift(
        "BatchNorm prints bias=True", "torch", "2.14",
        None,
        "BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True): the norm layers gained bias= (pytorch/pytorch#176573, 2026-03); absent on 2.9.1, present on 2.14.1, the releases between not bisected",
        outputs=((r"BatchNorm\w*\(.*affine=\w+, track_running_stats", r"BatchNorm\w*\(.*affine=\w+, bias=\w+, track_running_stats"),),
        seen_in="zergtant/pytorch-handbook e9a1492 chapter2/2.4-cnn.ipynb (a printed Inception v3)",
    ),
    Drift(
        "Dropout prints inplace=False", "torch", "2.0",
        None,
        "Dropout(p=0.5, inplace=False), where torch 1.0 printed Dropout(p=0.5); 2.0.1 checked, the release between not bisected (pytorch/pytorch#22106 asked for it, 2019)",
        outputs=((r"Dropout\(p=[\d.]+\)\s*$", r"Dropout\(p=[\d.]+, inplace=False\)"),),
        seen_in="zergtant/pytorch-handbook e9a1492 chapter2/2.4-cnn.ipynb (a printed VGG)",
    ),
    Drift(
        "torchvision's VGG and ResNet pool adaptively", "torchvision", "0.3",
        None,
        "the models print an (avgpool): AdaptiveAvgPool2d(output_size=(7, 7)) before VGG's classifier, and ResNet's AvgPool2d(kernel_size=7) is AdaptiveAvgPool2d(output_size=(1, 1)): any input size works",
        outputs=((r"^\s*$", r"\(avgpool\): AdaptiveAvgPool2d"),
                 (r"\(avgpool\): AvgPool2d\(kernel_size=7", r"\(avgpool\): AdaptiveAvgPool2d")),
        seen_in="zergtant/pytorch-handbook e9a1492 chapter2/2.4-cnn.ipynb (VGG16 and ResNet printed); torchvision 0.3.0 release notes",
    ),
    Drift(
        "Linear prints bias=True", "torch", "0.4",
        None,
        "Linear(in_features=30, out_features=40, bias=True), where torch 0.3 printed no bias=",
        outputs=((r"Linear\(in_features=\d+, out_features=\d+\)\s*$", r"Linear\(in_features=\d+, out_features=\d+, bias=\w+\)"),),
        seen_in="L1aoXingyu/code-of-learn-deep-learning-with-pytorch ea24810 chapter3_NN/param_initialize.ipynb; PyTorch 0.4.0 release notes (modules' extra_repr)",
    ),
    Drift(
        "torch.cuda.amp moved to torch.amp", "torch", "2.4",
        None,
        "FutureWarning '`torch.cuda.amp.autocast(args...)` is deprecated. Please use `torch.amp.autocast('cuda', args...)` instead.'",
        (Sign("warning", "FutureWarning", r"`torch\.cuda\.amp\.(autocast|GradScaler|custom_fwd|custom_bwd)\(args\.\.\.\)` is deprecated"),),
        seen_in="PyTorch 2.4 release notes",
        fixes=((r"torch\.cuda\.amp\.(autocast|GradScaler)\(", r"torch.amp.\1('cuda', "),),
    ),
]  # fmt: skip


BY_ID = {row.id: row for row in DRIFT}


#: Where something the spec relies on arrived, or what an older release needs to install.
GATES = {
    "torch.func": Gate("torch", "2.0", "torch.func.functional_call arrived in torch 2.0"),
    "transforms v2": Gate(
        "torchvision", "0.16",
        "transforms.v2.ToImage arrived in torchvision 0.16 (0.15 had a beta v2)",
    ),
    "exact Lightning resume": Gate(
        "pytorch_lightning", "2.4",
        "Lightning before 2.4: the RNG-restored resume is not exact (measured on 2.3.3)",
    ),
    "unsigned dtypes": Gate(
        "torch", "2.3",
        "torch.uint16, uint32 and uint64 arrived in torch 2.3; before, from_numpy refused "
        "such arrays (2.0.1 and 2.1.2 checked)",
    ),
    "load_state_dict(assign=)": Gate(
        "torch", "2.1", "Module.load_state_dict(assign=True) arrived in torch 2.1",
    ),
    "built for NumPy 2": Gate(
        "torch", "2.3",
        "torch before 2.3 was built against NumPy 1 and cannot use NumPy 2 "
        "('Failed to initialize NumPy: _ARRAY_API not found'): the atlas pins numpy<2",
    ),
    "Lightning without pkg_resources": Gate(
        "torch", "2.1",
        "the newest Lightning for torch 2.0 (2.3.3) imports pkg_resources, which "
        "setuptools 81 removed: the atlas pins setuptools<81",
    ),
}  # fmt: skip


def changed(row_id: str) -> bool:
    """Does the installed release show the new behaviour of the row ``row_id``? (False
    where its library is missing.)"""
    return bool(has_changed(BY_ID[row_id]))


def stage(row_id: str, version: Version | None = None) -> str | None:
    """Which step of a change made in steps (``Drift.stages``) the release ``version``
    (the installed one by default) shows: the step's text, or None before the first."""
    row = BY_ID[row_id]
    version = installed(row.library) if version is None else version
    reached = [what for release, what in row.stages if version >= Version(release)]
    return reached[-1] if reached else None


def has_changed(row: Drift) -> bool | None:
    """True where the installed release shows the new behaviour of ``row``, False where the
    old, None where its library is not installed."""
    version = installed(row.library)
    return None if version is None else version >= Version(row.changed_in)


def class_names(kind: type) -> list[str]:
    """A class's name and its bases' (most derived first): what a sign is matched on."""
    return [c.__name__ for c in kind.__mro__]


def explain(what: str, names: list[str] | set[str], message: str) -> list[Drift]:
    """The rows whose signs match an error (``what="error"``) or a warning whose class or a
    base of it is named in ``names``, with ``message``: the change behind it, or [] where
    the table knows none (``names`` rather than a class: the code may have run elsewhere,
    in explain's child process)."""
    import re

    return [
        row for row in DRIFT
        if any(sign.what == what and sign.kind in names and re.search(sign.message, message)
               for sign in row.signs)
    ]  # fmt: skip


def explain_error(error: BaseException) -> list[Drift]:
    """``explain`` for a raised exception."""
    return explain("error", class_names(type(error)), str(error))


def explain_warning(warning) -> list[Drift]:
    """``explain`` for a ``warnings.WarningMessage`` (what ``catch_warnings(record=True)``
    records)."""
    return explain("warning", class_names(warning.category), str(warning.message))


def repaired(source: str, row_ids: list[str]) -> tuple[str, list[tuple[str, str, str]]]:
    """``source`` with the fixes of the rows ``row_ids`` applied; and each rewrite as
    (row id, old text, new text)."""
    import re

    done = []
    for row_id in row_ids:
        for pattern, replacement in BY_ID[row_id].fixes:
            for match in re.finditer(pattern, source):
                done.append((row_id, match.group(0), match.expand(replacement)))
            source = re.sub(pattern, replacement, source)
    return source, done


def explain_output(old: str, new: str) -> list[Drift]:
    """The rows whose output signs match a line the old release printed (``old``) and the
    line printed in its place today (``new``)."""
    import re

    return [row for row in DRIFT
            if any(re.search(o, old) and re.search(n, new) for o, n in row.outputs)]  # fmt: skip
