"""Backprop — zero the gradient buffers, backward, and what conv1.bias.grad holds."""

import torch

from spec.helpers import teach
from spec.helpers.devices import assert_cpu_cuda_close, needs_cuda
from spec.helpers.drift import changed
from spec.helpers.implementation import Net, impl
from spec.helpers.teach import say

backprop = impl.backprop
loss_function = impl.loss_function


def make_loss(net):
    return loss_function.loss_for(net, torch.randn(1, 1, 32, 32), torch.randn(10))


def test_conv1_bias_grad_before_backward_is_none_not_zeros():
    """After net.zero_grad(), conv1.bias.grad is None, not a tensor of zeros.

    Note: "conv1.bias.grad before backward
    tensor([0., 0., 0., 0., 0., 0.])"

    Changed in torch 2.0: ``zero_grad`` defaults to ``set_to_none=True``, which frees
    the gradient tensors instead of filling them with zeros. The note's output was
    printed with torch 1.x. (The first backward allocates them anew.)
    """
    net = Net()
    make_loss(net).backward()  # so there is a gradient to clear
    assert net.conv1.bias.grad is not None, (
        "the test's own set-up: a backward leaves conv1.bias.grad"
    )
    # the note: net.zero_grad(); print(net.conv1.bias.grad); loss.backward()
    before, _ = backprop.conv1_bias_grad_before_and_after(net, make_loss(net))
    call = "conv1_bias_grad_before_and_after(net, loss)[0]"
    if not changed(
        "zero_grad() sets gradients to None"
    ):  # the note's release line: zeros, as it printed
        assert torch.equal(before, torch.zeros(6)), say(call, "zeros after zero_grad()", before)
        return
    assert before is None, say(
        call, "None: net.zero_grad() sets gradients to None since torch 2.0", before,
        "read conv1.bias.grad before calling net.zero_grad()?" if before is not None and before.any()
        else None,
    )  # fmt: skip


def test_with_zeroing_zero_grad_the_before_reading_is_the_notes_zeros():
    """Where zero_grad fills the buffers with zeros (torch 1.x, set_to_none=False), "before" reads the note's zeros.

    Note: "conv1.bias.grad before backward
    tensor([0., 0., 0., 0., 0., 0.])"

    The reading is whatever net.conv1.bias.grad holds after net.zero_grad(), copied: here
    a net whose zero_grad zeroes instead of freeing, as every net did when the note was
    written.
    """
    net = Net()

    class Zeroing(type(net)):
        def zero_grad(self, set_to_none: bool = False):
            super().zero_grad(set_to_none=False)

    zeroing = Zeroing()
    zeroing.load_state_dict(net.state_dict())
    make_loss(zeroing).backward()
    before, after = backprop.conv1_bias_grad_before_and_after(zeroing, make_loss(zeroing))
    call = "conv1_bias_grad_before_and_after(a zeroing net, loss)"
    assert before is not None, say(call, "the zeros conv1.bias.grad holds", None)
    assert before.tolist() == [0.0] * 6, say(call, "tensor([0., 0., 0., 0., 0., 0.])", before)
    assert bool((after != 0).any()), say(call, "the gradient after backward", after)
    assert before.data_ptr() != zeroing.conv1.bias.grad.data_ptr(), say(
        call, "a copy of the zeros (the buffer is filled again by backward)", "the buffer itself"
    )


def test_zero_grad_set_to_none_false_gives_the_notes_zeros():
    """net.zero_grad(set_to_none=False) reproduces the note's tensor([0., 0., 0., 0., 0., 0.]).

    Note: "net.zero_grad()     # zeroes the gradient buffers of all parameters"
    """
    net = Net()
    make_loss(net).backward()
    net.zero_grad(set_to_none=False)
    assert net.conv1.bias.grad.tolist() == [0.0] * 6, say(
        "net.zero_grad(set_to_none=False)",
        "conv1.bias.grad all zeros",
        net.conv1.bias.grad.tolist(),
    )


def test_conv1_bias_grad_after_backward_is_nonzero_with_conv1_bias_shape():
    """After loss.backward(), conv1.bias.grad is a non-zero tensor of shape (6,).

    Note: "conv1.bias.grad after backward"

    The note's numbers (1.2122e-03, ...) come from its own random draw and cannot be
    reproduced; their shape and that they are not all zero can.
    """
    net = Net()
    _, after = backprop.conv1_bias_grad_before_and_after(net, make_loss(net))
    call = "conv1_bias_grad_before_and_after(net, loss)[1]"
    assert after is not None, say(call, "conv1.bias.grad after loss.backward()", None,
                                  "return the gradient before calling loss.backward()?")  # fmt: skip
    assert after.shape == (6,), say(call, "shape (6,), like conv1.bias", tuple(after.shape))
    assert bool((after != 0).any()), say(call, "a non-zero gradient", after)


def test_conv1_bias_grad_matches_a_central_finite_difference():
    """conv1.bias.grad equals (L(b + h e_i) - L(b - h e_i)) / 2h for each of the 6 biases.

    Note: "loss.backward()"

    An independent check in float64: perturb each bias, recompute the loss, and
    compare. h = 1e-6 keeps truncation error ~1e-12; ReLU/max-pool kinks are
    not hit by random data at that distance.
    """
    net = Net().double()
    input, target = torch.randn(1, 1, 32, 32, dtype=torch.float64), torch.randn(10).double()
    _, grad = backprop.conv1_bias_grad_before_and_after(
        net, loss_function.loss_for(net, input, target)
    )
    assert grad.dtype == torch.float64, say(
        "conv1_bias_grad_before_and_after(net.double(), loss)[1]", "a float64 gradient", grad.dtype
    )
    h = 1e-6
    estimate = torch.zeros(6, dtype=torch.float64)
    with torch.no_grad():
        for i in range(6):
            net.conv1.bias[i] += h
            up = loss_function.loss_for(net, input, target)
            net.conv1.bias[i] -= 2 * h
            down = loss_function.loss_for(net, input, target)
            net.conv1.bias[i] += h
            estimate[i] = (up - down) / (2 * h)
    teach.close(
        grad, estimate, call="conv1_bias_grad_before_and_after(net, loss)[1]",
        expects="d loss / d conv1.bias, as central differences measure it", rtol=1e-5, atol=1e-9,
    )  # fmt: skip


@needs_cuda
def test_backprop_on_cuda_equals_cpu():
    """The same loss gives the same gradients for every parameter on CUDA as on CPU.

    Note: "loss.backward()"

    rtol 1e-4 / atol 1e-6: cuDNN's convolution backward sums in another order.
    """
    net, input, target = Net(), torch.randn(1, 1, 32, 32), torch.randn(10)

    def grads(net, input, target):
        net.zero_grad()
        loss = loss_function.loss_for(net, input, target)
        loss.backward()
        return {n: p.grad for n, p in net.named_parameters()}

    assert_cpu_cuda_close(grads, net, input, target, rtol=1e-4, atol=1e-6)
