"""Bad input — every public entry point of reference says what it expected; nothing half-written is left.

Beyond the note: the note never feeds its code bad input; this pins the error a user gets
instead.

Hypothesis feeds wrong shapes, dtypes and values (NaN, empty batches) to the models,
training loops, data writers, loaders, transforms, checkpoint functions and CLIs.
PyTorch's own "mat1 and mat2 shapes cannot be multiplied" must never reach a user.
"""

import math
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from spec.helpers import releases
from spec.helpers.implementation import impl

#: The reference's own guarantees: the note never feeds its code bad input.
pytestmark = [pytest.mark.extra, pytest.mark.filterwarnings("ignore::UserWarning")]

checkpoint = impl.checkpoint
cifar10 = impl.cifar10
cifar10_data = impl.cifar10_data
examples = impl.examples
neural_networks = impl.neural_networks
update_weights = impl.update_weights
lightning_mnist = impl.lightning_mnist
transforms = impl.transforms
cifar10_demo = impl.cifar10_demo

DTYPES = [torch.float32, torch.float64, torch.float16, torch.int64, torch.uint8, torch.bool]


@st.composite
def tensors(draw, max_dims=5, max_side=40):
    """Any small tensor: 0 to 5 dims, sides 0 to 40, one of several dtypes."""
    shape = draw(st.lists(st.integers(0, max_side), min_size=0, max_size=max_dims))
    dtype = draw(st.sampled_from(DTYPES))
    if math.prod(shape) > 200_000:
        shape = [min(s, 8) for s in shape]
    return torch.zeros(shape, dtype=dtype)


# ---------------------------------------------------------------- models
MODELS = {
    "LeNet (chapter 6)": (
        lambda: neural_networks.Net(),
        lambda s, d: d.is_floating_point and len(s) == 4 and s[0] > 0 and s[1] == 1
        and 30 <= s[2] <= 33 and 30 <= s[3] <= 33,
        "(N, 1, 32, 32)",
    ),
    "CIFAR Net (chapter 10)": (
        lambda: cifar10.Net(),
        lambda s, d: d.is_floating_point and len(s) == 4 and s[0] > 0 and tuple(s[1:]) == (3, 32, 32),
        "(N, 3, 32, 32)",
    ),
    "TwoLayerNet (chapter 11)": (
        lambda: examples.TwoLayerNet(30, 8, 10),
        lambda s, d: d.is_floating_point and len(s) == 2 and s[0] > 0 and s[1] == 30,
        "(N, 30)",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(MODELS))
@settings(max_examples=60)
@given(x=tensors())
def test_models_accept_exactly_their_input_and_name_it_otherwise(name, x):
    """A model takes exactly the inputs it is built for; anything else fails naming the expected shape.

    Expected acceptance is written independently of the reference's check, from the
    layer arithmetic. float16 on the CPU is accepted only if it computes.
    """
    build, accepts, shape_text = MODELS[name]
    model = build().to(x.dtype) if x.is_floating_point() else build()
    if accepts(tuple(x.shape), x.dtype):
        assert model(x).shape == (x.shape[0], 10)
    else:
        with pytest.raises((ValueError, TypeError)) as error:
            model(x)
        assert shape_text in str(error.value)
        assert "mat1 and mat2" not in str(error.value)


@pytest.mark.parametrize("name", list(MODELS))
def test_models_refuse_what_is_not_a_tensor(name):
    """A list or NumPy array instead of a tensor is refused with a TypeError naming the tensor expected."""
    build = MODELS[name][0]
    for bad in ([[0.0]], np.zeros((1, 1, 32, 32), dtype=np.float32)):
        with pytest.raises(TypeError, match=r"float tensor shaped"):
            build()(bad)


def test_a_nan_input_propagates_through_a_model_but_stops_the_training_loop():
    """NaN in an input gives NaN out of the model (no error), but the training step refuses a NaN loss.

    Checking every forward for NaN would cost a device sync per call; the loops check
    the loss they already read, and stop before the update corrupts the weights.
    """
    net = neural_networks.Net()
    x = torch.full((1, 1, 32, 32), float("nan"))
    assert torch.isnan(net(x)).all()
    optimizer = update_weights.make_optimizer(net)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(FloatingPointError, match="expected finite input and target"):
        update_weights.training_step(net, optimizer, torch.nn.MSELoss(), x, torch.zeros(1, 10))
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())


# ---------------------------------------------------------------- training loops
def test_the_cifar_loop_stops_on_a_nan_batch_naming_where():
    """cifar10.train raises FloatingPointError at the first non-finite loss, naming epoch and mini-batch."""
    net = cifar10.Net()
    criterion, optimizer = cifar10.make_criterion_and_optimizer(net)
    good = (torch.zeros(4, 3, 32, 32), torch.zeros(4, dtype=torch.long))
    bad = (torch.full((4, 3, 32, 32), float("nan")), torch.zeros(4, dtype=torch.long))
    with pytest.raises(
        FloatingPointError,
        match=r"^loss is nan at epoch 1, mini-batch 2: expected finite inputs \(NaN or inf in the "
        r"data\?\) and a stable learning rate$",
    ):
        cifar10.train(net, [good, bad], criterion, optimizer, epochs=1, log=None)


@pytest.mark.parametrize(("epochs", "every"), [(0, 10), (1, 0), (-1, 5)])
def test_the_cifar_loop_refuses_nonsense_settings(epochs, every):
    """epochs and print_every must be positive."""
    net = cifar10.Net()
    criterion, optimizer = cifar10.make_criterion_and_optimizer(net)
    with pytest.raises(ValueError, match="expected epochs >= 1 and print_every >= 1"):
        cifar10.train(net, [], criterion, optimizer, epochs=epochs, print_every=every, log=None)


@settings(max_examples=40)
@given(x=tensors(max_dims=3, max_side=12), y=tensors(max_dims=3, max_side=12))
def test_the_examples_loop_refuses_mismatched_data(x, y):
    """examples.fit refuses x and y that do not fit the model, naming the shapes expected."""
    model = examples.TwoLayerNet(12, 4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    ok = (
        x.is_floating_point() and y.is_floating_point() and x.dim() == 2 and y.dim() == 2
        and x.shape[1] == 12 and y.shape[1] == 3 and x.shape[0] == y.shape[0] > 0
    )  # fmt: skip
    model = model.to(x.dtype if x.is_floating_point() else torch.float32)
    if ok:
        examples.fit(model, optimizer, x, y.to(x.dtype), steps=1)
        return
    with pytest.raises((ValueError, TypeError)) as error:
        examples.fit(model, optimizer, x, y, steps=1)
    assert "expected" in str(error.value)
    assert "mat1 and mat2" not in str(error.value)


SHAPED = "as a float tensor shaped (N, {}) with N >= 1"


@pytest.mark.parametrize(
    ("x", "y", "error", "message"),
    [
        ([[0.0] * 12], torch.zeros(1, 3), TypeError, f"expected x {SHAPED.format(12)}, got list"),
        (torch.zeros(2, 12, dtype=torch.long), torch.zeros(2, 3), TypeError,
         f"expected x {SHAPED.format(12)}, got dtype torch.int64"),
        (torch.zeros(0, 12), torch.zeros(0, 3), ValueError,
         f"expected x {SHAPED.format(12)}, got shape (0, 12)"),
        (torch.zeros(5, 12), torch.zeros(5, 4), ValueError,
         f"expected y {SHAPED.format(3)}, got shape (5, 4)"),
        (torch.zeros(5, 12), torch.zeros(4, 3), ValueError,
         "expected x and y with the same N, got 5 and 4"),
        (torch.zeros(5, 12, device="meta"), torch.zeros(5, 3), ValueError,
         "expected x and y on the model's device cpu, got meta, cpu"),
    ],
    ids=["a list", "integers", "no rows", "y too wide", "unequal N", "x elsewhere"],
)  # fmt: skip
def test_the_examples_loop_names_what_it_expected_and_what_it_got(x, y, error, message):
    """Each refusal of examples.fit in full: which argument, the shape expected, what came."""
    model = examples.TwoLayerNet(12, 4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    with pytest.raises(error) as raised:
        examples.fit(model, optimizer, x, y, steps=1)
    assert str(raised.value) == message
    examples.fit(model, optimizer, torch.zeros(1, 12), torch.zeros(1, 3), steps=1)  # N = 1 is fine


def test_the_examples_loop_reads_the_shapes_from_the_first_and_the_last_linear_layer():
    """A deeper model (12 -> 5 -> 7 -> 3): x is checked against the first layer's inputs,
    y against the last layer's outputs, not a middle layer's."""
    model = torch.nn.Sequential(
        torch.nn.Linear(12, 5), torch.nn.ReLU(), torch.nn.Linear(5, 7), torch.nn.ReLU(),
        torch.nn.Linear(7, 3),
    )  # fmt: skip
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    examples.fit(model, optimizer, torch.zeros(4, 12), torch.zeros(4, 3), steps=1)
    with pytest.raises(ValueError, match=re.escape(f"expected y {SHAPED.format(3)}")):
        examples.fit(model, optimizer, torch.zeros(4, 12), torch.zeros(4, 7), steps=1)


def test_the_examples_loop_stops_on_nan():
    """A NaN target makes examples.fit stop with FloatingPointError at step 0."""
    x, y = torch.randn(4, 12), torch.full((4, 3), float("nan"))
    model = examples.TwoLayerNet(12, 4, 3)
    with pytest.raises(FloatingPointError, match="at step 0"):
        examples.fit(model, torch.optim.SGD(model.parameters(), lr=1e-4), x, y, steps=3)


# ---------------------------------------------------------------- data writers and loaders
@settings(max_examples=30)
@given(
    n_train=st.one_of(
        st.integers(-5, 4), st.floats(allow_nan=True), st.text(max_size=3), st.none()
    ),
    n_test=st.one_of(st.integers(-3, 0), st.just(2.5), st.none()),
)
def test_the_cifar_writer_refuses_bad_sizes_and_writes_nothing(tmp_path_factory, n_train, n_test):
    """write_cifar10 refuses sizes that are not integers (or too small), before writing anything."""
    root = tmp_path_factory.mktemp("bad")
    with pytest.raises(ValueError, match=r"must be an integer >= \d"):
        cifar10_data.write_cifar10(root / "x", n_train, 5 if n_test is None else n_test)
    assert not (root / "x").exists()


def test_loading_a_missing_data_set_names_the_folder(tmp_path):
    """load_cifar10 and make_loaders on an empty directory say which folder is missing."""
    with pytest.raises(FileNotFoundError, match="no cifar-10-batches-py/ under"):
        cifar10_data.load_cifar10(tmp_path)
    with pytest.raises(FileNotFoundError, match="no cifar-10-batches-py/ under"):
        cifar10.make_loaders(tmp_path)


@pytest.mark.parametrize("batch_size", [0, -4])
def test_make_loaders_refuses_a_batch_size_below_one(tmp_path, batch_size):
    """batch_size must be at least 1."""
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        cifar10.make_loaders(tmp_path, batch_size=batch_size)


def test_make_loaders_takes_a_batch_size_of_one(cifar_root):
    """The smallest batch size it refuses is 0: batches of one image load."""
    trainloader, testloader = cifar10.make_loaders(cifar_root, batch_size=1)
    images, labels = next(iter(trainloader))
    assert images.shape == (1, 3, 32, 32)
    assert labels.shape == (1,)
    assert next(iter(testloader))[0].shape == (1, 3, 32, 32)


def test_the_idx_writer_refuses_what_mnist_cannot_hold(tmp_path):
    """write_idx takes uint8 labels (1-d) or images (3-d) only, and writes nothing otherwise."""
    pytest.importorskip("pytorch_lightning")
    write_idx = lightning_mnist.write_idx

    for bad in (np.zeros((2, 2), np.uint8), np.zeros((2, 2, 2), np.float32), [1, 2]):
        with pytest.raises(ValueError, match=r"uint8 labels \(1-d\) or images \(3-d\)"):
            write_idx(tmp_path / "x", bad)
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- transforms, metrics
@pytest.mark.parametrize("bad", ["an image", 3, None, np.zeros((300, 400, 3), np.uint8)])
@pytest.mark.parametrize(
    "name",
    ["train_transform", "val_transform",
     pytest.param("val_transform_v2", marks=releases.needs("transforms v2"))],
)  # fmt: skip
def test_transforms_refuse_what_is_not_an_image(name, bad):
    """The transforms refuse non-images, naming the PIL image or (C, H, W) tensor they expect.

    torchvision alone says only "Unexpected type <class 'str'>".
    """
    got = "got a numpy array" if isinstance(bad, np.ndarray) else f"got {type(bad).__name__}$"
    with pytest.raises(TypeError, match=rf"^expected a PIL image or a \(C, H, W\) tensor, {got}"):
        getattr(transforms, name)(bad)


@settings(max_examples=40)
@given(a=tensors(max_dims=2, max_side=6), b=tensors(max_dims=2, max_side=6))
def test_per_class_accuracy_refuses_mismatched_predictions(a, b):
    """per_class_accuracy takes two 1-d tensors of one length, and says so otherwise."""
    a, b = a.long().clamp(0, 9), b.long().clamp(0, 9)
    if a.dim() == 1 and b.dim() == 1 and a.shape == b.shape:
        _, confusion = cifar10.per_class_accuracy(a, b)
        assert confusion.sum() == len(a)
    else:
        with pytest.raises(ValueError, match="two 1-d tensors of equal length"):
            cifar10.per_class_accuracy(a, b)


def test_per_class_accuracy_of_an_absent_class_is_nan_not_an_error():
    """A class with no test images gets NaN, not an error: the note's per-class loop
    (``100 * class_correct[i] / class_total[i]``) would divide by zero."""
    acc, _ = cifar10.per_class_accuracy(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]))
    assert acc[:2].tolist() == [0.5, 1.0]
    assert torch.isnan(acc[2:]).all()


# ---------------------------------------------------------------- checkpoints and CLIs
@settings(max_examples=30)
@given(data=st.binary(max_size=300))
def test_any_bytes_either_load_as_tensors_or_fail_with_a_checkpoint_error(data):
    """Arbitrary bytes never crash the loader with anything but a CheckpointError."""
    try:
        loaded = checkpoint.load_bytes(data)
    except checkpoint.CheckpointError as e:
        message = str(e)
    else:
        message = f"cannot load: it loaded as {type(loaded).__name__}"  # plain data is fine
    assert message.startswith(("cannot load", "refusing to load"))


@pytest.mark.parametrize(
    ("module", "argv", "message"),
    [
        ("cifar10_demo", ["--epochs", "0"], "argument --epochs: must be >= 1, got 0"),
        ("cifar10_demo", ["--threads", "0"], "argument --threads: must be >= 1, got 0"),
        ("cifar10_demo", ["--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
        (
            "cifar10_demo",
            ["--data", "/nonexistent/c"],
            "--data /nonexistent/c: no cifar-10-batches-py/",
        ),
        (
            "cifar10_demo",
            ["--batch-size", "x"],
            "argument --batch-size: invalid positive_int value",
        ),
        ("cifar10_demo", ["--unknown"], "unrecognized arguments: --unknown"),
        ("cifar10_data", ["--train", "3", "ROOT"], "n_train must be an integer >= 5, got 3"),
        ("cifar10_data", [], "the following arguments are required: root"),
    ],
)
def test_clis_refuse_bad_flags_with_one_line_and_write_nothing(
    module, argv, message, tmp_path, capsys
):
    """Every command line refuses bad flags with exit status 2 and one error line, writing nothing."""
    main = cifar10_demo.main if module == "cifar10_demo" else cifar10_data.main
    argv = [a.replace("ROOT", str(tmp_path / "root")) for a in argv]
    if module == "cifar10_demo":
        argv += ["--out", str(tmp_path / "out")]
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"python -m reference.{module}: error: {message}"), last
    assert list(tmp_path.iterdir()) == []
