"""AUTOGRAD: AUTOMATIC DIFFERENTIATION — tracking history, backward, and torch.no_grad()."""

import pytest
import torch

from spec.helpers import teach
from spec.helpers.devices import assert_cpu_cuda_close, needs_cuda
from spec.helpers.implementation import impl
from spec.helpers.teach import say

autograd = impl.autograd


def small_model() -> torch.nn.Module:
    """A model with trainable parameters (``requires_grad=True``), as the note says;
    the spec's own, so that this chapter needs no network from the next one."""
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 10)
    )


def count_saved_tensors(fn):
    """Run fn() and count the tensors autograd saves for a backward pass."""
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return result, len(saved)


@pytest.mark.fact
def test_operations_on_a_tensor_that_requires_grad_are_tracked():
    """An operation on a tensor with requires_grad=True records a grad_fn; the leaf has none.

    Note: "To prevent tracking history (and using memory)"

    "Tracking history" is this graph of grad_fn nodes, built as the code runs.
    """
    x = torch.ones(2, 2, requires_grad=True)
    y = x + 2
    assert x.is_leaf
    assert x.grad_fn is None
    assert y.requires_grad
    assert not y.is_leaf
    assert type(y.grad_fn).__name__ == "AddBackward0"


def test_backward_of_the_blitz_expression_gives_the_formula():
    """out = mean(3 (x + 2)^2) at x = 1 has d out / dx = 6 (x + 2) / 4 = 4.5 everywhere.

    Beyond the note: its autograd section keeps only the `torch.no_grad()` tip; this is the
    blitz's own example (``y = x + 2; z = y * y * 3; out = z.mean()``) that it summarizes.

    Expected value from the derivative worked out by hand, not from autograd.
    """
    x = torch.ones(2, 2, requires_grad=True)
    out = autograd.blitz_out(x)  # the note: y = x + 2; z = y * y * 3; out = z.mean()
    assert out.item() == 27.0, say("blitz_out(ones)", "mean(3 (1 + 2)^2) = 27", out.item())
    out.backward()
    teach.close(
        x.grad, torch.full((2, 2), 4.5), call="blitz_out(x).backward()",
        expects="d out / dx = 6 (x + 2) / 4 = 4.5", rtol=0, atol=0,
    )  # fmt: skip


def test_gradients_accumulate_until_zeroed():
    """A second backward adds to .grad instead of overwriting it.

    Note: "Zero the gradient buffers of all parameters"

    That is why every training loop in the note zeroes gradients first.
    """
    x = torch.ones(2, 2, requires_grad=True)
    out = autograd.blitz_out(x)
    out.backward(retain_graph=True)
    out.backward()
    torch.testing.assert_close(x.grad, torch.full((2, 2), 9.0), rtol=0, atol=0)


@pytest.mark.fact
def test_no_grad_records_no_history():
    """Inside torch.no_grad(), results have requires_grad=False and no grad_fn.

    Note: "To prevent tracking history (and using memory), you can also wrap the code
    block in with `torch.no_grad()`."
    """
    x = torch.ones(2, 2, requires_grad=True)
    with torch.no_grad():
        y = x * 2
    assert not y.requires_grad
    assert y.grad_fn is None
    assert x.requires_grad  # the input itself is unchanged
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        y.sum().backward()


@pytest.mark.fact
def test_no_grad_saves_no_tensors_for_backward():
    """Outside no_grad, x * x saves its inputs for backward; inside, nothing is saved.

    Note: "To prevent tracking history (and using memory)"

    This is the memory the note means: tensors kept alive only so a backward pass
    could use them. Counted with torch.autograd.graph.saved_tensors_hooks.
    """
    x = torch.randn(100, requires_grad=True)
    _, saved_with_grad = count_saved_tensors(lambda: (x * x).sin())
    with torch.no_grad():
        _, saved_without = count_saved_tensors(lambda: (x * x).sin())
    assert saved_with_grad >= 2  # x twice for mul, the product for sin
    assert saved_without == 0


def test_evaluating_a_model_under_no_grad():
    """Evaluating a model under no_grad: parameters still require grad, the output does not.

    Note: "This can be particularly helpful when **evaluating a model** because the model
    may have trainable parameters with `requires_grad=True`, but for which we don’t need
    the gradients."
    """
    net = small_model()
    inputs = torch.randn(2, 1, 8, 8)
    # the note: with torch.no_grad(): ...
    out, saved = count_saved_tensors(lambda: autograd.evaluate(net, inputs))
    call = "evaluate(model, inputs)"
    assert all(p.requires_grad for p in net.parameters()), say(
        call, "the parameters to keep requires_grad=True", "it changed them"
    )
    assert not out.requires_grad, say(call, "an output that records no history",
                                      "out.requires_grad is True", teach.NO_GRAD)  # fmt: skip
    assert out.grad_fn is None, say(call, "an output with no grad_fn", out.grad_fn)
    assert saved == 0, say(call, "nothing saved for a backward pass", f"{saved} tensors saved")
    _, saved_training = count_saved_tensors(lambda: net(inputs))
    assert saved_training > 3, (
        "the test's own check: a forward with autograd on saves tensors"
    )  # every layer keeps inputs/indices for backward
    teach.close(
        out, net(inputs).detach(), call=call, expects="the model's own output", rtol=0, atol=0
    )


@pytest.mark.fact
def test_detach_shares_data_but_leaves_the_graph():
    """x.detach() shares x's memory but has no history; in-place edits to it are seen by autograd.

    Note: "To prevent tracking history"

    detach is the other way to stop tracking (for one tensor rather than a block).
    Writing through it bumps the shared version counter, so a backward that needs
    the old value refuses to run instead of silently using the new one.
    """
    x = torch.randn(3, requires_grad=True)
    y = x.exp()  # exp saves its output for backward
    d = y.detach()
    assert not d.requires_grad
    assert d.grad_fn is None
    assert d.data_ptr() == y.data_ptr()
    d.zero_()
    assert bool((y == 0).all())
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_gradcheck_of_the_blitz_expression_in_float64():
    """blitz_out's gradient matches finite differences (float64), and its value is the formula's.

    Beyond the note: its autograd section keeps only the `torch.no_grad()` tip; this is the
    blitz's own example (``y = x + 2; z = y * y * 3; out = z.mean()``) that it summarizes.
    """
    x = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(autograd.blitz_out, (x,)), (
        "blitz_out's gradient disagrees with finite differences"
    )
    assert torch.autograd.gradgradcheck(autograd.blitz_out, (x,)), (
        "blitz_out's second derivative disagrees with finite differences"
    )
    teach.close(
        autograd.blitz_out(x), (3 * (x.detach() + 2) ** 2).mean(), call="blitz_out(x)",
        expects="y = x + 2; z = y * y * 3; out = z.mean()", rtol=1e-12, atol=0,
    )  # fmt: skip


@pytest.mark.fact
@pytest.mark.parametrize(
    "fn",
    [lambda x: (x * x * 3).sum(), lambda x: (x + 2).pow(2).mean().sqrt()],
    ids=["sum(3 x^2)", "sqrt(mean((x+2)^2))"],
)
def test_gradcheck_in_float64(fn):
    """Autograd's gradients of expressions like the blitz's match finite differences (float64).

    Beyond the note: its autograd section keeps only the `torch.no_grad()` tip; this is the
    blitz's own example (``y = x + 2; z = y * y * 3; out = z.mean()``) that it summarizes.
    """
    x = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fn, (x,))
    assert torch.autograd.gradgradcheck(fn, (x,))


@needs_cuda
def test_gradients_on_cuda_equal_cpu():
    """The blitz expression's gradient is the same on CUDA as on CPU.

    Beyond the note: its autograd section keeps only the `torch.no_grad()` tip; this is the
    blitz's own example (``y = x + 2; z = y * y * 3; out = z.mean()``) that it summarizes.

    mean() over 4 elements may sum in another order on the GPU: float32 tolerance.
    """

    def grad_of(x):
        x = x.clone().requires_grad_()
        autograd.blitz_out(x).backward()
        return x.grad

    assert_cpu_cuda_close(grad_of, torch.randn(2, 2), rtol=1.3e-6, atol=1e-5)
