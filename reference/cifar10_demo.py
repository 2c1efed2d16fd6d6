"""The CIFAR-10 demo: ``python -m reference.cifar10_demo --help``.

It trains the note's CNN with the note's loop (``reference.cifar10``), prints the
note's ``[epoch, i] loss:`` lines under a progress bar, the accuracy and the per-class
table, and writes the weights and a loss curve. By default it trains on a generated
CIFAR-10-format data set (``reference.cifar10_data``); ``--data DIR`` (or
``CIFAR10_ROOT``) points it at the real one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import torch

from reference import cifar10_data
from reference.cifar10 import (
    Net,
    classes,
    collect_predictions,
    make_criterion_and_optimizer,
    make_loaders,
    per_class_accuracy,
    save,
    train,
)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda:0" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda: no CUDA device is available here")
    return torch.device(name)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reference.cifar10_demo",
        description="Train the note's CIFAR-10 CNN (generated data unless --data is given).",
    )
    p.add_argument("--epochs", type=positive_int, default=2)
    p.add_argument("--batch-size", type=positive_int, default=4)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument(
        "--data",
        default=os.environ.get(cifar10_data.REAL_DATA_ENV),
        help="directory holding cifar-10-batches-py/ (real or generated); default: generate "
        f"one under OUT/data (or ${cifar10_data.REAL_DATA_ENV})",
    )
    p.add_argument(
        "--train-size", type=positive_int, default=5000, help="generated training images"
    )
    p.add_argument("--test-size", type=positive_int, default=1000, help="generated test images")
    p.add_argument("--print-every", type=positive_int, default=250, help="the note's 2000")
    p.add_argument("--out", default="reports/cifar10", help="where weights and the plot go")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        device = _device(args.device)
    except ValueError as e:
        parser.error(str(e))
    out = Path(args.out)
    if args.data is not None:
        root = Path(args.data)
        if not (root / cifar10_data.BASE_FOLDER).is_dir():
            parser.error(f"--data {root}: no {cifar10_data.BASE_FOLDER}/ there")
    else:
        root = out / "data"
        if not (root / cifar10_data.BASE_FOLDER).is_dir():
            cifar10_data.write_cifar10(root, args.train_size, args.test_size, seed=args.seed)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        trainloader, testloader = make_loaders(root, args.batch_size, seed=args.seed)
    except (RuntimeError, FileNotFoundError) as e:
        parser.error(str(e))
    net = Net().to(device)  # convert parameters and buffers to CUDA tensors (if any)
    criterion, optimizer = make_criterion_and_optimizer(net)
    print(f"device: {device}, train: {len(trainloader.dataset)}, test: {len(testloader.dataset)}")

    loader = trainloader
    if not args.no_progress:
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        if tqdm is not None:
            loader = _Progress(trainloader, tqdm)
    start = time.perf_counter()
    log = loader.write if isinstance(loader, _Progress) else print
    losses = train(
        net, loader, criterion, optimizer, args.epochs, args.print_every, device, log=log
    )
    if isinstance(loader, _Progress):
        loader.close()
    seconds = time.perf_counter() - start

    predicted, labels = collect_predictions(net, testloader, device)
    total = 100 * (predicted == labels).double().mean().item()
    print(f"Accuracy of the network on the {len(labels)} test images: {total:.1f} %")
    per_class, _ = per_class_accuracy(predicted, labels)
    for name, acc in zip(classes, per_class.tolist(), strict=True):
        print("Accuracy of %5s : %5.1f %%" % (name, 100 * acc))
    out.mkdir(parents=True, exist_ok=True)
    save(net, out / "cifar_net.pth")
    plot = _plot_losses(losses, args.print_every, out / "loss.png")
    print(f"trained {seconds:.1f} s; saved {out / 'cifar_net.pth'}" + (f", {plot}" if plot else ""))
    return 0


class _Progress:
    """A tqdm bar over the loader that restarts each epoch and can print above itself."""

    def __init__(self, loader, tqdm):
        self.loader, self.tqdm, self.bar = loader, tqdm, None

    def __iter__(self):
        if self.bar is not None:
            self.bar.close()
        self.bar = self.tqdm(self.loader, unit="batch", leave=False, file=sys.stderr)
        return iter(self.bar)

    def __len__(self):
        return len(self.loader)

    def write(self, line: str) -> None:
        (self.tqdm.write if self.bar is not None else print)(line)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _plot_losses(losses: list[float], every: int, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([every * (i + 1) for i in range(len(losses))], losses, marker="o")
    ax.set_xlabel("mini-batches")
    ax.set_ylabel(f"running loss (mean of {every})")
    ax.set_title("CIFAR-10 Net: training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    raise SystemExit(main())
