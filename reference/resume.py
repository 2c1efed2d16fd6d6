"""Exact resume: stop the note's CIFAR-10 loop after k steps, restart in a new process,
and end bit-identical (on CPU) to a run that never stopped.

What must be saved, beyond ``net.state_dict()``:

- the optimizer's state (SGD's momentum buffers);
- every RNG the run draws from: torch, NumPy and Python's ``random``;
- the data order: the shuffling generator's state *at the start of the epoch*, and how
  many batches of that epoch were already used. On resume the same permutation is drawn
  again and the used batches are skipped.

Everything is stored as tensors, ints, floats and strings, so the checkpoint loads with
``weights_only=True`` (``reference.checkpoint``).

``python -m reference.resume DATA --steps N [--stop-after K] [--resume CKPT] [--seed S] --out PATH``
"""

from __future__ import annotations

import argparse
import copy
import random
from pathlib import Path

import numpy as np
import torch

from reference import checkpoint, cifar10


def capture_rng() -> dict:
    name, keys, pos, has_gauss, cached = np.random.get_state()
    version, state, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": version, "state": list(state), "gauss": gauss},
    }


def restore_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        (
            n["name"],
            n["keys"].numpy().astype(np.uint32),
            n["pos"],
            n["has_gauss"],
            n["cached_gaussian"],
        )
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def train_steps(
    data_root,
    total_steps: int,
    stop_after: int | None = None,
    resume_from: dict | None = None,
    seed: int = 0,
    batch_size: int = 4,
) -> dict:
    """Run the note's loop (SGD lr 0.001 momentum 0.9, shuffled batches of 4) until
    ``total_steps`` — or until ``stop_after`` steps, returning a resumable state."""
    if resume_from is None:
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
    net = cifar10.Net()
    criterion, optimizer = cifar10.make_criterion_and_optimizer(net)
    trainloader, _ = cifar10.make_loaders(data_root, batch_size=batch_size, seed=seed)
    generator = trainloader.generator
    step, epoch, skip = 0, 0, 0
    if resume_from is not None:
        net.load_state_dict(resume_from["model"])
        # A copy: Optimizer.load_state_dict keeps the given momentum buffers and steps
        # them in place, which would change the caller's resume_from as training goes on.
        optimizer.load_state_dict(copy.deepcopy(resume_from["optimizer"]))
        restore_rng(resume_from["rng"])
        generator.set_state(resume_from["loader"]["generator_at_epoch_start"])
        step, epoch, skip = (resume_from["loader"][k] for k in ("step", "epoch", "batch_in_epoch"))

    while step < total_steps:
        at_epoch_start = generator.get_state()  # iter() draws this epoch's order from it
        for i, (inputs, labels) in enumerate(trainloader):
            if i < skip:  # batches this epoch already used before the stop
                continue
            if stop_after is not None and step == stop_after:
                return {
                    "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "rng": capture_rng(),
                    "loader": {
                        "generator_at_epoch_start": at_epoch_start,
                        "epoch": epoch,
                        "batch_in_epoch": i,
                        "step": step,
                    },
                }
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
            step += 1
            if step == total_steps:
                break
        epoch, skip = epoch + 1, 0
    return {"model": net.state_dict(), "optimizer": optimizer.state_dict(), "step": step}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m reference.resume")
    parser.add_argument("data", help="directory holding cifar-10-batches-py/")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--stop-after", type=int)
    parser.add_argument("--resume", help="checkpoint written by an earlier --stop-after run")
    parser.add_argument("--seed", type=int, default=0, help="seeds a run that does not resume")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    try:
        state = checkpoint.load_checkpoint(args.resume) if args.resume else None
        result = train_steps(
            args.data, args.steps, args.stop_after, resume_from=state, seed=args.seed
        )
        checkpoint.save_checkpoint(result, Path(args.out))
    except checkpoint.CheckpointError as e:  # a refused --resume file, a save that failed
        parser.exit(1, f"{parser.prog}: error: {e}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
