"""Operations — NumPy-like indexing, and resizing with view (versus reshape)."""

import numpy as np
import pytest
import torch

from spec.helpers import teach
from spec.helpers.implementation import impl
from spec.helpers.teach import say

operations = impl.operations


def shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    # untyped_storage() arrived in torch 2.0; 1.x has storage() (deprecated since)
    storage = "untyped_storage" if hasattr(a, "untyped_storage") else "storage"
    return getattr(a, storage)().data_ptr() == getattr(b, storage)().data_ptr()


def test_column_indexing_matches_numpy():
    """x[:, 1] selects the second column, exactly as NumPy indexing does.

    Note: "use standard NumPy-like indexing: `x[:, 1]`"
    """
    x = torch.rand(5, 3)
    column = operations.second_column(x)  # the note: print(x[:, 1])
    hint = teach.did_you_index_another_column(x, column)
    assert column.shape == (5,), say(
        "second_column(x)", "x[:, 1], shape (5,)", tuple(column.shape), hint
    )
    np.testing.assert_array_equal(
        column.numpy(), x.numpy()[:, 1], err_msg=say("second_column(x)", "x[:, 1]", column, hint)
    )


def test_column_indexing_is_a_view_that_shares_storage():
    """x[:, 1] is a view: writing through it changes x (basic indexing never copies).

    Note: "use standard NumPy-like indexing: `x[:, 1]`"

    Its stride is the row length, 3: a strided, non-contiguous view of x's memory.
    """
    x = torch.zeros(5, 3)
    column = operations.second_column(x)
    assert shares_storage(column, x), say(
        "second_column(x)", "a view of x (basic indexing never copies)", "a copy",
        teach.COPY_NOT_VIEW,
    )  # fmt: skip
    assert column._base is x, say(
        "second_column(x)", "x[:, 1], a view whose base is x itself", "a view of something else"
    )
    assert column.stride() == (3,), say(
        "second_column(x)", "stride (3,): every third value of x's storage", column.stride()
    )
    assert not column.is_contiguous(), say(
        "second_column(x)", "a non-contiguous view (a column of a row-major matrix)", "contiguous"
    )
    column.fill_(7)
    assert x[:, 1].tolist() == [7.0] * 5, say(
        "second_column(x).fill_(7)", "x's second column to become 7", x[:, 1].tolist()
    )
    assert x[:, 0].tolist() == [0.0] * 5, say(
        "second_column(x).fill_(7)", "x's first column to stay 0", x[:, 0].tolist()
    )


@pytest.mark.fact
def test_advanced_indexing_copies_unlike_the_slice():
    """x[:, [1]] (a list index) is a copy, unlike x[:, 1].

    Note: "use standard NumPy-like indexing"

    NumPy-like in this too: advanced (integer-array) indexing always copies.
    """
    x = torch.zeros(5, 3)
    picked = x[:, [1]]
    picked.fill_(7)
    assert bool((x == 0).all())


def test_view_16_and_view_minus1_8_give_the_printed_sizes():
    """x.size(), y.size(), z.size() are torch.Size([4, 4]), torch.Size([16]), torch.Size([2, 8]).

    Note: "z = x.view(-1, 8)  # the size -1 is inferred from other dimensions"

    -1 is inferred as 16 / 8 = 2; the values are x's, read in row-major order.
    """
    x = torch.randn(4, 4)
    y, z = operations.views_of_4x4(x)  # the note: y = x.view(16); z = x.view(-1, 8)
    sizes = (x.size(), y.size(), z.size())
    assert sizes == ((4, 4), (16,), (2, 8)), say(
        "views_of_4x4(x)", "sizes (4, 4), (16,), (2, 8)", sizes
    )
    np.testing.assert_array_equal(y.numpy(), x.numpy().reshape(16))
    np.testing.assert_array_equal(z.numpy(), x.numpy().reshape(2, 8))


def test_views_share_storage_with_the_original():
    """y = x.view(16) and z = x.view(-1, 8) share x's memory: no data is copied.

    Note: "resize/reshape tensor, you can use `torch.view`"
    """
    x = torch.randn(4, 4)
    y, z = operations.views_of_4x4(x)
    assert shares_storage(x, y), say("views_of_4x4(x)[0]", "a view of x", "a copy")
    assert shares_storage(x, z), say("views_of_4x4(x)[1]", "a view of x", "a copy")
    y[0] = 100.0
    assert x[0, 0].item() == 100.0, say(
        "views_of_4x4(x)[0][0] = 100", "x[0, 0] to become 100 (a view)", x[0, 0].item()
    )
    assert z[0, 0].item() == 100.0, say(
        "views_of_4x4(x)[0][0] = 100", "z[0, 0] to become 100 (a view)", z[0, 0].item()
    )


@pytest.mark.fact
@pytest.mark.parametrize("columns", [1, 2, 4, 8, 16])
def test_minus_one_is_inferred_from_the_other_dimensions(columns):
    """view(-1, k) infers the first size as numel / k.

    Note: "the size -1 is inferred from other dimensions"
    """
    x = torch.arange(16.0)
    assert x.view(-1, columns).shape == (16 // columns, columns)


@pytest.mark.fact
def test_view_refuses_a_non_contiguous_tensor_but_reshape_copies():
    """view(16) of a transposed 4x4 fails; reshape(16) works by copying.

    Note: "resize/reshape tensor, you can use `torch.view`"

    The note presents view as *the* way to reshape. It only works when the new shape
    can be expressed with the old memory's strides; ``reshape`` views when it can and
    copies when it must.
    """
    x = torch.randn(4, 4).t()
    with pytest.raises(RuntimeError, match=r"view size is not compatible.*Use \.reshape"):
        x.view(16)
    y = x.reshape(16)
    assert not shares_storage(x, y)  # a copy
    np.testing.assert_array_equal(y.numpy(), x.numpy().reshape(16))
    # and on a contiguous tensor reshape returns a view, like view does:
    c = torch.randn(4, 4)
    assert shares_storage(c, c.reshape(16))


@pytest.mark.fact
@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((5, -1), r"shape '\[5, -1\]' is invalid for input of size 16"),
        ((3, 5), r"shape '\[3, 5\]' is invalid for input of size 16"),
        ((-1, -1), r"only one dimension can be inferred"),
    ],
    ids=["-1 that does not divide", "wrong total", "two -1s"],
)
@pytest.mark.parametrize("method", ["view", "reshape"])
def test_impossible_sizes_are_refused_by_view_and_reshape_alike(method, shape, message):
    """view and reshape both refuse sizes whose product is not numel, and a second -1.

    Note: "z = x.view(-1, 8)  # the size -1 is inferred from other dimensions"
    """
    x = torch.randn(4, 4)
    with pytest.raises(RuntimeError, match=message):
        getattr(x, method)(*shape)
