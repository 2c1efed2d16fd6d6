"""Loss Function — nn.MSELoss on the network's output, and the graph behind the loss."""

import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn

from spec.helpers import teach
from spec.helpers.devices import assert_cpu_cuda_close, needs_cuda
from spec.helpers.implementation import Net, impl
from spec.helpers.teach import say

loss_function = impl.loss_function


def grad_fn_chain(loss: torch.Tensor) -> list[str]:
    """Names of the backward nodes from ``loss`` back to the input, following the data
    path (not the AccumulateGrad leaves of weights and biases, nor their transposes)."""
    names = []
    node = loss.grad_fn
    while node is not None:
        names.append(type(node).__name__)
        data_path = [
            fn
            for fn, _ in node.next_functions
            if fn is not None and type(fn).__name__ not in ("AccumulateGrad", "TBackward0")
        ]
        node = data_path[0] if data_path else None
    return names


def test_mse_loss_is_the_mean_of_squared_errors():
    """nn.MSELoss() equals mean((output - target)^2), computed independently in NumPy float64.

    Note: "`nn.MSELoss` which computes the mean-squared error between the input and the target."
    """
    net = Net()
    input, target = torch.randn(1, 1, 32, 32), torch.randn(10)
    # the note: criterion(output, target.view(1, -1))
    loss = loss_function.loss_for(net, input, target)
    output = net(input).detach().double().numpy()
    expected = np.mean((output - target.double().numpy().reshape(1, -1)) ** 2)
    # float32 loss against a float64 reference: float32 rounding of 10 terms.
    teach.close(
        loss.double(), torch.tensor(expected), call="loss_for(net, input, target)",
        expects="criterion = nn.MSELoss(): the mean of (output - target)^2", rtol=1e-6, atol=1e-7,
    )  # fmt: skip
    assert loss.shape == (), say("loss_for(...)", "a single number (shape ())", loss.shape)
    assert loss.dtype == torch.float32, say("loss_for(...)", "float32", loss.dtype)


def test_loss_for_shapes_the_target_like_the_output_so_mse_loss_does_not_warn():
    """loss_for views the (10,) target as (1, 10) first: MSELoss then computes without a warning.

    Note: "target = target.view(1, -1)  # make it the same shape as output"

    Without the view MSELoss broadcasts and warns that the sizes differ (next tests).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        try:
            loss_function.loss_for(Net(), torch.randn(1, 1, 32, 32), torch.randn(10))
        except UserWarning as warning:
            raise AssertionError(
                say(
                    "loss_for(net, input, target)",
                    "target.view(1, -1) before the loss",
                    warning,
                    teach.NO_TARGET_VIEW,
                )
            ) from None


def test_target_view_1_minus_1_matches_the_output_shape():
    """target.view(1, -1) turns the (10,) target into (1, 10), the shape of the output.

    Note: "target = target.view(1, -1)  # make it the same shape as output"
    """
    target = torch.randn(10)
    assert target.view(1, -1).shape == Net()(torch.randn(1, 1, 32, 32)).shape == (1, 10), say(
        "Net()(input)",
        "shape (1, 10), the target's after view(1, -1)",
        tuple(Net()(torch.randn(1, 1, 32, 32)).shape),
    )


def test_without_the_view_mse_loss_warns_and_broadcasts():
    """Skipping target.view(1, -1) still gives the same number here, but with a UserWarning.

    Note: "target = target.view(1, -1)  # make it the same shape as output"

    (1, 10) against (10,) broadcasts to (1, 10), so the value is unchanged. With a
    batch of outputs (N, 10) vs (N,) targets the broadcast would silently compute
    the wrong thing, which is why MSELoss warns on any size mismatch.
    """
    output, target = torch.randn(1, 10), torch.randn(10)
    criterion = loss_function.criterion
    with pytest.warns(UserWarning, match=r"target size \(torch.Size\(\[10\]\)\) that is different"):
        unshaped = criterion(output, target)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        shaped = criterion(output, target.view(1, -1))
    torch.testing.assert_close(unshaped, shaped, rtol=0, atol=0)


def test_the_loss_grad_fn_is_mse_loss_backward0_not_mse_loss_backward():
    """print(loss) shows grad_fn=<MseLossBackward0> today.

    Note: "tensor(0.9145, grad_fn=<MseLossBackward>)"

    Changed in torch 1.10: every autograd node name carries a numeric suffix (one per
    overload of the op), so the note's
    ``MseLossBackward`` is ``MseLossBackward0``. Code that matches on the printed name
    breaks; match on ``type(loss.grad_fn).__name__.rstrip("0123456789")`` if you must.
    """
    loss = loss_function.loss_for(Net(), torch.randn(1, 1, 32, 32), torch.randn(10))
    assert type(loss.grad_fn).__name__ == "MseLossBackward0", say(
        "loss_for(...).grad_fn", "MseLossBackward0 (nn.MSELoss)", type(loss.grad_fn).__name__
    )
    assert "grad_fn=<MseLossBackward0>" in repr(loss), say(
        "repr(loss_for(...))", "grad_fn=<MseLossBackward0>", repr(loss)
    )


def test_following_grad_fn_walks_the_network_backwards():
    """Following loss.grad_fn backwards visits the forward ops in reverse order.

    Note: "tensor(0.9145, grad_fn=<MseLossBackward>)"

    The data path: MSE <- fc3 <- relu <- fc2 <- relu <- fc1 <- view <- pool <- relu
    <- conv2 <- pool <- relu <- conv1. (Linear records Addmm; conv records Convolution.)
    """
    loss = loss_function.loss_for(Net(), torch.randn(1, 1, 32, 32), torch.randn(10))
    assert grad_fn_chain(loss) == [
        "MseLossBackward0",
        "AddmmBackward0",
        "ReluBackward0",
        "AddmmBackward0",
        "ReluBackward0",
        "AddmmBackward0",
        "ViewBackward0",
        "MaxPool2DWithIndicesBackward0",
        "ReluBackward0",
        "ConvolutionBackward0",
        "MaxPool2DWithIndicesBackward0",
        "ReluBackward0",
        "ConvolutionBackward0",
    ], say(
        "loss_for(...).grad_fn, followed back", "the note's layers in reverse", grad_fn_chain(loss)
    )


@pytest.mark.fact
def test_reduction_sum_and_none_relate_to_mean_by_the_element_count():
    """MSELoss(reduction='sum') = n * mean; reduction='none' keeps one term per element.

    Note: "There are several different loss functions under the nn package."
    """
    output, target = torch.randn(4, 10), torch.randn(4, 10)
    mean = nn.MSELoss()(output, target)
    total = nn.MSELoss(reduction="sum")(output, target)
    each = nn.MSELoss(reduction="none")(output, target)
    assert each.shape == (4, 10)
    torch.testing.assert_close(total, mean * 40, rtol=1e-6, atol=0)
    torch.testing.assert_close(each, (output - target) ** 2, rtol=0, atol=0)


@needs_cuda
def test_the_loss_on_cuda_equals_cpu():
    """The same net, input and target give the same MSE loss on CUDA as on CPU.

    Note: "loss = criterion(output, target)"

    rtol 1e-5: the forward's convolutions and matmuls sum in another order on the GPU.
    """
    net, input, target = Net(), torch.randn(1, 1, 32, 32), torch.randn(10)
    assert_cpu_cuda_close(loss_function.loss_for, net, input, target, rtol=1e-5, atol=1e-6)
