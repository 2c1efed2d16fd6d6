"""Tensors — "Getting Started": constructing tensors and reading their size.

Every test quotes the note on its ``Note:`` line; spec/meta checks those quotes. The
functions under test are the implementation's (``tensors = impl.tensors``: the
reference unless ``--impl`` names another); a test marked ``fact`` checks PyTorch
itself.
"""

import numpy as np
import pytest
import torch

from spec.helpers.devices import needs_cuda
from spec.helpers.implementation import impl
from spec.helpers.teach import say

tensors = impl.tensors


def test_rand_5x3_is_float32_uniform_in_half_open_unit_interval():
    """torch.rand(5, 3) is a 5x3 float32 matrix with values in [0, 1).

    Note: "Construct a randomly initialized matrix: `x = torch.rand(5, 3)`"

    "Randomly initialized" means uniform on [0, 1): 0 may occur, 1 never does.
    """
    x = tensors.random_matrix()  # the note: x = torch.rand(5, 3)
    assert isinstance(x, torch.Tensor), say("random_matrix()", "a tensor", type(x).__name__)
    assert x.shape == (5, 3), say("random_matrix()", "shape (5, 3)", tuple(x.shape))
    assert x.dtype == torch.float32 == torch.get_default_dtype(), say(
        "random_matrix()", "float32, the default dtype", x.dtype
    )
    assert bool((x >= 0).all()), say(
        "random_matrix()", "values in [0, 1)", x.min().item(), "use torch.randn? rand is uniform"
    )
    assert bool((x < 1).all()), say("random_matrix()", "values in [0, 1)", x.max().item())
    assert len(set(x.flatten().tolist())) > 1, say("random_matrix()", "random values", x)


@pytest.mark.fact
def test_rand_is_uniform_by_its_moments():
    """torch.rand draws from U[0, 1): mean 1/2 and variance 1/12 on a large sample.

    Note: "Construct a randomly initialized matrix"

    Expected moments come from the formula for U[0, 1); 6 standard errors of slack.
    """
    n = 200_000
    x = torch.rand(n, dtype=torch.float64)
    se_mean = (1 / 12) ** 0.5 / n**0.5
    assert abs(x.mean().item() - 0.5) < 6 * se_mean
    assert abs(x.var().item() - 1 / 12) < 6 * (1 / 180) ** 0.5 / n**0.5


def test_zeros_with_dtype_long_is_int64_zeros():
    """torch.zeros(5, 3, dtype=torch.long) is a 5x3 int64 matrix of zeros.

    Note: "Construct a matrix filled zeros and of dtype long:
    `x = torch.zeros(5, 3, dtype=torch.long)`"
    """
    x = tensors.zeros_long()  # the note: x = torch.zeros(5, 3, dtype=torch.long)
    # torch.long is an alias of torch.int64
    assert x.dtype == torch.int64, say("zeros_long()", "dtype torch.long (int64)", x.dtype)
    np.testing.assert_array_equal(x.numpy(), np.zeros((5, 3), dtype=np.int64))


def test_tensor_from_data_infers_float32_for_python_floats():
    """torch.tensor([5.5, 3]) holds exactly 5.5 and 3.0 as float32.

    Note: "Construct a tensor directly from data: `x = torch.tensor([5.5, 3])`"

    One Python float in the list makes the whole tensor the default float dtype;
    an all-int list would give int64.
    """
    x = tensors.from_data()  # the note: x = torch.tensor([5.5, 3])
    assert x.dtype == torch.float32, say("from_data()", "float32", x.dtype)
    # both exactly representable in float32
    assert x.tolist() == [5.5, 3.0], say("from_data()", "[5.5, 3.0]", x.tolist())
    assert torch.tensor([5, 3]).dtype == torch.int64, "PyTorch itself: an all-int list gives int64"


def test_new_ones_keeps_device_and_layout_and_takes_the_new_dtype(device):
    """x.new_ones(5, 3, dtype=torch.double) takes the new size and dtype, keeps device and layout.

    Note: "These methods will **reuse** properties of the input tensor, e.g. dtype, unless
    new values are provided by user"
    """
    x = torch.zeros(2, 7, dtype=torch.int32, device=device)
    ones, _ = tensors.based_on_existing(x)  # the note: x = x.new_ones(5, 3, dtype=torch.double)
    call = "based_on_existing(x)[0]"
    # size is never inherited: new_* always take one
    assert ones.shape == (5, 3), say(call, "shape (5, 3)", tuple(ones.shape))
    # provided -> overridden
    assert ones.dtype == torch.float64, say(call, "dtype=torch.double", ones.dtype)
    # not provided -> reused
    assert ones.device == x.device, say(call, f"x's device {x.device}", ones.device)
    assert ones.layout == x.layout == torch.strided, say(call, "x's strided layout", ones.layout)
    assert bool((ones == 1).all()), say(call, "ones", ones)
    # and with no dtype given, the input's dtype is reused:
    assert x.new_ones(5, 3).dtype == torch.int32, (
        "PyTorch itself: new_ones without dtype= reuses x's int32"
    )


@pytest.mark.fact
def test_new_ones_does_not_inherit_requires_grad():
    """x.new_ones(...) does not copy requires_grad from x.

    Note: "These methods will **reuse** properties of the input tensor, e.g. dtype"

    requires_grad is a property of x, but not one that is reused.
    """
    x = torch.zeros(3, requires_grad=True)
    assert not x.new_ones(3).requires_grad
    assert not torch.randn_like(x).requires_grad


def test_randn_like_keeps_size_and_device_and_takes_the_new_dtype(device):
    """torch.randn_like(x, dtype=torch.float) keeps x's size and device, overrides dtype.

    Note: "`x = torch.randn_like(x, dtype=torch.float)`"
    """
    x = torch.zeros(2, 7, dtype=torch.int32, device=device)
    ones, y = tensors.based_on_existing(x)  # the note: x = torch.randn_like(x, dtype=torch.float)
    call = "based_on_existing(x)[1]"
    assert y.shape == ones.shape == (5, 3), say(call, "the size of x.new_ones(5, 3)", y.shape)
    assert y.device == x.device, say(call, f"x's device {x.device}", y.device)
    # torch.float is an alias of torch.float32; without dtype= it would be ones' float64
    assert y.dtype == torch.float32, say(
        call, "dtype=torch.float (float32)", y.dtype,
        "leave out dtype=torch.float? randn_like then reuses the input's float64"
        if y.dtype == torch.float64 else None,
    )  # fmt: skip
    assert y.layout == x.layout, say(call, "x's layout", y.layout)
    assert len(set(y.flatten().tolist())) > 1, say(call, "random normal values", y)
    assert not torch.equal(y, torch.ones_like(y)), say(call, "randn_like, not a copy of ones", y)


@pytest.mark.fact
def test_randn_like_also_reuses_strides_but_new_ones_does_not():
    """randn_like reuses the input's memory layout (strides); new_ones is always contiguous.

    Note: "These methods will **reuse** properties of the input tensor"

    Not in the note: ``*_like`` functions default to ``memory_format=torch.preserve_format``,
    so a transposed input gives a transposed-strided result; ``new_*`` take only a size.
    """
    x = torch.zeros(3, 5).t()  # shape (5, 3), strides (1, 5): not contiguous
    assert torch.randn_like(x).stride() == x.stride() == (1, 5)
    assert x.new_ones(5, 3).stride() == (3, 1)
    assert torch.randn_like(x, memory_format=torch.contiguous_format).is_contiguous()


@pytest.mark.fact
def test_size_is_a_torch_size_which_is_a_tuple():
    """x.size() is a torch.Size, and torch.Size is in fact a tuple.

    Note: "Get its size (shape in numpy/pandas): `x.size()` [Note: `torch.Size` is in fact a tuple]"
    """
    x = torch.rand(5, 3)
    size = x.size()
    assert type(size) is torch.Size
    assert isinstance(size, tuple)
    assert size == (5, 3)
    assert x.shape == size  # .shape is the same object type, the NumPy spelling
    rows, cols = size  # so it unpacks like one
    assert (rows, cols) == (5, 3)
    assert size.numel() == 15


@pytest.mark.fact
@needs_cuda
def test_same_seed_gives_different_numbers_on_cpu_and_cuda():
    """torch.manual_seed(0) then torch.rand(5, 3) on CPU and on CUDA gives different numbers.

    Note: "Construct a randomly initialized matrix: `x = torch.rand(5, 3)`"

    Not in the note, and a trap for CPU-vs-CUDA comparisons: the CPU generator
    (Mersenne Twister) and the CUDA one (Philox) produce different streams from the
    same seed. So the spec makes inputs on the CPU and moves them.
    """
    torch.manual_seed(0)
    on_cpu = torch.rand(5, 3)
    torch.manual_seed(0)
    on_cuda = torch.rand(5, 3, device="cuda").cpu()
    assert not torch.equal(on_cpu, on_cuda)
    assert bool((on_cuda >= 0).all())
    assert bool((on_cuda < 1).all())
