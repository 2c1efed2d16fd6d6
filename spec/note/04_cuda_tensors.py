"""CUDA Tensors — torch.device objects, creating on and moving to a device."""

import pytest
import torch

from spec.helpers.devices import assert_cpu_cuda_close, needs_cuda
from spec.helpers.implementation import impl
from spec.helpers.teach import say

cuda_tensors = impl.cuda_tensors


@pytest.mark.fact
def test_device_objects_parse_type_and_index_without_a_gpu():
    """torch.device("cuda") is a device object; it can be made on any machine.

    Note: "device = torch.device("cuda")          # a CUDA device object"

    Making the object allocates nothing; only using it needs a GPU. "cuda" has no
    index (the current device); "cuda:0" names the first.
    """
    device = torch.device("cuda")
    assert (device.type, device.index) == ("cuda", None)
    assert torch.device("cuda:0") == torch.device("cuda", 0)
    assert torch.device("cuda:0") != device  # "cuda" and "cuda:0" are not equal objects
    assert str(torch.device("cpu")) == "cpu"


@pytest.mark.fact
def test_cuda_is_available_guards_the_cell():
    """The note's cell runs only if torch.cuda.is_available(); on CPU it is skipped.

    Note: "# let us run this cell only if CUDA is available"

    is_available() is a plain bool and never raises, with or without a driver.
    """
    available = torch.cuda.is_available()
    assert isinstance(available, bool)
    assert (torch.cuda.device_count() > 0) == available


@pytest.mark.fact
def test_ones_like_with_device_creates_there_and_keeps_dtype(device):
    """torch.ones_like(x, device=device) creates directly on the device, with x's dtype.

    Note: "y = torch.ones_like(x, device=device)  # directly create a tensor on GPU"
    """
    x = torch.rand(5, 3, dtype=torch.float64)
    y = torch.ones_like(x, device=device)
    assert y.device.type == device.type
    assert y.dtype == x.dtype
    assert y.shape == x.shape
    assert bool((y == 1).all())


def test_to_moves_and_to_cpu_double_changes_device_and_dtype_together(device):
    """z.to("cpu", torch.double) changes device and dtype in one call; z = x + y matches CPU.

    Note: "print(z.to("cpu", torch.double))       # ``.to`` can also change dtype together!"
    """
    x = torch.rand(5, 3)
    # the note: y = torch.ones_like(x, device=device); x = x.to(device); z = x + y
    z, z_cpu_double = cuda_tensors.add_on_device(x, device)
    call = f"add_on_device(x, {device.type!r})"
    assert z.device.type == device.type, say(call, f"z = x + y on {device.type}", z.device)
    assert z.dtype == torch.float32, say(call, "z in x's float32", z.dtype)
    assert z_cpu_double.device.type == "cpu", say(
        call, 'z.to("cpu", torch.double) on the CPU', z_cpu_double.device
    )
    assert z_cpu_double.dtype == torch.float64, say(
        call, 'z.to("cpu", torch.double) in float64', z_cpu_double.dtype
    )
    # Independent computation: float64 arithmetic on the CPU. x + 1 in float32 is
    # exact to within half an ulp of the result, so float32 tolerance suffices.
    torch.testing.assert_close(z_cpu_double, x.double() + 1, rtol=1.2e-7, atol=0)


@pytest.mark.fact
def test_to_is_a_no_op_when_nothing_changes():
    """x.to(device) returns x itself when x is already there with that dtype.

    Note: "x = x.to(device)                       # or just use strings ``.to("cuda")``"

    So `.to` is cheap to call defensively; pass copy=True to force a copy.
    """
    device = torch.device("cpu")
    x = torch.rand(3)
    assert x.to(device) is x
    assert x.to("cpu") is x
    assert x.to("cpu", torch.float32) is x
    assert x.to("cpu", copy=True) is not x


@pytest.mark.fact
def test_string_and_device_object_are_interchangeable(device):
    """.to("cuda") with a string does what .to(torch.device("cuda")) does.

    Note: "or just use strings ``.to("cuda")``"
    """
    x = torch.rand(3)
    by_string = x.to(device.type)
    by_object = x.to(torch.device(device.type))
    assert by_string.device == by_object.device
    torch.testing.assert_close(by_string, by_object, rtol=0, atol=0)


def test_default_device_idiom_picks_cuda_0_only_when_available():
    """device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu").

    Note: "device = torch.device("cuda:0" if torch.cuda.is_available() else "cpu")"
    """
    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    # the note: torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    got = cuda_tensors.default_device()
    assert isinstance(got, torch.device), say("default_device()", "a torch.device", repr(got))
    assert str(got) == expected, say("default_device()", expected, got)


@needs_cuda
def test_the_cell_on_cuda_equals_the_same_cell_on_cpu():
    """z = x + y computed on CUDA equals the CPU computation, bit for bit.

    Note: "z = x + y"

    Same inputs (made on the CPU and moved), one elementwise op: there is no
    reduction order to differ, so the tolerance is zero.
    """
    x = torch.rand(5, 3)
    assert_cpu_cuda_close(lambda t: cuda_tensors.add_on_device(t, t.device), x, rtol=0, atol=0)


@pytest.mark.fact
@needs_cuda
def test_a_cuda_tensor_and_a_cpu_tensor_do_not_mix():
    """x.to("cuda") + a CPU tensor raises: both operands must be on one device.

    Note: "We will use ``torch.device`` objects to move tensors in and out of GPU"

    (A 0-dim CPU tensor is the one exception: it is treated like a Python number.)
    """
    x = torch.rand(3, device="cuda")
    with pytest.raises(RuntimeError, match="Expected all tensors to be on the same device"):
        x + torch.rand(3)
    assert (x + torch.tensor(1.0)).device.type == "cuda"
