"""Learning PyTorch with Examples — the two-layer network, as nn.Sequential and as a custom Module.

N is batch size; D_in is input dimension; H is hidden dimension; D_out is output dimension.
"""

from __future__ import annotations

import torch

#: The note's sizes: "N, D_in, H, D_out = 64, 1000, 100, 10" (batch, input, hidden, output).
N, D_in, H, D_out = 64, 1000, 100, 10


def check_xy(x, y=None, d_in: int = D_in, d_out: int = D_out) -> None:
    """Beyond the note: raise ``ValueError``/``TypeError`` naming the shapes expected."""
    for name, t, width in (("x", x, d_in), ("y", y, d_out)):
        if name == "y" and t is None:
            continue
        expected = f"{name} as a float tensor shaped (N, {width}) with N >= 1"
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"expected {expected}, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"expected {expected}, got dtype {t.dtype}")
        if t.dim() != 2 or t.shape[1] != width or t.shape[0] == 0:
            raise ValueError(f"expected {expected}, got shape {tuple(t.shape)}")
    if y is not None and x.shape[0] != y.shape[0]:
        raise ValueError(f"expected x and y with the same N, got {x.shape[0]} and {y.shape[0]}")


def random_data(device="cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)``: standard normal inputs (N, D_in) and targets (N, D_out), on ``device``.

    Note: "# Create random Tensors to hold inputs and outputs x = torch.randn(N, D_in) y =
    torch.randn(N, D_out)"
    """
    x = torch.randn(N, D_in)
    y = torch.randn(N, D_out)
    return x.to(device), y.to(device)


def sequential_model() -> torch.nn.Sequential:
    """The two-layer network as ``torch.nn.Sequential``: Linear(D_in, H), ReLU, Linear(H, D_out).

    Note: "model = torch.nn.Sequential( torch.nn.Linear(D_in, H), torch.nn.ReLU(),
    torch.nn.Linear(H, D_out), )"
    """
    return torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )


class TwoLayerNet(torch.nn.Module):
    """The two-layer network as a custom Module: linear1, clamp(min=0) as the ReLU, linear2.

    Note: "h_relu = self.linear1(x).clamp(min=0) y_pred = self.linear2(h_relu)"

    Reference only: ``forward`` checks its input's shape first.
    """

    def __init__(self, D_in, H, D_out):
        """Instantiate two nn.Linear modules and assign them as member variables."""
        super().__init__()
        self.linear1 = torch.nn.Linear(D_in, H)
        self.linear2 = torch.nn.Linear(H, D_out)

    def forward(self, x):
        """Accept a Tensor of input data and return a Tensor of output data."""
        check_xy(x, d_in=self.linear1.in_features)
        h_relu = self.linear1(x).clamp(min=0)
        y_pred = self.linear2(h_relu)
        return y_pred


def fit(model, optimizer, x, y, steps: int = 500, log=None) -> dict[int, float]:
    """Beyond the note: the note's loop with ``MSELoss(reduction='sum')``; returns the
    losses it prints, ``{t: loss}`` at every ``t % 100 == 99``. Stops with
    ``FloatingPointError`` if the loss stops being finite (NaN or inf in the data, or a
    diverging learning rate)."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    check_xy(x, y, d_in=linears[0].in_features, d_out=linears[-1].out_features)
    device = linears[0].weight.device
    if x.device != device or y.device != device:
        raise ValueError(
            f"expected x and y on the model's device {device}, got {x.device}, {y.device}"
        )
    loss_fn = torch.nn.MSELoss(reduction="sum")
    printed = {}
    for t in range(steps):
        # Forward pass: compute predicted y by passing x to the model.
        y_pred = model(x)

        # Compute and print loss.
        loss = loss_fn(y_pred, y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss is {loss.item()} at step {t}: expected finite x and y")
        if t % 100 == 99:
            printed[t] = loss.item()
            if log is not None:
                log(t, loss.item())

        # Zero gradients, perform a backward pass, and update the weights.
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return printed


def train_sequential(x, y, steps: int = 500, learning_rate: float = 1e-4):
    """The first example: a new ``sequential_model()`` trained by Adam; ``(model, printed)``.

    Note: "learning_rate = 1e-4 optimizer = torch.optim.Adam(model.parameters(),
    lr=learning_rate) for t in range(500):"

    The note's loop, ``steps`` times: forward, ``torch.nn.MSELoss(reduction='sum')``,
    zero the gradients, backward, step; ``printed`` is ``{t: loss.item()}`` at every
    ``t % 100 == 99``. The model is built first thing, on x's device.
    """
    model = sequential_model().to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return model, fit(model, optimizer, x, y, steps)


def train_two_layer_net(x, y, steps: int = 500, learning_rate: float = 1e-4):
    """The second example: a new ``TwoLayerNet(D_in, H, D_out)`` trained by SGD: ``(model,
    printed)``.

    Note: "criterion = torch.nn.MSELoss(reduction='sum') optimizer =
    torch.optim.SGD(model.parameters(), lr=1e-4)"

    The same loop as ``train_sequential``, with SGD.
    """
    model = TwoLayerNet(D_in, H, D_out).to(x.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    return model, fit(model, optimizer, x, y, steps)
