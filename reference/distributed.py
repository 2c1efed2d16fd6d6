"""Data-parallel training of the note's CIFAR ``Net`` with torch.distributed (DDP, gloo, CPU).

Two processes each take an equal half of every batch; DDP averages their gradients in
``backward``. Since each computes the *mean* loss over its half, the averaged gradient
is the gradient of the mean loss over the whole batch — so k steps of 2-process DDP
match k steps of one process on the full batch, up to float32 summation order.

Processes are started by ``torch.multiprocessing.start_processes`` (spawned by default:
fresh interpreters) and meet through a file (``init_method="file://..."``): no network
ports. Timeouts are a minute, not 30.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

from reference import checkpoint, cifar10

TIMEOUT = datetime.timedelta(seconds=60)


def make_batches(steps: int, batch_size: int, seed: int = 0):
    """The same ``steps`` batches of CIFAR-shaped data for every process."""
    g = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(steps):
        images = torch.randn(batch_size, 3, 32, 32, generator=g)
        batches.append((images, torch.randint(0, 10, (batch_size,), generator=g)))
    return batches


def initial_state(seed: int = 0) -> dict:
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return cifar10.Net().state_dict()


def train_single(state: dict, batches) -> dict:
    """One process, full batches: the reference DDP must match."""
    net = cifar10.Net()
    net.load_state_dict(state)
    criterion, optimizer = cifar10.make_criterion_and_optimizer(net)
    for inputs, labels in batches:
        optimizer.zero_grad()
        criterion(net(inputs), labels).backward()
        optimizer.step()
    return net.state_dict()


def _worker(rank: int, world_size: int, init_file: str, state: dict, batches, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=world_size, timeout=TIMEOUT
    )
    try:
        net = cifar10.Net()
        net.load_state_dict(state)
        model = DDP(net)
        criterion, optimizer = cifar10.make_criterion_and_optimizer(model)
        for inputs, labels in batches:
            shard = inputs.shape[0] // world_size
            mine = slice(rank * shard, (rank + 1) * shard)  # equal, contiguous shards
            optimizer.zero_grad()
            criterion(model(inputs[mine]), labels[mine]).backward()  # grads averaged here
            optimizer.step()
        if rank == 0:
            checkpoint.save_checkpoint(net.state_dict(), out)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def train_ddp(
    state: dict, batches, workdir: str | os.PathLike, world_size: int = 2, start_method="spawn"
) -> dict:
    """Start ``world_size`` gloo processes on this machine; return rank 0's final weights.

    ``start_method``: "spawn" (fresh interpreters: safe with CUDA, and the only one on
    every OS) or, on Linux and macOS without CUDA in use, "fork" (copies of this process:
    no second import of torch)."""
    batch = batches[0][0].shape[0]
    if batch % world_size:
        raise ValueError(f"expected a batch size divisible by {world_size}, got {batch}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    init_file, out = workdir / "rendezvous", workdir / "rank0.pth"
    init_file.unlink(missing_ok=True)  # a stale rendezvous file would hang the group
    mp.start_processes(
        _worker, args=(world_size, str(init_file), state, batches, str(out)), nprocs=world_size,
        start_method=start_method,
    )  # fmt: skip
    return checkpoint.load_checkpoint(out)
