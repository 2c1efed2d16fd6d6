"""Learning PyTorch with Examples: its two nn examples, as script-like functions."""

import torch

# N is batch size; D_in is input dimension; H is hidden dimension; D_out is output dimension.
N, D_in, H, D_out = 64, 1000, 100, 10


def random_data(device="cpu"):
    x = torch.randn(N, D_in, device=device)
    y = torch.randn(N, D_out, device=device)
    return x, y


def sequential_model():
    return torch.nn.Sequential(
        torch.nn.Linear(D_in, H),
        torch.nn.ReLU(),
        torch.nn.Linear(H, D_out),
    )


class TwoLayerNet(torch.nn.Module):
    def __init__(self, D_in, H, D_out):
        super().__init__()
        self.linear1 = torch.nn.Linear(D_in, H)
        self.linear2 = torch.nn.Linear(H, D_out)

    def forward(self, x):
        h_relu = self.linear1(x).clamp(min=0)
        y_pred = self.linear2(h_relu)
        return y_pred


def _fit(model, optimizer, x, y, steps):
    loss_fn = torch.nn.MSELoss(reduction="sum")
    printed = {}
    for t in range(steps):
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        if t % 100 == 99:
            print(t, loss.item())
            printed[t] = loss.item()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, printed


def train_sequential(x, y, steps=500, learning_rate=1e-4):
    model = sequential_model().to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    return _fit(model, optimizer, x, y, steps)


def train_two_layer_net(x, y, steps=500, learning_rate=1e-4):
    model = TwoLayerNet(D_in, H, D_out).to(x.device)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    return _fit(model, optimizer, x, y, steps)
