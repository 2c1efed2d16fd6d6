"""Training a classifier, the blitz's way: its five steps as plain functions, no checks."""

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
import torchvision.transforms as transforms

from reference import cifar10_data  # the project's offline CIFAR-10 (a support module)

classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

transform = transforms.Compose(
    [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
)


# 1. Load and normalize CIFAR10
def make_loaders(root, batch_size=4, seed=None, num_workers=0):
    trainset = cifar10_data.load_cifar10(root, train=True, transform=transform)
    testset = cifar10_data.load_cifar10(root, train=False, transform=transform)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    trainloader = torch.utils.data.DataLoader(
        trainset, batch_size=batch_size, shuffle=True, num_workers=num_workers, generator=generator
    )
    testloader = torch.utils.data.DataLoader(
        testset, batch_size=batch_size, shuffle=False, num_workers=num_workers
    )
    return trainloader, testloader


# 2. Define a Convolutional Neural Network
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)  # flatten all dimensions except batch
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


# 3. Define a Loss function and optimizer
def make_criterion_and_optimizer(net, lr=0.001, momentum=0.9):
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    return criterion, optimizer


# 4. Train the network
def train(net, trainloader, criterion, optimizer, epochs=2, print_every=2000, device="cpu",
          log=print, max_steps=None):  # fmt: skip
    printed = []
    steps = 0
    for epoch in range(epochs):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data[0].to(device), data[1].to(device)
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % print_every == print_every - 1:
                if log:
                    log(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / print_every:.3f}")
                printed.append(running_loss / print_every)
                running_loss = 0.0
            steps += 1
            if steps == max_steps:
                return printed
    if log:
        log("Finished Training")
    return printed


# 5. Test the network on the test data
def predict(net, images):
    outputs = net(images)
    _, predicted = torch.max(outputs, 1)
    return predicted


def accuracy(net, loader, device="cpu"):
    correct = 0
    total = 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    return 100 * correct / total


def per_class_accuracy(predicted, labels, num_classes=10):
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.int64)
    for truth, guess in zip(labels.tolist(), predicted.tolist(), strict=True):
        confusion[truth, guess] += 1
    class_correct = confusion.diagonal().double()
    class_total = confusion.sum(dim=1).double()
    return class_correct / class_total, confusion


PATH = "./cifar_net.pth"


def save(net, path=PATH):
    torch.save(net.state_dict(), path)


def load(path=PATH, map_location="cpu"):
    net = Net()
    net.load_state_dict(torch.load(path, map_location=map_location))
    return net
