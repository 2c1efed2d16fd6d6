"""The TensorBoard tutorial's script as functions, on CIFAR-10 instead of Fashion-MNIST.

Its helpers draw and return nothing; its tags are its own. Its two errata are fixed, each
where it happens (the spec's chapter 12 shows them as facts): the image grid is
un-normalised before it is logged, and the projector's thumbnails are floats in [0, 1].
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
import torchvision
from torch.utils.tensorboard import SummaryWriter

from . import cifar10

classes = cifar10.classes


# helper function to show an image
def matplotlib_imshow(img, one_channel=False):
    if one_channel:
        img = img.mean(dim=0)
    img = img / 2 + 0.5  # unnormalize
    npimg = img.numpy()
    if one_channel:
        plt.imshow(npimg, cmap="Greys")
    else:
        plt.imshow(np.transpose(npimg, (1, 2, 0)))


def select_n_random(data, labels, n=100):
    """n random datapoints and their labels from a dataset's tensors."""
    assert len(data) == len(labels)
    perm = torch.randperm(len(data))
    return data[perm][:n], labels[perm][:n]


def images_to_probs(net, images):
    """Predictions and their probabilities for a batch of images."""
    output = net(images)
    _, preds_tensor = torch.max(output, 1)
    preds = np.squeeze(preds_tensor.numpy())
    return preds, [F.softmax(el, dim=0)[i].item() for i, el in zip(preds, output)]


def plot_classes_preds(net, images, labels):
    preds, probs = images_to_probs(net, images)
    # plot the images in the batch, along with predicted and true labels
    fig = plt.figure(figsize=(12, 48))
    for idx in np.arange(4):
        ax = fig.add_subplot(1, 4, idx + 1, xticks=[], yticks=[])
        matplotlib_imshow(images[idx])
        ax.set_title(
            "{0}, {1:.1f}%\n(label: {2})".format(
                classes[preds[idx]], probs[idx] * 100.0, classes[labels[idx]]
            ),
            color=("green" if preds[idx] == labels[idx].item() else "red"),
        )
    return fig


def add_pr_curve_tensorboard(writer, class_index, test_probs, test_label, global_step=0):
    """One class's precision-recall curve."""
    tensorboard_truth = test_label == class_index
    tensorboard_probs = test_probs[:, class_index]
    writer.add_pr_curve(
        classes[class_index], tensorboard_truth, tensorboard_probs, global_step=global_step
    )


def write_run(logdir, data_root, steps=40, log_every=10, embedding_size=32):
    writer = SummaryWriter(logdir)
    trainloader, testloader = cifar10.make_loaders(data_root, batch_size=4)
    trainset = trainloader.dataset
    net = cifar10.Net()
    criterion, optimizer = cifar10.make_criterion_and_optimizer(net)

    # get some random training images
    dataiter = iter(trainloader)
    images, labels = next(dataiter)
    img_grid = torchvision.utils.make_grid(images)
    matplotlib_imshow(img_grid)
    plt.close("all")
    writer.add_image("four_cifar10_images", img_grid / 2 + 0.5)  # un-normalised: erratum 1

    writer.add_graph(net, images)

    # a projector of random images with their labels
    data = torch.tensor(trainset.data).permute(0, 3, 1, 2)  # (N, 32, 32, 3) uint8 -> NCHW
    images, labels = select_n_random(data, torch.tensor(trainset.targets), n=embedding_size)
    class_labels = [classes[lab] for lab in labels]
    features = images.reshape(-1, 3 * 32 * 32)
    writer.add_embedding(features, metadata=class_labels, label_img=images / 255)  # erratum 2

    running_loss = 0.0
    for epoch in range(1):  # loop over the dataset multiple times
        for i, data in enumerate(trainloader, 0):
            if i == steps:
                break
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()

            running_loss += loss.item()
            if i % log_every == log_every - 1:
                step = epoch * len(trainloader) + i
                writer.add_scalar("training loss", running_loss / log_every, step)
                writer.add_figure(
                    "predictions vs. actuals", plot_classes_preds(net, inputs, labels),
                    global_step=step,
                )  # fmt: skip
                running_loss = 0.0
    print("Finished Training")

    # precision-recall curves over the test set
    class_probs = []
    class_label = []
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            output = net(images)
            class_probs_batch = [F.softmax(el, dim=0) for el in output]
            class_probs.append(class_probs_batch)
            class_label.append(labels)
    test_probs = torch.cat([torch.stack(batch) for batch in class_probs])
    test_label = torch.cat(class_label)
    for i in range(len(classes)):
        add_pr_curve_tensorboard(writer, i, test_probs, test_label)
    writer.close()
