"""Distributed — the note's CIFAR Net under DDP (gloo, 2 CPU processes) and Lightning's DDP, against one process.

Beyond the note: the note trains in one process; this pins the same training on several.

Marked ``distributed``: each test spawns two processes. Rendezvous for plain DDP is a
file; timeouts are one minute.
"""

import datetime
import logging
import pickle

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from spec.helpers import implementation, releases
from spec.helpers.implementation import impl

distributed = impl.distributed

#: The reference's own guarantee (the note trains in one process).
pytestmark = [
    pytest.mark.extra,
    pytest.mark.distributed,
    pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available"),
]


def test_ddp_on_two_processes_matches_one_process_on_the_full_batch(tmp_path):
    """2-process DDP on equal halves of each batch (mean loss) ends where 1 process on the full batch ends.

    DDP averages the two halves' gradients, which equals the full batch's mean-loss
    gradient. After 5 SGD-momentum steps weights agree to float32 summation order:
    rtol 1e-5 / atol 1e-7 (the measured difference: below 1e-8). The ranks start from a
    forkserver (a fresh interpreter that imports the implementation once and forks each
    rank; their arguments are pickled as under spawn, the default, at half its imports).
    """
    state = distributed.initial_state(seed=0)
    batches = distributed.make_batches(steps=5, batch_size=8, seed=1)
    single = distributed.train_single(state, batches)
    mp.set_forkserver_preload([implementation.current().module("distributed").__name__])
    ddp = distributed.train_ddp(state, batches, tmp_path, start_method="forkserver")
    torch.testing.assert_close(ddp, single, rtol=1e-5, atol=1e-7)
    assert any(not torch.equal(single[k], state[k]) for k in state)  # it did train


def test_ddp_spawns_its_processes_unless_told_otherwise(tmp_path, monkeypatch):
    """Fresh interpreters by default (safe with CUDA, the one start method on every OS);
    the start method given is the one used. The process start is recorded, not run."""
    started = []

    def start_processes(fn, args, nprocs, start_method):
        started.append((nprocs, start_method))
        impl.checkpoint.save_checkpoint(args[2], args[4])  # what rank 0 would leave

    monkeypatch.setattr(distributed.mp, "start_processes", start_processes)
    state = distributed.initial_state()
    batches = distributed.make_batches(steps=1, batch_size=4)
    distributed.train_ddp(state, batches, tmp_path)
    distributed.train_ddp(state, batches, tmp_path, world_size=1, start_method="fork")
    assert started == [(2, "spawn"), (1, "fork")]


def test_ddp_refuses_a_batch_it_cannot_split_equally(tmp_path):
    """A batch that does not split into equal shards is refused before any process starts."""
    batches = distributed.make_batches(steps=1, batch_size=5)
    with pytest.raises(ValueError, match="batch size divisible by 2, got 5"):
        distributed.train_ddp(distributed.initial_state(), batches, tmp_path)
    assert not (tmp_path / "rank0.pth").exists()


def test_make_batches_is_the_same_data_for_every_process_that_asks():
    """The batches come from their own generator: every call with one seed gives the same
    data, whatever the global RNG holds (the seed defaults to 0); another seed gives other
    data. Labels are CIFAR's: 0 to 9, all of them."""
    first = distributed.make_batches(steps=2, batch_size=100)
    torch.manual_seed(12345)  # a different global RNG must not change the data
    again = distributed.make_batches(steps=2, batch_size=100, seed=0)
    other = distributed.make_batches(steps=2, batch_size=100, seed=1)
    torch.testing.assert_close(again, first, rtol=0, atol=0)
    assert not torch.equal(other[0][0], first[0][0]), "seed 1 gave seed 0's images"
    assert not torch.equal(other[0][1], first[0][1]), "seed 1 gave seed 0's labels"
    for images, labels in first:
        assert images.shape == (100, 3, 32, 32)
        assert labels.shape == (100,)
        assert labels.dtype == torch.int64
        assert sorted(labels.unique().tolist()) == list(range(10)), (
            f"expected labels 0..9 in 100 draws, got {sorted(labels.unique().tolist())}"
        )


def test_make_batches_leaves_the_global_rng_alone():
    """Drawing the batches does not advance the global RNG a training loop relies on."""
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    distributed.make_batches(steps=2, batch_size=4)
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)


def test_initial_state_is_the_same_net_for_every_process_that_asks():
    """Every process starts DDP from one set of weights: ``initial_state()`` is seed 0's Net
    whatever the global RNG holds, another seed gives other weights, and the global RNG is
    left as it was."""
    torch.manual_seed(7)
    expected = torch.rand(3)
    torch.manual_seed(7)
    default = distributed.initial_state()
    torch.testing.assert_close(torch.rand(3), expected, rtol=0, atol=0)
    torch.manual_seed(12345)
    torch.testing.assert_close(distributed.initial_state(seed=0), default, rtol=0, atol=0)
    other = distributed.initial_state(seed=1)
    assert any(not torch.equal(other[k], default[k]) for k in default), "seed 1 gave seed 0's Net"


def test_ddp_with_one_process_is_one_process(tmp_path):
    """``world_size=1``: the one process is rank 0, takes the whole batch, saves, and ends
    where ``train_single`` ends; a work directory that does not exist yet is made, parents
    and all, and rank 0's checkpoint is left in it as ``rank0.pth``. Forked (``fork`` is
    on Linux, and spares the process an import of torch)."""
    state = distributed.initial_state(seed=0)
    batches = distributed.make_batches(steps=3, batch_size=4, seed=2)
    workdir = tmp_path / "not" / "yet"
    ddp = distributed.train_ddp(state, batches, workdir, world_size=1, start_method="fork")
    single = distributed.train_single(state, batches)
    torch.testing.assert_close(ddp, single, rtol=1e-5, atol=1e-7)  # as the 2-process test
    saved = impl.checkpoint.load_checkpoint(workdir / "rank0.pth")
    torch.testing.assert_close(saved, ddp, rtol=0, atol=0)


pl = pytest.importorskip("pytorch_lightning")


def without_dropout(model):
    """Dropout draws different masks in each process; this comparison needs none."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    return model


@pytest.mark.slow
def test_lightning_ddp_on_two_cpu_processes_matches_one_device_at_double_batch(tmp_path):
    """Trainer(strategy=DDPStrategy(...), devices=2) with batch 16 matches devices=1 with batch 32, one epoch.

    Lightning injects DistributedSampler(shuffle=True) into training loaders by default,
    even unshuffled ones, so the comparison uses LitMNISTInOrder with
    use_distributed_sampler=False: rank r takes examples r, r+2, ...; each pair of
    per-rank batches is the single device's batch (12 batches: the first 384 examples). Adam on averaged gradients:
    rtol 1e-5 / atol 1e-6 (measured: ~6e-8).
    """
    from pytorch_lightning.strategies import DDPStrategy

    from spec.helpers.data import write_mnist

    LitMNISTInOrder = impl.lightning_mnist.LitMNISTInOrder

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    write_mnist(tmp_path)
    common = {
        "max_epochs": 1, "accelerator": "cpu", "enable_progress_bar": False, "logger": False,
        "enable_checkpointing": False, "enable_model_summary": False,
        "num_sanity_val_steps": 0, "default_root_dir": tmp_path,
        "use_distributed_sampler": False,
        "limit_train_batches": 12, "limit_val_batches": 0,  # the first 384 examples
    }  # fmt: skip
    with torch.random.fork_rng():
        releases.seed_everything(0)
        one = without_dropout(
            LitMNISTInOrder(data_dir=str(tmp_path), download=False, learning_rate=1e-3)
        )
    start = {k: v.clone() for k, v in one.state_dict().items()}
    two = without_dropout(
        LitMNISTInOrder(data_dir=str(tmp_path), download=False, learning_rate=1e-3, batch_size=16)
    )
    two.load_state_dict(start)
    pl.Trainer(devices=1, **common).fit(one)
    # What ddp_spawn needs of a module is that it pickles (it is sent to each process):
    # checked in this process; the two processes are forked ("ddp_fork"), which spares
    # each the seconds of importing torch and Lightning again.
    again = pickle.loads(pickle.dumps(two))
    assert type(again) is type(two)
    torch.testing.assert_close(again.state_dict(), two.state_dict(), rtol=0, atol=0)
    strategy = DDPStrategy(start_method="fork", timeout=datetime.timedelta(seconds=60))
    pl.Trainer(devices=2, strategy=strategy, **common).fit(two)
    torch.testing.assert_close(two.state_dict(), one.state_dict(), rtol=1e-5, atol=1e-6)
    assert any(not torch.equal(one.state_dict()[k], start[k]) for k in start)


@pytest.mark.parametrize(("world_size", "rank"), [(None, None), (1, 0), (2, 0), (2, 1)])
def test_lit_mnist_in_order_gives_rank_r_the_examples_r_r_plus_world_size_and_so_on(
    mnist_root, world_size, rank
):
    """LitMNISTInOrder's training loader: alone (no Trainer attached) or on one device, the
    training split in order; on ``world_size`` devices, rank r takes examples r, r + world_size, ...

    The trainer is a stand-in with ``world_size`` and ``global_rank``: the loader reads
    only those, and a real two-device Trainer needs two processes (the test above)."""
    from types import SimpleNamespace

    model = impl.lightning_mnist.LitMNISTInOrder(data_dir=str(mnist_root), download=False,
                                                 batch_size=4)  # fmt: skip
    model.setup("fit")
    if world_size is not None:
        model.trainer = SimpleNamespace(world_size=world_size, global_rank=rank)
    loader = model.train_dataloader()
    step = world_size or 1
    start = rank or 0
    n = len(model.mnist_train)
    expected = list(range(start, n, step))
    order = list(loader.sampler)
    assert order[: len(expected)] == expected, (
        f"expected rank {start} of {step} to take examples {expected[:4]}..., got {order[:4]}..."
    )
    assert len(order) == -(-n // step)  # DistributedSampler pads the last rank to ceil(n / k)
    images, labels = next(iter(loader))
    first = [model.mnist_train[i] for i in expected[:4]]
    torch.testing.assert_close(images, torch.stack([x for x, _ in first]), rtol=0, atol=0)
    assert labels.tolist() == [y for _, y in first]
