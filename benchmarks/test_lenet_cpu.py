"""The C training step (benchmarks/lenet_cpu.py): the note's step, checked before it is timed.

Its loss is the note's criterion's; one step moves every weight as SGD with momentum
moves it with the gradient autograd computes in float64 (so the C code's backward,
written by hand, is checked against an independent one); k steps end where the note's
eager loop ends to float32 rounding; threads share out the work without changing a
sum; and what it cannot do it says.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from benchmarks import lenet_cpu
from reference import cifar10

pytestmark = pytest.mark.skipif(
    bool(lenet_cpu.unavailable()), reason=f"cpu_fused: {lenet_cpu.unavailable()}"
)

LR, MOMENTUM = 0.001, 0.9


def batch_of(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)


def fresh_net(seed: int = 0) -> cifar10.Net:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cifar10.Net()


@pytest.mark.parametrize("batch", [1, 3, 4, 17, 37])
def test_one_step_moves_each_weight_by_lr_times_the_float64_gradient(batch):
    """After one step from zero momentum, w - w' = lr * grad, grad from autograd in float64
    on the same net and batch; and the loss returned is the note's cross-entropy. (37: the
    large batches' fc forward, whole blocks of rows and the rows left over.)"""
    x, y = batch_of(batch)
    net = fresh_net()
    twin = copy.deepcopy(net).double()
    loss64 = F.cross_entropy(twin(x.double()), y)
    loss64.backward()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    loss = lenet_cpu.FusedStep(net, LR, MOMENTUM, batch)(x, y)
    torch.testing.assert_close(loss.double(), loss64.detach(), rtol=1e-5, atol=1e-6)
    eps = torch.finfo(torch.float32).eps
    for name, p in twin.named_parameters():
        moved = (before[name] - net.state_dict()[name]).double()
        # a float32 forward and backward against a float64 one: 1e-3 of the step; and the
        # step is read off float32 weights (~0.1) moved by ~1e-5, so each side of the
        # subtraction is rounded to the weight's spacing: 2 ulps of the largest weight
        ulps = 2 * eps * before[name].abs().max().item()
        torch.testing.assert_close(moved, LR * p.grad, rtol=1e-3, atol=ulps, msg=name)


def test_ten_steps_end_where_the_notes_loop_ends():
    """The note's loop (zero_grad, forward, cross-entropy, backward, SGD(lr=0.001,
    momentum=0.9).step()) and the C step, 10 batches of 4 from the same weights: the
    weights agree to float32 rounding carried by momentum (the benchmarks' tolerance)."""
    net, note = fresh_net(), fresh_net()
    optimizer = torch.optim.SGD(note.parameters(), lr=LR, momentum=MOMENTUM)
    step = lenet_cpu.FusedStep.from_optimizer(net, torch.optim.SGD(net.parameters(), lr=LR,
                                              momentum=MOMENTUM), 4)  # fmt: skip
    for i in range(10):
        x, y = batch_of(4, seed=i)
        optimizer.zero_grad()
        F.cross_entropy(note(x), y).backward()
        optimizer.step()
        step(x, y)
    torch.testing.assert_close(net.state_dict(), note.state_dict(), rtol=1e-4, atol=1e-5)
    for p in note.parameters():
        torch.testing.assert_close(
            step.state[dict(zip(map(id, note.parameters()), net.parameters(), strict=True))[id(p)]][
                "momentum_buffer"
            ],
            optimizer.state[p]["momentum_buffer"], rtol=1e-3, atol=1e-6,
        )  # fmt: skip


def test_threads_share_the_work_without_changing_a_sum():
    """A batch of 20 (past the threshold where images are shared out) on two threads ends
    bit for bit where one thread ends: each sum is made by one thread in one order."""
    x, y = batch_of(20)
    one, two = fresh_net(), fresh_net()
    for net, threads in ((one, 1), (two, 2)):
        step = lenet_cpu.FusedStep(net, LR, MOMENTUM, 20, threads=threads)
        for _ in range(3):
            step(x, y)
    torch.testing.assert_close(two.state_dict(), one.state_dict(), rtol=0, atol=0)


def test_a_step_on_two_threads_leaves_the_caller_s_threads_as_they_were():
    """The step's ``threads`` hold for the step only: OpenMP's thread count is the whole
    process's, torch's intra-op threads included, and a step that left it at 2 made every
    later test of its pytest worker run on 2 threads."""
    x, y = batch_of(20)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        lenet_cpu.FusedStep(fresh_net(), LR, MOMENTUM, 20, threads=2)(x, y)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


def test_what_it_is_not_written_for_is_refused_naming_what_it_expects():
    net = fresh_net()
    adam = torch.optim.Adam(net.parameters())
    with pytest.raises(ValueError, match=r"expected SGD\(lr, momentum\) over the Net's"):
        lenet_cpu.FusedStep.from_optimizer(net, adam, 4)
    nesterov = torch.optim.SGD(net.parameters(), lr=LR, momentum=MOMENTUM, nesterov=True)
    with pytest.raises(ValueError, match="no dampening, nesterov"):
        lenet_cpu.FusedStep.from_optimizer(net, nesterov, 4)
    step = lenet_cpu.FusedStep(net, LR, MOMENTUM, 4)
    with pytest.raises(ValueError, match=r"expected float32 images \(4, 3, 32, 32\)"):
        step(torch.zeros(4, 1, 32, 32), torch.zeros(4, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"expected int64 labels \(4,\)"):
        step(torch.zeros(4, 3, 32, 32), torch.zeros(4, dtype=torch.int32))
    with pytest.raises(ValueError, match="written for the note's CIFAR Net"):
        lenet_cpu.FusedStep(torch.nn.Module(), LR, MOMENTUM, 4)
    with pytest.raises(ValueError, match="expected a batch of 1 or more"):
        lenet_cpu.FusedStep(net, LR, MOMENTUM, 0)


def test_it_is_built_once_and_a_machine_without_a_compiler_is_told_so(monkeypatch, tmp_path):
    """The library is compiled once per source and flags (the second build finds it);
    where there is no C compiler the error says so, and nothing is left half-written."""
    first = lenet_cpu.build()
    stamp = first.stat().st_mtime_ns
    assert lenet_cpu.build() == first
    assert first.stat().st_mtime_ns == stamp
    monkeypatch.setattr(lenet_cpu, "CACHE", tmp_path / "cache")
    monkeypatch.setenv("CC", "no-such-compiler-here")
    assert "no C compiler" in lenet_cpu.unavailable()
    with pytest.raises(RuntimeError, match=r"cannot be built: no C compiler \('no-such"):
        lenet_cpu.build()
    assert not (tmp_path / "cache").exists()


def test_the_profile_names_every_part_of_the_step():
    """``python -m benchmarks.lenet_cpu profile``: each part of the step with its share;
    the parts add up to a step (some microseconds, not nothing)."""
    parts = lenet_cpu.profile(batch=4, steps=20)
    names = [name for name, _ in parts]
    assert names[1].startswith("conv1, conv2 forward"), names
    assert names[-1] == "SGD", names
    assert all(us >= 0 for _, us in parts)
    assert sum(us for _, us in parts) > 10, parts


# ------------------------------------------------- the backward pass's products on AMX
needs_amx = pytest.mark.skipif(
    bool(lenet_cpu.amx_unavailable()), reason=f"cpu_fused+bf16: {lenet_cpu.amx_unavailable()}"
)


@needs_amx
@pytest.mark.parametrize(("batch", "threads"), [(1, 1), (4, 1), (37, 2), (260, 2)])
def test_on_the_tiles_the_backward_products_are_bfloat16s_and_the_forward_unchanged(batch, threads):
    """bf16=True: every gradient made by a matrix product of the backward pass (the conv
    and fc layers' weight gradients, their input gradients) within bfloat16's rounding of
    the float64 ones: operands rounded to 8 bits of mantissa, float32 sums, a relative error
    of ~2-6e-3 over a whole tensor, allowed 1e-2. The forward pass and the loss are the
    float32 step's: the loss is the same float, and fc3's bias, whose gradient is the
    loss's own, moves exactly as there."""
    x, y = batch_of(batch)
    fp32, tiles = fresh_net(), fresh_net()
    twin = copy.deepcopy(fp32).double()
    F.cross_entropy(twin(x.double()), y).backward()
    before = {k: v.clone() for k, v in fp32.state_dict().items()}
    loss = lenet_cpu.FusedStep(fp32, 1.0, 0.0, batch, threads=threads)(x, y)  # w' = w - grad
    loss_on_tiles = lenet_cpu.FusedStep(tiles, 1.0, 0.0, batch, threads=threads, bf16=True)(x, y)
    assert loss_on_tiles.item() == loss.item()
    for name, param in twin.named_parameters():
        grad = (before[name] - tiles.state_dict()[name]).double()
        error = float((grad - param.grad).norm() / param.grad.norm())
        assert error < 1e-2, f"{name}'s gradient on the tiles: relative error {error:.2e}"
        if name.endswith("weight"):
            assert error > 1e-5, f"{name}: as exact as float32: the tiles did not run"
    torch.testing.assert_close(tiles.fc3.bias, fp32.fc3.bias, rtol=0, atol=0)


@needs_amx
def test_on_the_tiles_two_threads_give_one_threads_weights_bit_for_bit():
    """A partial sum per block of 8 images, the blocks added in order, whoever ran them
    (260: enough blocks that their sums, too, are shared between threads)."""
    x, y = batch_of(260, seed=2)
    one, two = fresh_net(), fresh_net()
    for net, threads in ((one, 1), (two, 2)):
        step = lenet_cpu.FusedStep(net, LR, MOMENTUM, 260, threads=threads, bf16=True)
        for _ in range(3):
            step(x, y)
    torch.testing.assert_close(two.state_dict(), one.state_dict(), rtol=0, atol=0)


def test_the_tiles_are_refused_saying_why_where_the_cpu_has_none(monkeypatch):
    monkeypatch.setattr(lenet_cpu, "_cpu_flags", lambda: "flags : fpu avx2 avx512f")
    assert "no AMX-BF16 tiles" in lenet_cpu.amx_unavailable()
    with pytest.raises(ValueError, match=r"FusedStep\(bf16=True\): this CPU has no AMX-BF16"):
        lenet_cpu.FusedStep(fresh_net(), LR, MOMENTUM, 4, bf16=True)
