"""The CIFAR-10 demo: ``python -m reference.cifar10_demo --help``.

It trains the note's CNN with the note's loop (``reference.cifar10``), prints the
note's ``[epoch, i] loss:`` lines under a progress bar, the accuracy and the per-class
table, and writes the weights and a loss curve. By default it trains the note's way (2
epochs, batch 4, SGD lr 0.001 momentum 0.9) on a *generated* CIFAR-10-format set of the
real set's size (``reference.cifar10_data``), whose default difficulty is calibrated so
that this lands near the note's figures (about 55%); its first line says what it trains
on. ``--data DIR`` (or ``CIFAR10_ROOT``) points it at the real one.
"""

from __future__ import annotations

import argparse
import os
import shutil
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


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return value


#: The generated set's sizes by default: the real set's, as the note trains on.
TRAIN_SIZE, TEST_SIZE = 50000, 10000
#: The note's ``print_every`` (``if i % 2000 == 1999``).
PRINT_EVERY = 2000
#: Fewer training images seen than this (epochs x images) and the note's net is still near
#: chance on the calibrated set (measured, 1 epoch: 1,000 images 9.9%, 2,500 20.1%,
#: 5,000 27.3%; see reference.cifar10_data).
TOO_SHORT = 5000


class _HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Defaults in --help, except where the default (None) is described in words."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m reference.cifar10_demo",
        description="Train the note's CIFAR-10 CNN the note's way (on generated data unless "
        "--data is given).",
        formatter_class=_HelpWithDefaults,
    )
    p.add_argument("--epochs", type=positive_int, default=2, help="passes over the training set")
    p.add_argument("--batch-size", type=positive_int, default=4, help="images per step")
    p.add_argument("--lr", type=positive_float, default=0.001, help="SGD learning rate")
    p.add_argument("--momentum", type=non_negative_float, default=0.9, help="SGD momentum")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="auto: the GPU if there is one")  # fmt: skip
    p.add_argument(
        "--data",
        default=os.environ.get(cifar10_data.REAL_DATA_ENV),
        help="directory holding cifar-10-batches-py/ (real or generated); default: "
        f"${cifar10_data.REAL_DATA_ENV}, else a set generated under OUT/data",
    )
    p.add_argument(
        "--train-size",
        type=positive_int,
        help=f"generated training images (default: {TRAIN_SIZE}, the real set's)",
    )
    p.add_argument(
        "--test-size",
        type=positive_int,
        help=f"generated test images (default: {TEST_SIZE}, the real set's)",
    )
    p.add_argument(
        "--difficulty",
        type=non_negative_float,
        help="how far generated images stray from their class (default: "
        f"{cifar10_data.DIFFICULTY:g}, calibrated to the note's figures; 0: easy)",
    )
    p.add_argument("--print-every", type=positive_int,
                   help=f"mini-batches per loss line (default: the note's {PRINT_EVERY}, or a "
                   "fifth of an epoch where an epoch is shorter)")  # fmt: skip
    p.add_argument("--out", default="reports/cifar10", help="where weights and the plot go")
    p.add_argument("--seed", type=int, default=0, help="seeds the data, the weights, the order")
    p.add_argument("--threads", type=positive_int, default=1, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def generated_data(root: Path, n_train: int, n_test: int, seed: int, difficulty: float,
                   log=print) -> None:  # fmt: skip
    """Make sure ``root`` holds the generated set of these sizes, seed and difficulty:
    write it, or write it again where the one there was made with other arguments.

    Raises ``FileExistsError`` where ``root`` holds a CIFAR-10 the generator did not write
    (a real one is never deleted)."""
    folder = root / cifar10_data.BASE_FOLDER
    if folder.is_dir():
        try:
            held = cifar10_data.read_manifest(root)
        except (FileNotFoundError, ValueError):
            raise FileExistsError(
                f"{folder} was not written by the generator: pass --data {root} to train on "
                "it, or choose another --out"
            ) from None
        want = {"n_train": n_train, "n_test": n_test, "seed": seed, "difficulty": difficulty,
                "format_version": cifar10_data.FORMAT_VERSION}  # fmt: skip
        if all(held.get(k) == v for k, v in want.items()):
            return
        log(f"regenerating {folder}: it held {held.get('n_train')} / {held.get('n_test')} "
            f"images (seed {held.get('seed')}, difficulty {held.get('difficulty', 0):g}), "
            f"asked for {n_train} / {n_test} (seed {seed}, difficulty {difficulty:g})")  # fmt: skip
        shutil.rmtree(folder)
    cifar10_data.write_cifar10(root, n_train, n_test, seed=seed, difficulty=difficulty)


def describe_data(root: Path, generated: bool) -> str:
    """The demo's first line: what it trains on."""
    try:
        held = cifar10_data.read_manifest(root)
    except (FileNotFoundError, ValueError):
        return f"data: {root} (CIFAR-10 files, checked against the real set's MD5s)"
    d = held.get("difficulty", 0)
    calibrated = (
        ", calibrated: the note's recipe scores about 55% on 50,000 of its images"
        if d == cifar10_data.DIFFICULTY else ", easier than the calibrated default" if d <
        cifar10_data.DIFFICULTY else ""
    )  # fmt: skip
    where = "under OUT" if generated else "given with --data"
    return (f"data: GENERATED, not the real CIFAR-10 (reference.cifar10_data, {where}: {root}; "
            f"seed {held.get('seed')}, difficulty {d:g}{calibrated})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        device = _device(args.device)
    except ValueError as e:
        parser.error(str(e))
    out = Path(args.out)
    sized = [f for f in ("train_size", "test_size", "difficulty") if getattr(args, f) is not None]
    if args.data is not None:
        root = Path(args.data)
        if sized:
            flags = ", ".join("--" + f.replace("_", "-") for f in sized)
            parser.error(f"{flags}: for a generated set; --data {root} trains on what it holds")
        if not (root / cifar10_data.BASE_FOLDER).is_dir():
            parser.error(f"--data {root}: no {cifar10_data.BASE_FOLDER}/ there")
    else:
        root = out / "data"
        difficulty = cifar10_data.DIFFICULTY if args.difficulty is None else args.difficulty
        try:
            generated_data(root, args.train_size or TRAIN_SIZE, args.test_size or TEST_SIZE,
                           args.seed, difficulty)  # fmt: skip
        except FileExistsError as e:
            parser.error(str(e))
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        trainloader, testloader = make_loaders(root, args.batch_size, seed=args.seed)
    except (RuntimeError, FileNotFoundError) as e:
        parser.error(str(e))
    net = Net().to(device)  # convert parameters and buffers to CUDA tensors (if any)
    criterion, optimizer = make_criterion_and_optimizer(net, lr=args.lr, momentum=args.momentum)
    n_train, n_test = len(trainloader.dataset), len(testloader.dataset)
    print(describe_data(root, generated=args.data is None))
    print(f"device: {device}, train: {n_train}, test: {n_test}, batch {args.batch_size}, "
          f"SGD lr {args.lr:g} momentum {args.momentum:g}, {args.epochs} epoch(s)")  # fmt: skip
    if args.epochs * n_train < TOO_SHORT:
        print(f"note: {args.epochs} epoch(s) on {n_train:,} images is too short for the net to "
              "learn much: expect 10-20% (chance: 10%); the note's recipe is 2 epochs on "
              "50,000")  # fmt: skip
    print_every = args.print_every or min(PRINT_EVERY, max(1, len(trainloader) // 5))

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
    losses = train(net, loader, criterion, optimizer, args.epochs, print_every, device, log=log)
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
    plot = _plot_losses(losses, print_every, out / "loss.png")
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
