"""NEURAL NETWORKS — "Define the network": the note's LeNet, parameters, forward, backward."""

import textwrap

import numpy as np
import pytest
import torch

from spec.helpers import note, releases, teach
from spec.helpers.devices import assert_cpu_cuda_close, needs_cuda
from spec.helpers.implementation import impl
from spec.helpers.oracles import numpy_lenet
from spec.helpers.teach import say

neural_networks = impl.neural_networks


def Net():  # reads as the note's Net() in the tests below
    """A new ``Net`` of the implementation under test."""
    return neural_networks.Net()


# The note's printed output, copied verbatim from its ''' Out: ''' block.
PRINTED_NET = textwrap.dedent(
    """\
    Net(
      (conv1): Conv2d(1, 6, kernel_size=(3, 3), stride=(1, 1))
      (conv2): Conv2d(6, 16, kernel_size=(3, 3), stride=(1, 1))
      (fc1): Linear(in_features=576, out_features=120, bias=True)
      (fc2): Linear(in_features=120, out_features=84, bias=True)
      (fc3): Linear(in_features=84, out_features=10, bias=True)
    )"""
)


# ---------------------------------------------------------------- the definition
def test_print_net_shows_the_notes_output_exactly():
    """print(net) prints exactly the module tree the note shows.

    Note: "(fc1): Linear(in_features=576, out_features=120, bias=True)"
    """
    net = Net()
    printed = repr(net)
    assert printed == PRINTED_NET, say(
        "print(Net())", f"\n{PRINTED_NET}\n", f"\n{printed}",
        teach.did_you_write_the_other_lenet(net),
    )  # fmt: skip


def test_net_has_ten_parameter_tensors_five_layers_times_weight_and_bias():
    """len(list(net.parameters())) is 10: five layers, each with a weight and a bias.

    Note: "print(len(params)) # 哪十层的参数呢？"

    Erratum: the note answers its own question ("which ten layers?") with "十层参数":
    input -> conv2d -> relu -> ... -> linear, i.e. ten *layers*. That list has eleven
    items and counts parameter-free ops (relu, view). The ten are tensors, not layers:
    conv1, conv2, fc1, fc2, fc3 each own a weight and a bias; relu, max_pool and view
    own none.
    """
    net = Net()
    params = list(net.parameters())
    assert len(params) == 10, say("len(list(net.parameters()))", "10", len(params))
    names = [name for name, _ in net.named_parameters()]
    layers = ["conv1", "conv2", "fc1", "fc2", "fc3"]
    expected = [f"{layer}.{kind}" for layer in layers for kind in ("weight", "bias")]
    assert names == expected, say("net.named_parameters()", expected, names)


def test_params_0_is_conv1_weight_of_size_6_1_3_3_not_6():
    """params[0].size() is torch.Size([6, 1, 3, 3]) — conv1's weight.

    Note: "print(params[0].size())  # conv1's .weight"

    Erratum: the note prints ``torch.Size([6])`` (the size of conv1's *bias*,
    params[1]). A Conv2d(in, out, k) weight is (out, in, k, k) = (6, 1, 3, 3).
    """
    net = Net()
    params = list(net.parameters())
    assert params[0].size() == torch.Size([6, 1, 3, 3]), say(
        "params[0].size()", "conv1's weight, torch.Size([6, 1, 3, 3])", params[0].size(),
        teach.did_you_write_the_other_lenet(net),
    )  # fmt: skip
    assert params[1].size() == torch.Size([6]), say(
        "params[1].size()", "conv1's bias, torch.Size([6])", params[1].size()
    )


def test_every_parameter_shape_follows_from_the_layer_definitions():
    """Each parameter's shape is what Conv2d(in, out, k) and Linear(in, out) define.

    Note: "self.fc1 = nn.Linear(16 * 6 * 6, 120)  # 6*6 from image dimension"

    Conv2d weight (out, in, k, k), Linear weight (out, in), biases (out,). fc1's 576
    inputs = 16 channels x 6 x 6, since 32 -conv3-> 30 -pool-> 15 -conv3-> 13 -pool-> 6.
    """
    side = 32
    for _ in range(2):
        side = (side - 3 + 1) // 2
    assert side == 6, "the test's own arithmetic: 32 -> 30 -> 15 -> 13 -> 6"
    expected = {
        "conv1.weight": (6, 1, 3, 3),
        "conv1.bias": (6,),
        "conv2.weight": (16, 6, 3, 3),
        "conv2.bias": (16,),
        "fc1.weight": (120, 16 * side * side),
        "fc1.bias": (120,),
        "fc2.weight": (84, 120),
        "fc2.bias": (84,),
        "fc3.weight": (10, 84),
        "fc3.bias": (10,),
    }
    net = Net()
    actual = {name: tuple(p.shape) for name, p in net.named_parameters()}
    assert actual == expected, say(
        "Net()'s parameter shapes", expected, actual, teach.did_you_write_the_other_lenet(net)
    )
    assert sum(int(np.prod(s)) for s in expected.values()) == 81_194, (
        "the test's own arithmetic: the note's layers hold 81,194 numbers"
    )
    assert sum(p.numel() for p in Net().parameters()) == 81_194, say(
        "Net()", "81,194 parameters (the note's layers)", sum(p.numel() for p in Net().parameters())
    )


# ---------------------------------------------------------------- forward
def test_a_random_32x32_input_gives_a_1x10_output():
    """net(torch.randn(1, 1, 32, 32)) has shape (1, 10).

    Note: "input = torch.randn(1, 1, 32, 32)"
    """
    out = Net()(torch.randn(1, 1, 32, 32))
    assert out.shape == (1, 10), say("net(input)", "shape (1, 10)", tuple(out.shape))
    assert out.dtype == torch.float32, say(
        "net(input)", "float32, the parameters' dtype", out.dtype
    )


def test_forward_equals_an_independent_numpy_implementation():
    """Net's forward equals the same LeNet written in NumPy float64.

    Note: "You just have to **define the forward function**"

    float32 (torch) against float64 (NumPy) through five layers: rtol 1e-5 and atol 1e-6
    cover float32 rounding of sums of up to 576 terms.
    """
    net = Net()
    x = torch.randn(3, 1, 32, 32)
    expected = numpy_lenet(net, x.double().numpy())
    teach.close(
        net(x).double(), torch.from_numpy(expected), call="Net().forward(x), 3 images",
        expects="conv1 -> relu -> pool -> conv2 -> relu -> pool -> flatten -> fc1 -> relu -> "
        "fc2 -> relu -> fc3 (computed in NumPy)", rtol=1e-5, atol=1e-6,
        diagnoses=[lambda: teach.did_you_hard_code_the_batch(net, (1, 32, 32)),
                   lambda: teach.did_you_softmax(net(x))],
    )  # fmt: skip


def test_num_flat_features_counts_all_but_the_batch_dimension():
    """num_flat_features(x) multiplies every size except the batch dimension.

    Note: "size = x.size()[1:]  # all dimensions except the batch dimension"
    """
    net = Net()
    if not hasattr(net, "num_flat_features"):
        pytest.skip(
            "this Net flattens without num_flat_features: fine, torch.flatten(x, 1) is today's way"
        )
    assert net.num_flat_features(torch.zeros(7, 16, 6, 6)) == 576, say(
        "num_flat_features(x)",
        "16 * 6 * 6 = 576 for a (7, 16, 6, 6) batch",
        net.num_flat_features(torch.zeros(7, 16, 6, 6)),
    )
    assert net.num_flat_features(torch.zeros(2, 3)) == 3, say(
        "num_flat_features(x)", "3 for a (2, 3) batch", net.num_flat_features(torch.zeros(2, 3))
    )
    assert net.num_flat_features(torch.zeros(4)) == 1, say(
        "num_flat_features(x)",
        "1 (an empty product) for a (4,) batch",
        net.num_flat_features(torch.zeros(4)),
    )  # empty product


@pytest.mark.parametrize("side", [30, 31, 32, 33])
def test_sizes_30_to_33_also_reduce_to_6x6(side):
    """Not only 32x32: any side from 30 to 33 reaches fc1 as 16 x 6 x 6.

    Note: "expected input size of this net (LeNet) is 32x32"

    Floor division in max-pooling maps 30..33 to the same 6x6 map.
    """
    net = Net()
    call = f"net on 2 images of {side}x{side}"
    try:
        out = net(torch.randn(2, 1, side, side))
    except RuntimeError as error:  # fc1 refuses what the convolutions left
        raise AssertionError(
            say(call, "(2, 10)", f"{type(error).__name__}: {error}",
                teach.did_you_write_the_other_lenet(net))
        ) from None  # fmt: skip
    assert out.shape == (2, 10), say(call, "(2, 10)", out.shape)


@pytest.mark.fact
def test_the_notes_net_fails_deep_inside_on_a_28x28_mnist_image():
    """The note's own Net, fed a 28x28 MNIST image, fails inside fc1 with PyTorch's words.

    Note: "To use this net on the MNIST dataset, please resize the images from the dataset
    to 32x32."

    28 -conv3-> 26 -pool-> 13 -conv3-> 11 -pool-> 5: fc1 receives 16 x 5 x 5 = 400
    features where it was built for 576. (The reference's Net checks its input first:
    see the reference's own tests at the end.)
    """
    net = note.note_object(95, "Net", "import torch.nn as nn\nimport torch.nn.functional as F\n")()
    with pytest.raises(
        RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(1x400 and 576x120\)"
    ):
        net(torch.randn(1, 1, 28, 28))


# ---------------------------------------------------------------- backward
def test_zero_grad_then_backward_with_random_gradients_fills_every_grad():
    """net.zero_grad(); out.backward(torch.randn(1, 10)) gives every parameter a .grad of its shape.

    Note: "Zero the gradient buffers of all parameters and backprops with random gradients"
    """
    net = Net()
    out = net(torch.randn(1, 1, 32, 32))
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters()), say(
        "net.zero_grad()",
        "every .grad None before the first backward",
        [p.grad is None for p in net.parameters()],
    )
    v = torch.randn(1, 10)
    out.backward(v)
    for name, p in net.named_parameters():
        assert p.grad is not None, say("out.backward(v)", f"a gradient for {name}", None)
        assert p.grad.shape == p.shape, name
    # out.backward(v) is the gradient of (out * v).sum(), checked on the last layer by
    # hand: d/dW3 = v^T h2, d/db3 = v, where h2 is fc3's input.
    torch.testing.assert_close(net.fc3.bias.grad, v[0], rtol=0, atol=0)


@releases.needs("torch.func")
def test_gradients_of_all_parameters_pass_gradcheck_in_float64():
    """The backward autograd defines for Net matches finite differences (float64).

    Note: "the backward function (where gradients are computed) is automatically defined
    for you using autograd"

    fast_mode checks random projections of the Jacobian instead of every entry, which
    keeps 81k parameters tractable; inputs avoid ReLU/max-pool kinks by being random.
    """
    net = Net().double()
    x = torch.randn(1, 1, 32, 32, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in net.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in net.parameters())

    def f(x, *ps):
        return torch.func.functional_call(net, dict(zip(names, ps, strict=True)), (x,))

    assert torch.autograd.gradcheck(f, (x, *params), fast_mode=True), (
        "Net's gradients disagree with finite differences"
    )


@needs_cuda
def test_forward_and_gradients_on_cuda_equal_cpu():
    """The same Net, input and output gradient give the same output and grads on CUDA.

    Note: "net.zero_grad()
    out.backward(torch.randn(1, 10))"

    Convolutions and matmuls reduce in a different order on the GPU (cuDNN, cuBLAS;
    TF32 is off): rtol 1e-4 / atol 1e-5 absorb float32 reassociation.
    """
    net = Net()
    x, v = torch.randn(4, 1, 32, 32), torch.randn(4, 10)

    def run(net, x, v):
        net.zero_grad()
        out = net(x)
        out.backward(v)
        return out.detach(), {n: p.grad for n, p in net.named_parameters()}

    assert_cpu_cuda_close(run, net, x, v, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- the reference's own (not asked of your code)
@pytest.mark.extra
@pytest.mark.parametrize(
    ("shape", "hint"),
    [
        ((1, 1, 28, 28), "got shape (1, 1, 28, 28) (resize 28x28 MNIST images to 32x32)"),
        ((1, 28, 28), "got shape (1, 28, 28) (resize 28x28 MNIST images to 32x32)"),
        ((1, 1, 34, 34), "got shape (1, 1, 34, 34)"),
        ((1, 1, 28, 32), "got shape (1, 1, 28, 32)"),
        ((1, 1, 32, 28), "got shape (1, 1, 32, 28)"),
        ((1, 3, 32, 32), "got shape (1, 3, 32, 32)"),
        ((1, 32, 32), "got shape (1, 32, 32)"),
        ((0, 1, 32, 32), "got an empty batch (0, 1, 32, 32)"),
    ],
    ids=["MNIST 28x28", "unbatched 28x28", "34x34", "28 high", "28 wide", "3 channels",
         "no batch dimension", "empty batch"],
)  # fmt: skip
def test_inputs_it_cannot_take_fail_with_the_size_it_expects(shape, hint):
    """The reference's Net refuses inputs other than (N, 1, 32, 32), naming the shape it expects.

    Note: "To use this net on the MNIST dataset, please resize the images from the dataset
    to 32x32."

    The note does not ask for the check: it is the reference's own guarantee. Without it, 28x28 fails deep inside fc1 with "mat1 and mat2
    shapes cannot be multiplied (1x400 and 576x120)", and an unbatched (1, 32, 32)
    input is silently misread: num_flat_features takes its channel axis for a batch.
    """
    expected = "Net expects a float tensor shaped (N, 1, 32, 32) with N >= 1, "
    with pytest.raises(
        ValueError, match=r"^Net expects a float tensor shaped \(N, 1, 32, 32\)"
    ) as e:
        Net()(torch.randn(*shape))
    assert str(e.value) == expected + hint


@pytest.mark.extra
def test_integer_input_fails_with_the_dtype_it_expects():
    """An integer image tensor is refused with a message naming the float it expects.

    Beyond the note: the note feeds only ``torch.randn`` floats; an image read as uint8
    is the first thing a learner tries next.
    """
    with pytest.raises(TypeError, match=r"float tensor.*got dtype torch.uint8"):
        Net()(torch.zeros(1, 1, 32, 32, dtype=torch.uint8))
