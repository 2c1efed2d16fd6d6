"""Updating the weights: the blitz's loop over parameters, then torch.optim."""

import torch.optim as optim

learning_rate = 0.01


def sgd_by_hand(net, learning_rate=learning_rate):
    for f in net.parameters():
        f.data.sub_(f.grad.data * learning_rate)


def make_optimizer(net, learning_rate=learning_rate):
    return optim.SGD(net.parameters(), lr=learning_rate)


def training_step(net, optimizer, criterion, input, target):
    optimizer.zero_grad()
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()
    return loss.item()
