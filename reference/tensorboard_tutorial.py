"""Visualizing Models, Data, and Training with TensorBoard — what that tutorial writes.

The note links the tutorial without code; this module writes, with
``torch.utils.tensorboard.SummaryWriter``, everything the tutorial does — on the CIFAR
``Net`` and a generated CIFAR-10-format data set instead of Fashion-MNIST — and the two
writers that make sub-directories, ``add_scalars`` and ``add_hparams``:

- an image grid of a batch (``add_image``);
- the model graph (``add_graph``);
- the training loss per logging step (``add_scalar``);
- a predictions-vs-truth figure (``add_figure``, matplotlib);
- an embedding of features with labels and thumbnails (``add_embedding``);
- one precision-recall curve per class (``add_pr_curve``).

View a run with ``tensorboard --logdir runs``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
import torchvision
from torch.utils.tensorboard import SummaryWriter

from reference import cifar10

#: The tags ``write_run`` writes under, as the tutorial names them: the image grid,
#: the training loss and the predictions-vs-truth figure.
IMAGE_GRID_TAG = "four_cifar10_images"
LOSS_TAG = "training loss"
FIGURE_TAG = "predictions vs. actuals"


@dataclass
class Written:
    """What ``write_run`` logged, so readers can be checked against it."""

    logdir: Path
    grid_shape: tuple[int, int, int] = (0, 0, 0)
    losses: dict[int, float] = field(default_factory=dict)
    pr_curve_tags: list[str] = field(default_factory=list)
    embedding_rows: int = 0
    figure_steps: list[int] = field(default_factory=list)


def matplotlib_imshow(img: torch.Tensor):
    """Un-normalize a (3, H, W) image in [-1, 1] to an (H, W, 3) array in [0, 1].

    Beyond the note: the tutorial's helper for showing an image; values outside [-1, 1]
    are clipped.
    """
    return (img / 2 + 0.5).clamp(0, 1).permute(1, 2, 0).numpy()


def plot_classes_preds(net, images, labels):
    """The tutorial's figure: each image with its predicted class, probability and truth
    (green when right, red when wrong), in one 12 x 3 inch row without ticks.

    Beyond the note: the figure the TensorBoard tutorial logs with ``add_figure``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with torch.no_grad():
        probs = F.softmax(net(images), dim=1)
    preds = probs.argmax(dim=1)
    fig = plt.figure(figsize=(12, 3))
    for idx in range(len(images)):
        ax = fig.add_subplot(1, len(images), idx + 1, xticks=[], yticks=[])
        ax.imshow(matplotlib_imshow(images[idx]))
        ok = bool(preds[idx] == labels[idx])
        ax.set_title(
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
) -> Written:
    """Train the CIFAR ``Net`` for ``steps`` mini-batches of 4, writing what the tutorial writes.

    Beyond the note: its TensorBoard section is a link to the tutorial; this writes, into
    ``logdir`` with one ``SummaryWriter``, what that tutorial writes: an image grid of one
    batch (``IMAGE_GRID_TAG``), the model graph, the running loss every ``log_every`` steps
    (``LOSS_TAG``) with a predictions figure (``FIGURE_TAG``), an embedding of
    ``embedding_size`` test images, one PR curve per class, and (sub-directories)
    ``add_scalars("loss", {"train", "val"})`` and ``add_hparams(..., run_name="hparams")``.
    Returns a ``Written`` record of what it logged.
    """
    logdir = Path(logdir)
    written = Written(logdir=logdir)
    trainloader, testloader = cifar10.make_loaders(data_root, batch_size=4, seed=0)
    net = cifar10.Net()
    criterion, optimizer = cifar10.make_criterion_and_optimizer(net)

    with SummaryWriter(logdir) as writer:
        # 1. an image grid of one batch, un-normalized to [0, 1]
        images, labels = next(iter(trainloader))
        img_grid = torchvision.utils.make_grid(images / 2 + 0.5)
        writer.add_image(IMAGE_GRID_TAG, img_grid)
        written.grid_shape = tuple(img_grid.shape)

        # 2. the model graph, traced with one batch. Net's input check reads the shape
        #    in Python, which the tracer flags (harmlessly: the shape is fixed here).
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            writer.add_graph(net, images)

        # 3. the training loss, and a predictions-vs-truth figure at each logging step
        running_loss = 0.0
        for i, (inputs, labels) in enumerate(trainloader):
            if i == steps:
                break
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % log_every == log_every - 1:
                writer.add_scalar(LOSS_TAG, running_loss / log_every, i)
                written.losses[i] = running_loss / log_every
                writer.add_figure(FIGURE_TAG, plot_classes_preds(net, inputs, labels), i)
                written.figure_steps.append(i)
                running_loss = 0.0

        # 4. an embedding of (flattened) images with their class names and thumbnails
        dataset = testloader.dataset
        batch = [dataset[j] for j in range(embedding_size)]
        thumbs = torch.stack([x for x, _ in batch])
        class_labels = [cifar10.classes[y] for _, y in batch]
        writer.add_embedding(
            thumbs.reshape(len(batch), -1), metadata=class_labels, label_img=thumbs / 2 + 0.5
        )
        written.embedding_rows = len(batch)

        # 5. one precision-recall curve per class, from test-set probabilities
        probs, truth = [], []
        with torch.no_grad():
            for images, labels in testloader:
                probs.append(F.softmax(net(images), dim=1))
                truth.append(labels)
        probs, truth = torch.cat(probs), torch.cat(truth)
        for class_index, name in enumerate(cifar10.classes):
            writer.add_pr_curve(name, truth == class_index, probs[:, class_index], global_step=0)
            written.pr_curve_tags.append(name)

        # 6. the writers that create sub-directories of logdir
        for step in range(3):
            writer.add_scalars("loss", {"train": 1.0 / (step + 1), "val": 1.5 / (step + 1)}, step)
        writer.add_hparams(
            {"lr": 0.001, "momentum": 0.9, "batch_size": 4},
            {"hparam/final_loss": list(written.losses.values())[-1]},
            run_name="hparams",
        )
    return written
