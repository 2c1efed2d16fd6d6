"""Visualizing Models, Data, and Training with TensorBoard — what that tutorial writes.

The note links the tutorial without code; this module writes, with
``torch.utils.tensorboard.SummaryWriter``, everything the tutorial does — on the CIFAR
``Net`` and a generated CIFAR-10-format data set instead of Fashion-MNIST:

- an image grid of a batch (``add_image``);
- the model graph (``add_graph``);
- the training loss per logging step (``add_scalar``);
- a predictions-vs-truth figure (``add_figure``, matplotlib);
- an embedding of features with labels and thumbnails (``add_embedding``);
- one precision-recall curve per class (``add_pr_curve``);

and, beyond the tutorial, the two writers that make sub-directories, ``add_scalars`` and
``add_hparams``. Two of the tutorial's lines log a picture TensorBoard cannot show as it
is (its errata, which the spec checks for): the image grid still normalised to [-1, 1]
(the negatives come out black) and the projector's thumbnails as uint8 pixels 0-255
(the sprite comes out white). Here both are un-normalised to [0, 1] first.

View a run with ``tensorboard --logdir runs``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
import torchvision
from torch.utils.tensorboard import SummaryWriter

from reference import cifar10

#: The tags ``write_run`` writes under: the image grid (the tutorial names it after its
#: data, ``four_fashion_mnist_images``), the training loss and the predictions figure.
IMAGE_GRID_TAG = "four_cifar10_images"
LOSS_TAG = "training loss"
FIGURE_TAG = "predictions vs. actuals"


def matplotlib_imshow(img: torch.Tensor, one_channel: bool = False):
    """Show a normalised (3, H, W) image: un-normalise it (``img / 2 + 0.5``) and draw it
    with ``plt.imshow`` on the current axes — as an (H, W, 3) picture, or with
    ``one_channel=True`` its channels' mean in greys (``cmap="Greys"``).

    Beyond the note: the tutorial's helper for showing an image.

    Reference only: it also returns the array it drew, with values outside [0, 1] (an
    augmentation's overshoot) clipped.
    """
    img = img / 2 + 0.5
    if one_channel:
        picture = img.mean(dim=0).clamp(0, 1).numpy()
        plt.imshow(picture, cmap="Greys")
    else:
        picture = img.clamp(0, 1).permute(1, 2, 0).numpy()
        plt.imshow(picture)
    return picture


def plot_classes_preds(net, images, labels):
    """The tutorial's figure: one row of the images, each titled with its predicted class,
    its probability and the truth — ``"cat, 61.2%\\n(label: cat)"`` — green when right,
    red when wrong, without ticks. Returns the matplotlib figure.

    Beyond the note: the figure the TensorBoard tutorial logs with ``add_figure``.

    Reference only: the figure is 12 x 3 inches whatever the number of images (the
    tutorial's is 12 x 48, for its four).
    """
    with torch.no_grad():
        probs = F.softmax(net(images), dim=1)
    preds = probs.argmax(dim=1)
    fig = plt.figure(figsize=(12, 3))
    for idx in range(len(images)):
        fig.add_subplot(1, len(images), idx + 1, xticks=[], yticks=[])
        matplotlib_imshow(images[idx])
        ok = bool(preds[idx] == labels[idx])
        plt.title(
            f"{cifar10.classes[preds[idx]]}, {100 * probs[idx, preds[idx]]:.1f}%\n"
            f"(label: {cifar10.classes[labels[idx]]})",
            color="green" if ok else "red",
        )
    return fig


def write_run(
    logdir: str | Path,
    data_root: str | Path,
    steps: int = 40,
    log_every: int = 10,
    embedding_size: int = 32,
) -> None:
    """Train the CIFAR ``Net`` for ``steps`` mini-batches of 4 and log, into ``logdir`` with
    a ``SummaryWriter``, what the tutorial logs: a grid of the first batch's four images
    (un-normalised), the model's graph, the mean loss of every ``log_every`` mini-batches
    as "training loss" with the predictions figure as "predictions vs. actuals" at the
    same steps, an embedding of ``embedding_size`` images (pixels as features, class names,
    un-normalised thumbnails) and one PR curve per class over the test set.

    Beyond the note: its TensorBoard section is a link to the tutorial.

    Reference only: it also logs ``add_scalars("loss", {"train", "val"})`` and
    ``add_hparams(..., run_name="hparams")``, the writers that make sub-directories.
    """
    trainloader, testloader = cifar10.make_loaders(data_root, batch_size=4, seed=0)
    net = cifar10.Net()
    criterion, optimizer = cifar10.make_criterion_and_optimizer(net)

    with SummaryWriter(logdir) as writer:
        # 1. an image grid of one batch, un-normalized to [0, 1]
        images, labels = next(iter(trainloader))
        writer.add_image(IMAGE_GRID_TAG, torchvision.utils.make_grid(images / 2 + 0.5))

        # 2. the model graph, traced with one batch. Net's input check reads the shape
        #    in Python, which the tracer flags (harmlessly: the shape is fixed here).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            writer.add_graph(net, images)

        # 3. the training loss, and a predictions-vs-truth figure at each logging step
        running_loss, last_loss = 0.0, float("nan")
        for i, (inputs, labels) in enumerate(trainloader):
            if i == steps:
                break
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % log_every == log_every - 1:
                last_loss = running_loss / log_every
                writer.add_scalar(LOSS_TAG, last_loss, i)
                writer.add_figure(FIGURE_TAG, plot_classes_preds(net, inputs, labels), i)
                running_loss = 0.0

        # 4. an embedding of (flattened) images with their class names and thumbnails
        dataset = testloader.dataset
        batch = [dataset[j] for j in range(embedding_size)]
        thumbs = torch.stack([x for x, _ in batch])
        class_labels = [cifar10.classes[y] for _, y in batch]
        writer.add_embedding(
            thumbs.reshape(len(batch), -1), metadata=class_labels, label_img=thumbs / 2 + 0.5
        )

        # 5. one precision-recall curve per class, from test-set probabilities
        probs, truth = [], []
        with torch.no_grad():
            for images, labels in testloader:
                probs.append(F.softmax(net(images), dim=1))
                truth.append(labels)
        probs, truth = torch.cat(probs), torch.cat(truth)
        for class_index, name in enumerate(cifar10.classes):
            writer.add_pr_curve(name, truth == class_index, probs[:, class_index], global_step=0)

        # 6. the writers that create sub-directories of logdir
        for step in range(3):
            writer.add_scalars("loss", {"train": 1.0 / (step + 1), "val": 1.5 / (step + 1)}, step)
        writer.add_hparams(
            {"lr": 0.001, "momentum": 0.9, "batch_size": 4},
            {"hparam/final_loss": last_loss},
            run_name="hparams",
        )
