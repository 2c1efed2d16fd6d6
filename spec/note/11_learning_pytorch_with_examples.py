"""Learning PyTorch with Examples — a two-layer net: nn.Sequential + Adam, custom Module + SGD."""

import copy
import itertools

import pytest
import torch

from spec.helpers import teach
from spec.helpers.devices import assert_cpu_cuda_close, needs_cuda
from spec.helpers.implementation import impl
from spec.helpers.teach import say

examples = impl.examples

#: The note's sizes, N, D_in, H, D_out = 64, 1000, 100, 10 (the implementation's own are
#: checked against these in the first test).
N, D_in, H, D_out = 64, 1000, 100, 10


def train(name: str, *args, **kwargs):
    """``examples.train_sequential(...)`` or ``examples.train_two_layer_net(...)``, by name."""
    if name == "train_sequential":
        return examples.train_sequential(*args, **kwargs)
    return examples.train_two_layer_net(*args, **kwargs)


@pytest.fixture(scope="module")
def data():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return examples.random_data()


#: How many optimizer steps each default run took (counted by the fixtures below).
STEPS: dict[str, int] = {}


def counting_steps(name: str, run):
    """``run()``, counting every optimizer step it takes into STEPS[name]."""
    counts = []
    real = {cls: cls.step for cls in (torch.optim.Adam, torch.optim.SGD)}
    with pytest.MonkeyPatch.context() as patch:
        for cls, step in real.items():
            patch.setattr(
                cls,
                "step",
                lambda self, *a, _step=step, **k: counts.append(1) or _step(self, *a, **k),
            )
        result = run()
    STEPS[name] = len(counts)
    return result


@pytest.fixture(scope="module")
def sequential_run(data):
    with torch.random.fork_rng():
        torch.manual_seed(1)
        return counting_steps("sequential_run", lambda: examples.train_sequential(*data))


@pytest.fixture(scope="module")
def two_layer_run(data):
    with torch.random.fork_rng():
        torch.manual_seed(1)
        return counting_steps("two_layer_run", lambda: examples.train_two_layer_net(*data))


def test_the_sizes_are_the_notes():
    """N, D_in, H, D_out = 64, 1000, 100, 10; x is (N, D_in), y is (N, D_out).

    Note: "N, D_in, H, D_out = 64, 1000, 100, 10"
    """
    x, y = examples.random_data()
    sizes = (examples.N, examples.D_in, examples.H, examples.D_out)
    assert sizes == (N, D_in, H, D_out), say(
        "examples' N, D_in, H, D_out", (N, D_in, H, D_out), sizes
    )
    assert x.shape == (64, 1000), say("random_data()[0]", "x shaped (N, D_in)", tuple(x.shape))
    assert y.shape == (64, 10), say("random_data()[1]", "y shaped (N, D_out)", tuple(y.shape))
    assert x.dtype == y.dtype == torch.float32, say(
        "random_data()", "float32 x and y (torch.randn's default)", (x.dtype, y.dtype)
    )
    assert x.std() > 0.5, say(
        "random_data()", "torch.randn: standard normal values", x.std().item()
    )


def test_the_sequential_model_is_linear_relu_linear_with_the_notes_shapes():
    """torch.nn.Sequential(Linear(D_in, H), ReLU(), Linear(H, D_out)) maps (64, 1000) to (64, 10).

    Note: "torch.nn.Linear(D_in, H),"
    """
    model = examples.sequential_model()
    layers = [type(m).__name__ for m in model]
    assert layers == ["Linear", "ReLU", "Linear"], say(
        "sequential_model()", "Linear, ReLU, Linear", layers
    )
    shapes = [tuple(p.shape) for p in model.parameters()]
    expected = [(H, D_in), (H,), (D_out, H), (D_out,)]
    assert shapes == expected, say("sequential_model()'s parameters", expected, shapes)
    assert model(torch.randn(N, D_in)).shape == (N, D_out), say(
        "sequential_model()(x)", "(N, D_out) = (64, 10)", tuple(model(torch.randn(N, D_in)).shape)
    )


@pytest.mark.parametrize("run", ["sequential_run", "two_layer_run"])
def test_the_printed_loss_strictly_falls_at_steps_99_to_499(
    run, sequential_run, two_layer_run, record_property
):
    """The loss printed at t = 99, 199, ..., 499 falls at every print, for both examples.

    Note: "if t % 100 == 99:"

    MSELoss(reduction='sum') on random targets: the 64 x 10 targets are fitted
    (memorised) by a 100k-parameter model, so the loss falls by orders of magnitude.
    """
    _, printed = sequential_run if run == "sequential_run" else two_layer_run
    call = (
        run.replace("_run", "")
        .replace("sequential", "train_sequential")
        .replace("two_layer", "train_two_layer_net")
        + "(x, y)"
    )
    assert list(printed) == [99, 199, 299, 399, 499], say(
        call, "prints at t = 99, 199, ..., 499", list(printed)
    )
    values = list(printed.values())
    record_property("loss at t=99 -> 499", f"{values[0]:.4g} -> {values[-1]:.4g}")
    assert STEPS[run] == 500, say(call, "for t in range(500): 500 steps", STEPS[run])
    assert all(b < a for a, b in itertools.pairwise(values)), say(call, "a falling loss", values)
    assert values[-1] < values[0] / 100, say(call, "a loss 100x lower at t=499", values)


def the_notes_loop(
    model, optimizer, x, y, steps: int, zero_grad: bool = True, reduction: str = "sum"
) -> dict[int, float]:
    """The note's two-layer loop, written out here: {t: loss} at every t % 100 == 99
    (with ``zero_grad=False`` or ``reduction="mean"``: a classic mistake's loop)."""
    loss_fn = torch.nn.MSELoss(reduction=reduction)
    printed = {}
    for t in range(steps):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            printed[t] = loss.item()
        if zero_grad:
            optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return printed


@pytest.mark.parametrize(
    ("name", "optimizer"),
    [("train_sequential", torch.optim.Adam), ("train_two_layer_net", torch.optim.SGD)],
)
def test_each_example_trains_exactly_as_the_notes_loop(name, optimizer, data):
    """train_sequential (Adam) and train_two_layer_net (SGD), lr 1e-4, make the note's 200 steps: same weights, same printed losses.

    Note: "loss_fn = torch.nn.MSELoss(reduction='sum')"

    The model each builds is rebuilt under the same seed and trained by the note's loop,
    written out in the test (MSELoss with reduction='sum', the optimizer the note names,
    learning rate 1e-4): weights and printed losses agree bit for bit.
    """
    x, y = data
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model, printed = train(name, x, y, steps=200)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        twin = train(name, x, y, steps=0)[0]
    untrained = copy.deepcopy(twin)
    expected = the_notes_loop(twin, optimizer(twin.parameters(), lr=1e-4), x, y, 200)

    def mistaken_loop(hint, **mistake):
        probe = copy.deepcopy(untrained)
        the_notes_loop(probe, optimizer(probe.parameters(), lr=1e-4), x, y, 200, **mistake)
        same = all(torch.equal(v, model.state_dict()[k]) for k, v in probe.state_dict().items())
        return hint if same else None

    def forgot_zero_grad():
        return mistaken_loop(teach.ZERO_GRAD, zero_grad=False)

    def mean_loss():
        return mistaken_loop(teach.MEAN_NOT_SUM, reduction="mean")

    teach.close(
        dict(model.state_dict()), dict(twin.state_dict()), call=f"{name}(x, y, steps=200)",
        expects=f"the weights of the note's loop ({optimizer.__name__}, lr=1e-4, MSELoss sum)",
        rtol=0, atol=0, diagnoses=[forgot_zero_grad, mean_loss],
    )  # fmt: skip
    teach.close(
        torch.tensor(list(printed.values())), torch.tensor(list(expected.values())),
        call=f"{name}(...)'s printed losses", expects="loss.item() at t = 99 and 199",
        rtol=0, atol=0,
    )  # fmt: skip


@pytest.mark.fact
def test_mse_loss_sum_is_the_sum_of_squared_errors():
    """loss_fn = torch.nn.MSELoss(reduction='sum') adds the squared errors, it does not average.

    Note: "loss_fn = torch.nn.MSELoss(reduction='sum')"
    """
    a, b = torch.randn(N, D_out, dtype=torch.float64), torch.randn(N, D_out, dtype=torch.float64)
    expected = ((a - b) ** 2).sum()
    torch.testing.assert_close(torch.nn.MSELoss(reduction="sum")(a, b), expected)


@pytest.mark.fact
def test_clamp_min_0_is_relu():
    """h_relu = self.linear1(x).clamp(min=0) is exactly ReLU: the same values, and the same gradients away from 0.

    Note: "h_relu = self.linear1(x).clamp(min=0)"

    At exactly 0 the two may differ: ReLU passes gradient 0 there on every release;
    clamp passed 1 on torch 2.9.1 and passes 0 on 2.14.1 (see the drift chapter). With
    real-valued activations an exact 0 practically never occurs, so training is the same.
    """
    linear1 = torch.nn.Linear(5, 4)
    h = linear1(torch.randn(3, 5))
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
    custom = examples.TwoLayerNet(D_in, H, D_out)
    custom.load_state_dict(
        {
            new: old
            for new, old in zip(custom.state_dict(), sequential.state_dict().values(), strict=True)
        }
    )
    x = torch.randn(N, D_in)
    teach.close(
        custom(x), sequential(x), call="TwoLayerNet(D_in, H, D_out)(x)",
        expects="linear2(linear1(x).clamp(min=0)): the Sequential model's output", rtol=0, atol=0,
    )  # fmt: skip
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
@pytest.mark.parametrize("name", ["train_sequential", "train_two_layer_net"])
def test_both_examples_on_cuda_match_cpu(name):
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
            model, printed = train(name, x, y)
        return dict(model.state_dict()), torch.tensor(list(printed.values()))

    assert_cpu_cuda_close(run, x, y, rtol=1e-3, atol=1e-4)


# ----------------------------------------------------------------------------- the reference's own (not asked of your code)
@pytest.mark.extra
def test_fit_hands_each_printed_loss_to_log_with_its_step():
    """``fit(..., log=f)`` calls ``f(t, loss)`` for each loss it returns, in order.

    Beyond the note: the note prints ``t, loss.item()``; the reference hands the pair to a callback.
    """
    torch.manual_seed(0)
    model = examples.TwoLayerNet(12, 4, 3)
    x, y = torch.randn(8, 12), torch.randn(8, 3)
    seen = []
    printed = examples.fit(model, torch.optim.SGD(model.parameters(), lr=1e-4), x, y,
                           steps=300, log=lambda t, loss: seen.append((t, loss)))  # fmt: skip
    assert seen == list(printed.items())
    assert [t for t, _ in seen] == [99, 199, 299]
    assert all(isinstance(loss, float) for _, loss in seen)


@pytest.mark.extra
def test_fit_without_steps_runs_the_notes_500():
    """``fit(model, optimizer, x, y)`` runs the note's 500 steps: the weights of the note's loop after 500.

    Beyond the note: ``fit`` is the reference's name for the note's loop; its default is
    the note's ``for t in range(500):``. Checked on a small net, against the loop written
    out above (one step more or less moves the weights).
    """
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = examples.TwoLayerNet(12, 4, 3)
        x, y = torch.randn(8, 12), torch.randn(8, 3)
    twin = copy.deepcopy(model)
    printed = examples.fit(model, torch.optim.SGD(model.parameters(), lr=1e-4), x, y)
    expected = the_notes_loop(twin, torch.optim.SGD(twin.parameters(), lr=1e-4), x, y, 500)
    assert list(printed) == list(expected), say(
        "fit(model, optimizer, x, y)", f"prints at t = {list(expected)}", list(printed)
    )
    teach.close(
        dict(model.state_dict()), dict(twin.state_dict()), call="fit(model, optimizer, x, y)",
        expects="the weights after the note's 500 steps", rtol=0, atol=0,
    )  # fmt: skip
