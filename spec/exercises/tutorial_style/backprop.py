"""Backprop: the blitz's cell, printing what it shows."""


def conv1_bias_grad_before_and_after(net, loss):
    net.zero_grad()
    print("conv1.bias.grad before backward")
    before = net.conv1.bias.grad
    print(before)
    before = None if before is None else before.clone()
    loss.backward()
    print("conv1.bias.grad after backward")
    print(net.conv1.bias.grad)
    return before, net.conv1.bias.grad.clone()
