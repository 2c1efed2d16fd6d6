"""Update the weights — the SGD rule by hand and with torch.optim."""

import copy
import itertools

import torch

from spec.helpers import teach
from spec.helpers.devices import assert_cpu_cuda_close, needs_cuda
from spec.helpers.implementation import Net, criterion, impl
from spec.helpers.teach import say

update_weights = impl.update_weights


def twin_nets_with_grads():
    """Two identical nets that computed the same loss and hold the same gradients.
    (deepcopy does not copy .grad, so each twin runs its own backward.)"""
    net = Net()
    twin = copy.deepcopy(net)
    input, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
    for n in (net, twin):
        criterion(n(input), target).backward()
    return net, twin


def test_the_manual_rule_equals_optim_sgd_to_within_one_rounding():
    """weight = weight - learning_rate * gradient gives what optim.SGD(lr=0.01).step() gives.

    Note: "weight = weight - learning_rate * gradient"

    Equal to within one float32 rounding, not bit for bit: SGD computes
    ``p.add_(grad, alpha=-lr)``, one fused multiply-add with a single rounding, while
    the formula as written rounds ``lr * grad`` first. The extra rounding is at most
    one ulp of the larger operand, so the tolerance is two ulps of the tensor's
    largest weight (a relative tolerance fails where the update nearly cancels a weight).
    """
    by_hand, by_optim = twin_nets_with_grads()
    before = {n: (p.detach().clone(), p.grad.clone()) for n, p in by_hand.named_parameters()}
    # the note: for f in net.parameters(): f.data.sub_(f.grad.data * learning_rate)
    update_weights.sgd_by_hand(by_hand, learning_rate=0.01)
    update_weights.make_optimizer(by_optim, learning_rate=0.01).step()  # optim.SGD(..., lr=0.01)
    for (name, a), b in zip(by_hand.named_parameters(), by_optim.parameters(), strict=True):
        atol = 2 * torch.finfo(torch.float32).eps * b.abs().max().item()
        weight, grad = before[name]
        teach.close(
            a.detach(), b.detach(), call=f"sgd_by_hand(net, learning_rate=0.01), {name}",
            expects="weight - learning_rate * gradient, written into the parameter",
            rtol=0, atol=atol,
            diagnoses=[lambda a=a, w=weight, g=grad: teach.did_you_step_the_wrong_way(
                w, a.detach(), g, 0.01)],
        )  # fmt: skip


def test_add_with_alpha_is_what_sgd_does_bit_for_bit():
    """p.add_(p.grad, alpha=-lr) reproduces optim.SGD(lr=0.01).step() exactly.

    Note: "The simplest update rule used in practice is the Stochastic Gradient Descent (SGD)"

    Plain SGD (no momentum, no weight decay) is exactly this one line per parameter.
    """
    by_hand, by_optim = twin_nets_with_grads()
    optimizer = update_weights.make_optimizer(by_optim)
    input, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
    for step in range(2):  # a second step would differ with momentum (SGD's default is none)
        with torch.no_grad():
            for p in by_hand.parameters():
                p.add_(p.grad, alpha=-0.01)
        optimizer.step()
        for (name, a), b in zip(by_hand.named_parameters(), by_optim.parameters(), strict=True):
            teach.close(
                b, a, call=f"make_optimizer(net).step(), step {step + 1}, {name}",
                expects="optim.SGD(net.parameters(), lr=0.01): p -= 0.01 * p.grad, no momentum",
                rtol=0, atol=0,
                diagnoses=[lambda: teach.did_you_configure_sgd_otherwise(optimizer, lr=0.01)],
            )  # fmt: skip
        for n in (by_hand, by_optim):
            n.zero_grad()
            torch.nn.functional.mse_loss(n(input), target).backward()


def test_one_step_moves_each_weight_against_its_gradient():
    """After one step, every weight moved by exactly -0.01 * its gradient (float64 check).

    Note: "optimizer.step()    # Does the update"
    """
    net, _ = twin_nets_with_grads()
    before = {n: p.detach().double().clone() for n, p in net.named_parameters()}
    grads = {n: p.grad.double().clone() for n, p in net.named_parameters()}
    update_weights.make_optimizer(net).step()
    for name, p in net.named_parameters():
        # The float32 result is the exact update rounded once (plus the rounding of
        # lr = 0.01 itself), so the error is a few ulps of the largest weight in the
        # tensor; relative error alone fails where the update nearly cancels a weight.
        scale = before[name].abs().max().item()
        torch.testing.assert_close(
            p.detach().double(),
            before[name] - 0.01 * grads[name],
            rtol=0,
            atol=2 * torch.finfo(torch.float32).eps * scale,
            msg=lambda m, name=name: f"{name}: {m}",
        )


def test_the_training_loop_lowers_the_loss_on_a_fixed_batch():
    """Repeating zero_grad, forward, loss, backward, step lowers the loss at every step.

    Note: "optimizer.zero_grad()   # zero the gradient buffers"

    With lr = 0.01 and one fixed (input, target) this is plain gradient descent on a
    smooth-enough function: 20 steps, each lower than the last, ending at least 10%
    lower.
    """
    net = Net()
    optimizer = update_weights.make_optimizer(net)
    input, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
    losses = [
        update_weights.training_step(net, optimizer, criterion, input, target) for _ in range(20)
    ]
    call = "training_step(net, optimizer, criterion, input, target), 20 times"
    assert all(isinstance(v, float) for v in losses), say(
        call,
        "the loss as a Python float",
        type(losses[0]).__name__,
        teach.did_you_forget_item(losses),
    )
    assert all(b < a for a, b in itertools.pairwise(losses)), say(call, "a falling loss", losses)
    assert losses[-1] < 0.9 * losses[0], say(call, "10% lower after 20 steps", losses)


def the_notes_loop(net, optimizer, input, target, steps: int, zero_grad: bool = True):
    """The note's five lines, written out independently of the implementation."""
    losses = []
    for _ in range(steps):
        if zero_grad:
            optimizer.zero_grad()  # zero the gradient buffers
        output = net(input)
        loss = torch.nn.functional.mse_loss(output, target)
        loss.backward()
        optimizer.step()  # Does the update
        losses.append(loss.item())
    return losses


def test_training_step_is_the_notes_five_lines():
    """training_step does zero_grad, forward, loss, backward, step: 3 steps end where the note's lines end.

    Note: "optimizer.zero_grad()   # zero the gradient buffers
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()    # Does the update"

    Compared, bit for bit, with the same five lines written in the test, on a twin net
    with its own optimizer; the value returned is the loss before the step.
    """
    net = Net()
    twin, probe = copy.deepcopy(net), copy.deepcopy(net)
    input, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01)
    returned = [
        update_weights.training_step(net, optimizer, criterion, input, target) for _ in range(3)
    ]
    expected = the_notes_loop(twin, torch.optim.SGD(twin.parameters(), lr=0.01), input, target, 3)

    def forgot_zero_grad():
        loop = the_notes_loop(
            probe, torch.optim.SGD(probe.parameters(), lr=0.01), input, target, 3, False
        )
        state = dict(probe.state_dict())
        same = all(torch.equal(state[k], v) for k, v in net.state_dict().items())
        return teach.ZERO_GRAD if same and loop else None

    teach.close(
        dict(net.state_dict()), dict(twin.state_dict()),
        call="training_step(...), 3 times", expects="the weights of the note's loop after 3 steps",
        rtol=0, atol=0, diagnoses=[forgot_zero_grad],
    )  # fmt: skip
    teach.close(
        torch.tensor(returned), torch.tensor(expected), call="training_step(...)'s return values",
        expects="loss.item() of each step, before its update", rtol=0, atol=0,
    )  # fmt: skip


def test_without_zero_grad_gradients_accumulate_across_steps():
    """Forgetting optimizer.zero_grad() makes the second step use the sum of two gradients.

    Note: "optimizer.zero_grad()   # zero the gradient buffers"
    """
    net = Net()
    optimizer = update_weights.make_optimizer(net)
    input, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
    criterion(net(input), target).backward()
    first = net.fc3.bias.grad.clone()
    criterion(net(input), target).backward()  # same weights, same loss: same gradient again
    torch.testing.assert_close(net.fc3.bias.grad, 2 * first, rtol=1e-6, atol=0)
    optimizer.zero_grad()  # what the note's loop does before each backward
    assert all(p.grad is None or not p.grad.any() for p in net.parameters()), say(
        "make_optimizer(net).zero_grad()",
        "every gradient cleared (None since torch 2.0)",
        [None if p.grad is None else p.grad.abs().sum().item() for p in net.parameters()],
    )  # None since 2.0


@needs_cuda
def test_one_optimizer_step_on_cuda_equals_cpu():
    """One full step of the note's loop gives the same weights on CUDA as on CPU.

    Note: "optimizer.step()    # Does the update"

    Gradients differ by float32 reassociation (rtol 1e-4); times lr = 0.01 that
    moves weights by far less, hence rtol 1e-5 on the updated weights.
    """
    net, input, target = Net(), torch.randn(1, 1, 32, 32), torch.randn(1, 10)

    def step(net, input, target):
        optimizer = update_weights.make_optimizer(net)
        loss = update_weights.training_step(net, optimizer, criterion, input, target)
        return torch.tensor(loss), dict(net.state_dict())

    assert_cpu_cuda_close(step, net, input, target, rtol=1e-5, atol=1e-6)
