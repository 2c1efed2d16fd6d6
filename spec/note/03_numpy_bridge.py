"""NumPy Bridge — Torch Tensor <=> NumPy array, sharing memory in both directions."""

import textwrap

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from spec.helpers import processes
from spec.helpers.devices import needs_cuda
from spec.helpers.drift import GATES
from spec.helpers.implementation import impl
from spec.helpers.teach import say

numpy_bridge = impl.numpy_bridge

#: dtypes that exist on both sides, and map one-to-one through the bridge.
#: (bfloat16 and the float8 types have no NumPy counterpart.)
DTYPE_PAIRS: tuple[tuple[np.dtype, torch.dtype], ...] = (
    (np.dtype(np.bool_), torch.bool),
    (np.dtype(np.uint8), torch.uint8),
    (np.dtype(np.int8), torch.int8),
    (np.dtype(np.int16), torch.int16),
    (np.dtype(np.int32), torch.int32),
    (np.dtype(np.int64), torch.int64),
    (np.dtype(np.float16), torch.float16),
    (np.dtype(np.float32), torch.float32),
    (np.dtype(np.float64), torch.float64),
    (np.dtype(np.complex64), torch.complex64),
    (np.dtype(np.complex128), torch.complex128),
)
DTYPE_IDS = [str(np_dtype) for np_dtype, _ in DTYPE_PAIRS]


def test_tensor_numpy_shares_memory_both_ways():
    """a = torch.ones(5); b = a.numpy(): changing a changes b, and changing b changes a.

    Note: "Converting a Torch Tensor to a NumPy Array: `tensor.numpy()`"
    """
    a = torch.ones(5)
    b = numpy_bridge.tensor_to_numpy(a)  # the note: b = a.numpy()
    call = "tensor_to_numpy(a)"
    assert isinstance(b, np.ndarray), say(call, "a NumPy array", type(b).__name__)
    assert b.dtype == np.float32, say(call, "float32, the tensor's dtype", b.dtype)
    assert b.shape == (5,), say(call, "shape (5,)", b.shape)
    a.add_(1)
    np.testing.assert_array_equal(
        b, np.full(5, 2.0, dtype=np.float32),
        err_msg=say(call, "an array that shares the tensor's memory", "a copy"),
    )  # fmt: skip
    b[0] = 7
    assert a[0].item() == 7.0, say(
        call, "b[0] = 7 to show in the tensor (shared memory)", a[0].item()
    )
    assert b.ctypes.data == a.data_ptr(), say(
        call, "the array's data at the tensor's address", "another address"
    )


def test_from_numpy_shares_memory_both_ways():
    """a = np.ones(5); b = torch.from_numpy(a): np.add(a, 1, out=a) shows up in b, and back.

    Note: "Converting NumPy Array to Torch Tensor: `torch.from_numpy(array)`"
    """
    a = np.ones(5)
    b = numpy_bridge.numpy_to_tensor(a)  # the note: b = torch.from_numpy(a)
    np.add(a, 1, out=a)
    assert b.tolist() == [2.0] * 5, say(
        "numpy_to_tensor(a)", "a tensor that shares the array's memory",
        "a copy" if b.tolist() == [1.0] * 5 else b.tolist(),
        "use torch.tensor(a)? It copies; torch.from_numpy(a) shares",
    )  # fmt: skip
    b.mul_(3)
    np.testing.assert_array_equal(a, np.full(5, 6.0))
    assert b.data_ptr() == a.ctypes.data, say(
        "numpy_to_tensor(a)", "the tensor's data at the array's address", "another address"
    )


def test_np_ones_becomes_a_float64_tensor():
    """torch.from_numpy(np.ones(5)) is float64 — NumPy's default — not torch's float32.

    Note: "a = np.ones(5)
    b = torch.from_numpy(a)"

    A common surprise: feeding such a tensor to a float32 model fails with a dtype
    mismatch; ``torch.from_numpy(a).float()`` (a copy) is the usual fix.
    """
    b = numpy_bridge.numpy_to_tensor(np.ones(5))
    assert b.dtype == torch.float64 != torch.get_default_dtype(), say(
        "numpy_to_tensor(np.ones(5))", "NumPy's float64, kept", b.dtype
    )


@pytest.mark.parametrize(("np_dtype", "torch_dtype"), DTYPE_PAIRS, ids=DTYPE_IDS)
def test_dtype_maps_one_to_one_in_both_directions(np_dtype, torch_dtype):
    """Every dtype both libraries have crosses the bridge unchanged, both ways.

    Note: "Torch Tensor <=> a NumPy"
    """
    there = numpy_bridge.numpy_to_tensor(np.zeros(3, dtype=np_dtype)).dtype
    back = numpy_bridge.tensor_to_numpy(torch.zeros(3, dtype=torch_dtype)).dtype
    assert there == torch_dtype, say("numpy_to_tensor", f"{np_dtype} -> {torch_dtype}", there)
    assert back == np_dtype, say("tensor_to_numpy", f"{torch_dtype} -> {np_dtype}", back)


@pytest.mark.fact
@pytest.mark.parametrize("name", ["uint16", "uint32", "uint64"])
def test_wide_unsigned_ints_cross_the_bridge_since_2_3(name):
    """uint16/32/64 cross the bridge too (torch has had these dtypes since 2.3).

    Note: "Torch Tensor <=> a NumPy"

    Changed in torch 2.3: before it, torch had no such dtypes and ``from_numpy`` refused
    these arrays (checked on 2.0.1 and 2.1.2 by the atlas, spec/atlas.md). Arithmetic on
    them is still limited in torch, so they are kept out of DTYPE_PAIRS.
    """
    if not GATES["unsigned dtypes"].met():
        assert not hasattr(torch, name)
        with pytest.raises(TypeError, match=f"can't convert np.ndarray of type numpy.{name}"):
            torch.from_numpy(np.zeros(3, dtype=name))
        return
    torch_dtype = getattr(torch, name)
    assert torch.from_numpy(np.zeros(3, dtype=name)).dtype == torch_dtype
    assert torch.zeros(3, dtype=torch_dtype).numpy().dtype == np.dtype(name)


@pytest.mark.fact
def test_bfloat16_has_no_numpy_counterpart():
    """A bfloat16 tensor cannot become a NumPy array: NumPy has no bfloat16.

    Note: "Converting a Torch Tensor to a NumPy Array: `tensor.numpy()`"
    """
    with pytest.raises(TypeError, match="unsupported ScalarType BFloat16"):
        torch.zeros(3, dtype=torch.bfloat16).numpy()


@pytest.mark.fact
def test_from_numpy_refuses_negative_strides():
    """torch.from_numpy(a[::-1]) is refused: tensors cannot have negative strides.

    Note: "Converting NumPy Array to Torch Tensor: `torch.from_numpy(array)`"

    The error suggests the fix, a copy; the copy no longer shares memory.
    """
    reversed_view = np.arange(5)[::-1]
    with pytest.raises(ValueError, match=r"negative.*array\.copy"):
        torch.from_numpy(reversed_view)
    assert torch.from_numpy(reversed_view.copy()).tolist() == [4, 3, 2, 1, 0]


@pytest.mark.fact
def test_from_numpy_on_a_read_only_array_warns_once_per_process_and_still_shares(
    record_property,
):
    """from_numpy on a non-writable array warns (once per process) and still shares memory.

    Note: "Converting NumPy Array to Torch Tensor: `torch.from_numpy(array)`"

    The warning is a TORCH_WARN_ONCE: only the first conversion in a process shows it,
    so the check runs in a process where this test owns "the first time": a child forked
    from this one while it has not converted such an array yet, else a new interpreter.
    """
    code = textwrap.dedent(
        """
        import warnings, numpy as np, torch
        a = np.ones(3); a.flags.writeable = False
        with warnings.catch_warnings(record=True) as first:
            warnings.simplefilter("always")
            t = torch.from_numpy(a)
        with warnings.catch_warnings(record=True) as second:
            warnings.simplefilter("always")
            torch.from_numpy(a)
        print(len(first), len(second), t.data_ptr() == a.ctypes.data)
        print(first[0].message if first else "")
        """
    )
    output, where = processes.first_time_output(
        code, already_happened=lambda out: out.startswith("0 0 ")
    )
    record_property("ran in", where)
    counts, message = output.splitlines()[:2]
    assert counts == "1 0 True"
    assert "The given NumPy array is not writable" in message


@pytest.mark.fact
def test_numpy_on_a_tensor_that_requires_grad_is_refused():
    """.numpy() on a tensor that requires grad raises; detach() (or force=True) is the way.

    Note: "Converting a Torch Tensor to a NumPy Array: `tensor.numpy()`"
    """
    a = torch.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"requires grad. Use tensor.detach\(\).numpy\(\)"):
        a.numpy()
    b = a.detach().numpy()
    assert b.ctypes.data == a.data_ptr()  # detach shares memory, so the bridge does too
    assert a.numpy(force=True).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.fact
@needs_cuda
def test_numpy_on_a_cuda_tensor_is_refused():
    """.numpy() on a CUDA tensor raises: NumPy lives in host memory; .cpu() first.

    Note: "Converting a Torch Tensor to a NumPy Array: `tensor.numpy()`"
    """
    a = torch.ones(3, device="cuda")
    with pytest.raises(TypeError, match=r"can't convert cuda.*Tensor.cpu\(\)"):
        a.numpy()
    assert a.cpu().numpy().tolist() == [1.0, 1.0, 1.0]
    assert a.numpy(force=True).tolist() == [1.0, 1.0, 1.0]  # force copies to the host


@st.composite
def strided_arrays(draw):
    """Arrays of every bridge dtype and many shapes, often as a strided (non-contiguous)
    slice of a bigger array, with positive steps (negative ones are refused, above)."""
    np_dtype = draw(st.sampled_from([d for d, _ in DTYPE_PAIRS]))
    base = draw(
        hnp.arrays(np_dtype, hnp.array_shapes(min_dims=0, max_dims=4, max_side=6)),
    )
    index = tuple(
        slice(draw(st.integers(0, max(n - 1, 0))), None, draw(st.integers(1, 3)))
        for n in base.shape
    )
    return base[index] if base.ndim else base  # a[()] of a 0-d array is a scalar


@given(strided_arrays())
def test_from_numpy_preserves_values_strides_and_memory(array):
    """For any dtype, shape and positive strides, from_numpy keeps values and memory.

    Note: "Converting NumPy Array to Torch Tensor: `torch.from_numpy(array)`"

    NumPy strides are in bytes, torch strides in elements. Values are compared bit for
    bit (NaNs included) as raw bytes.
    """
    t = numpy_bridge.numpy_to_tensor(array)
    assert t.shape == array.shape, say(
        "numpy_to_tensor(array)", f"shape {array.shape}", tuple(t.shape)
    )
    assert t.dtype == dict(DTYPE_PAIRS)[array.dtype], say(
        "numpy_to_tensor(array)", f"the dtype matching {array.dtype}", t.dtype
    )
    assert tuple(s * array.itemsize for s in t.stride()) == array.strides, say(
        "numpy_to_tensor(array)", f"the array's strides {array.strides} (bytes)", t.stride()
    )
    if array.size:
        assert t.data_ptr() == array.ctypes.data, say(
            "numpy_to_tensor(array)", "the array's memory, shared", "a copy"
        )
    back = numpy_bridge.tensor_to_numpy(t)
    assert back.dtype == array.dtype, say("tensor_to_numpy(t)", f"dtype {array.dtype}", back.dtype)
    assert back.strides == array.strides, say(
        "tensor_to_numpy(t)", f"strides {array.strides}", back.strides
    )
    assert back.tobytes() == array.tobytes(), say(
        "tensor_to_numpy(t)", "the same bytes", "other bytes"
    )
