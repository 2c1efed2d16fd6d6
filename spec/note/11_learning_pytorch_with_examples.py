"""Learning PyTorch with Examples — a two-layer net: nn.Sequential + Adam, custom Module + SGD."""

import itertools

import pytest
import torch

from reference import examples
from reference.examples import D_in, D_out, H, N, TwoLayerNet
from spec.helpers.devices import assert_cpu_cuda_close, needs_cuda


@pytest.fixture(scope="module")
def data():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return examples.random_data()


@pytest.fixture(scope="module")
def sequential_run(data):
    with torch.random.fork_rng():
        torch.manual_seed(1)
        return examples.train_sequential(*data)


@pytest.fixture(scope="module")
def two_layer_run(data):
    with torch.random.fork_rng():
        torch.manual_seed(1)
        return examples.train_two_layer_net(*data)


def test_the_sizes_are_the_notes():
    """N, D_in, H, D_out = 64, 1000, 100, 10; x is (N, D_in), y is (N, D_out).

    Note: "N, D_in, H, D_out = 64, 1000, 100, 10"
    """
    x, y = examples.random_data()
    assert (N, D_in, H, D_out) == (64, 1000, 100, 10)
    assert x.shape == (64, 1000)
    assert y.shape == (64, 10)


def test_the_sequential_model_is_linear_relu_linear_with_the_notes_shapes():
    """torch.nn.Sequential(Linear(D_in, H), ReLU(), Linear(H, D_out)) maps (64, 1000) to (64, 10).

    Note: "torch.nn.Linear(D_in, H),"
    """
    model = examples.sequential_model()
    assert [type(m).__name__ for m in model] == ["Linear", "ReLU", "Linear"]
    assert [tuple(p.shape) for p in model.parameters()] == [(H, D_in), (H,), (D_out, H), (D_out,)]
    assert model(torch.randn(N, D_in)).shape == (N, D_out)


@pytest.mark.parametrize("run", ["sequential_run", "two_layer_run"])
def test_the_printed_loss_strictly_falls_at_steps_99_to_499(run, request, record_property):
    """The loss printed at t = 99, 199, ..., 499 falls at every print, for both examples.

    Note: "if t % 100 == 99:"

    MSELoss(reduction='sum') on random targets: the 64 x 10 targets are fitted
    (memorised) by a 100k-parameter model, so the loss falls by orders of magnitude.
    """
    _, printed = request.getfixturevalue(run)
    assert list(printed) == [99, 199, 299, 399, 499]
    values = list(printed.values())
    record_property("loss at t=99 -> 499", f"{values[0]:.4g} -> {values[-1]:.4g}")
    assert all(b < a for a, b in itertools.pairwise(values)), values
    assert values[-1] < values[0] / 100


def test_mse_loss_sum_is_the_sum_of_squared_errors():
    """loss_fn = torch.nn.MSELoss(reduction='sum') adds the squared errors, it does not average.

    Note: "loss_fn = torch.nn.MSELoss(reduction='sum')"
    """
    a, b = torch.randn(N, D_out, dtype=torch.float64), torch.randn(N, D_out, dtype=torch.float64)
    expected = ((a - b) ** 2).sum()
    torch.testing.assert_close(torch.nn.MSELoss(reduction="sum")(a, b), expected)


def test_clamp_min_0_is_relu():
    """h_relu = self.linear1(x).clamp(min=0) is exactly ReLU: the same values, and the same gradients away from 0.

    Note: "h_relu = self.linear1(x).clamp(min=0)"

    At exactly 0 the two may differ: ReLU passes gradient 0 there on every release;
    clamp passed 1 on torch 2.9.1 and passes 0 on 2.14.1 (see the drift chapter). With
    real-valued activations an exact 0 practically never occurs, so training is the same.
    """
    model = examples.TwoLayerNet(5, 4, 2)
    h = model.linear1(torch.randn(3, 5))
    torch.testing.assert_close(h.clamp(min=0), torch.relu(h), rtol=0, atol=0)
    x = torch.tensor([-2.0, -0.5, 0.5, 3.0, 0.0], requires_grad=True)
    x2 = x.detach().clone().requires_grad_()
    torch.testing.assert_close(x.clamp(min=0), torch.relu(x2), rtol=0, atol=0)
    x.clamp(min=0).sum().backward()
    torch.relu(x2).sum().backward()
    torch.testing.assert_close(x.grad[:4], x2.grad[:4], rtol=0, atol=0)
    assert x2.grad.tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]


def test_two_layer_net_equals_the_sequential_model_given_the_same_weights():
    """TwoLayerNet and the Sequential model compute the same function from the same weights.

    Note: "In the constructor we instantiate two nn.Linear modules and assign them as
    member variables."

    Same weights copied by position; outputs and gradients agree bit for bit: the
    same ops run in the same order.
    """
    sequential = examples.sequential_model()
    custom = TwoLayerNet(D_in, H, D_out)
    custom.load_state_dict(
        {
            new: old
            for new, old in zip(custom.state_dict(), sequential.state_dict().values(), strict=True)
        }
    )
    x = torch.randn(N, D_in)
    torch.testing.assert_close(custom(x), sequential(x), rtol=0, atol=0)
    custom(x).square().sum().backward()
    sequential(x).square().sum().backward()
    for a, b in zip(custom.parameters(), sequential.parameters(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=0)


def test_adam_moves_each_weight_by_about_lr_on_its_first_step():
    """Adam's first step moves each weight by lr = 1e-4 against its gradient, whatever its size.

    Note: "learning_rate = 1e-4"

    On step 1 the bias-corrected moments are g and g^2, so the update is
    lr * g / (|g| + eps) = lr * sign(g) up to eps = 1e-8: a property of Adam, not of SGD.
    """
    model = examples.sequential_model()
    before = [p.detach().clone() for p in model.parameters()]
    x, y = examples.random_data()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    torch.nn.MSELoss(reduction="sum")(model(x), y).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    optimizer.step()
    for p, b, g in zip(model.parameters(), before, grads, strict=True):
        expected = b - 1e-4 * g / (g.abs() + 1e-8)
        # float32: the step of 1e-4 is added to weights of ~0.03, so ~1e-9 absolute error.
        torch.testing.assert_close(p.detach(), expected, rtol=0, atol=1e-8)


@needs_cuda
@pytest.mark.parametrize("train", [examples.train_sequential, examples.train_two_layer_net])
def test_both_examples_on_cuda_match_cpu(train):
    """Each example trained on CUDA ends with the same weights and printed losses as on CPU.

    Note: "for t in range(500):"

    Same data and initial weights on both (the model is built under the same seed and
    moved). 500 steps compound float32 reassociation in cuBLAS: losses to rtol 1e-3,
    weights to rtol 1e-3 / atol 1e-4.
    """
    x, y = examples.random_data()

    def run(x, y):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(1)
            model, printed = train(x, y)
        return dict(model.state_dict()), torch.tensor(list(printed.values()))

    assert_cpu_cuda_close(run, x, y, rtol=1e-3, atol=1e-4)
