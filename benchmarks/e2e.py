"""The note's CIFAR-10 script end to end, as users run it: data set, transforms, loader, step.

The script is the note's "TRAINING A CLASSIFIER" with the tutorial's step 1: each image a
PIL image through ``ToTensor`` and ``Normalize((0.5,)*3, (0.5,)*3)``, a
``DataLoader(batch_size=4, shuffle=True, num_workers=2)``, the training loop with its
``running_loss += loss.item()`` and its print every 2,000 mini-batches, then the
whole-test-set accuracy pass and the per-class pass (two passes over the test loader).
Through the loader, the loop and the passes are the reference's own (``cifar10.train``,
``accuracy``, ``collect_predictions`` + ``per_class_accuracy``), so what is timed is the
code the spec checks. On a GPU the batch goes to the device every step, as the note's
"Training on GPU" shows.

Variants (``VARIANTS``), each the same computation — the benchmarks check the weights after
k steps against ``as_written`` with ``num_workers=0`` and the test accuracy of those weights:

- ``as_written``: exactly the above (``num_workers=2``); ``as_written_nw0``: one process.
- ``tuned_loader``: the same loop; the loader configuration that ``tune_loader`` measures
  fastest on the machine (worker count, persistent workers, prefetch; on a GPU pinned
  memory and ``non_blocking`` copies).
- ``decoded``: the data sets decoded once into uint8 tensors (the one-time cost reported
  apart), moved to the device once; ``ToTensor`` + ``Normalize`` as one expression on the
  device (the same float32 operations in the same order: bit for bit the same batches);
  batches gathered with the very permutation the loader's sampler draws from the global
  RNG; the running loss summed on the device and read every 2,000 steps; both test
  passes from one batched forward pass. On a GPU each epoch is gathered and normalized
  in one go, and ``decoded+graph``, ``decoded+compiled_graph`` and
  ``decoded+triton_graph`` run the step as the cores of ``benchmarks/cores.py`` do (CUDA
  graphs of 10 steps; the loss stays inside the graph, so these print no running loss).
  On the CPU ``decoded+cpu_fused`` runs the CPU's best step, the hand-written C one of
  ``benchmarks/lenet_cpu.py``, on the decoded batches (its loss feeds the running loss).
- ``core_only``: the same steps from batches already transformed, in memory — the cores'
  measure, for the ratio end-to-end / core.
"""

from __future__ import annotations

import functools
import gc
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler

from benchmarks import cores
from reference import cifar10, cifar10_data

BATCH = 4
PRINT_EVERY = 2000
MEAN = STD = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Options:
    num_workers: int = 0
    persistent_workers: bool = False
    prefetch_factor: int | None = None
    pin_memory: bool = False
    non_blocking: bool = False
    decoded: bool = False
    in_memory: bool = False  # core_only: pre-transformed batches, no data path
    core: str = "eager"  # decoded on CUDA: a captured variant of benchmarks/cores.py
    steps_per_graph: int = 1


#: name -> (options on the CPU, options on a GPU); None: not run on that device.
VARIANTS: dict[str, tuple[Options | None, Options | None]] = {
    "as_written": (Options(num_workers=2), Options(num_workers=2)),
    "as_written_nw0": (Options(num_workers=0), Options(num_workers=0)),
    # the fastest loader configuration measured on the machine: see tuned_options()
    "tuned_loader": (Options(), Options()),
    "decoded": (Options(decoded=True), Options(decoded=True)),
    "decoded+graph": (None, Options(decoded=True, core="graph", steps_per_graph=10)),
    "decoded+compiled_graph": (
        None,
        Options(decoded=True, core="compiled_graph", steps_per_graph=10),
    ),
    "decoded+triton_graph": (None, Options(decoded=True, core="triton_graph", steps_per_graph=10)),
    "decoded+cpu_fused": (Options(decoded=True, core="cpu_fused"), None),
    "core_only": (Options(in_memory=True), Options(in_memory=True)),
}


def options_for(variant: str, device: str) -> Options | None:
    if variant == "tuned_loader":
        return TUNED.get(device)
    cpu, gpu = VARIANTS[variant]
    return cpu if device == "cpu" else gpu


#: tuned_loader's options per device type, once tune_loader() has measured them.
TUNED: dict[str, Options] = {}


def loader_candidates(device: str) -> list[Options]:
    """Loader configurations worth trying: no workers, or 1, 2, 4, 8 workers (up to the
    cores there are) kept alive across epochs with a deep prefetch; on a GPU with pinned
    memory and copies that do not block."""
    cuda = device == "cuda"
    out = [Options(pin_memory=cuda, non_blocking=cuda)]
    for n in (1, 2, 4, 8):
        if n <= (os.cpu_count() or 1):
            out.append(Options(num_workers=n, persistent_workers=True, prefetch_factor=8,
                               pin_memory=cuda, non_blocking=cuda))  # fmt: skip
    return out


def tune_loader(root, device: str, batches: int = 300) -> tuple[Options, dict[str, float]]:
    """Time each candidate's data path alone (``batches`` mini-batches after a warm-up,
    copies to the device included) and keep the fastest as ``tuned_loader``'s options for
    this device. Returns it and every candidate's microseconds per batch."""
    times = {}
    best = None
    for options in loader_candidates(device):
        script = NoteScript(root, device, "as_written", options=options)
        script.data_only(min(50, batches))
        start = time.perf_counter()
        script.data_only(batches)
        seconds = (time.perf_counter() - start) / batches
        script.close()
        times[describe(options)] = seconds * 1e6
        if best is None or seconds < best[1]:
            best = (options, seconds)
    TUNED[torch.device(device).type] = best[0]
    return best[0], times


def describe(options: Options) -> str:
    """'num_workers=2, persistent, prefetch 8, pinned, non_blocking' (loader variants)."""
    if options.decoded or options.in_memory:
        return "no loader"
    parts = [f"num_workers={options.num_workers}"]
    parts += ["persistent"] * options.persistent_workers
    parts += [f"prefetch {options.prefetch_factor}"] * bool(options.prefetch_factor)
    parts += ["pinned"] * options.pin_memory + ["non_blocking"] * options.non_blocking
    return ", ".join(parts)


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> what ToTensor then Normalize(0.5, 0.5) give, bit for bit:
    ``float()``, ``div(255)``, then ``sub(mean)`` and ``div(std)`` per channel, the
    operations torchvision computes in the same order (in place here: no temporaries)."""
    mean, std = _mean_std(images.device)
    return images.to(torch.float32).div_(255).sub_(mean).div_(std)


@functools.cache
def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.as_tensor(MEAN, dtype=torch.float32, device=device).view(-1, 1, 1)
    std = torch.as_tensor(STD, dtype=torch.float32, device=device).view(-1, 1, 1)
    return mean, std


def decode(dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """A CIFAR10 data set object's images as one uint8 (N, 3, 32, 32) tensor, its labels as
    int64 — the bytes ToTensor would read from each PIL image."""
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
    return images, torch.as_tensor(dataset.targets, dtype=torch.int64)


class NoteScript:
    """The note's script on one device in one variant, run in pieces so a fraction of an
    epoch can be timed. The model starts from ``torch.manual_seed(seed)``; the loader's
    shuffling draws from a global RNG state this script owns, so other code in between
    does not change its trajectory."""

    def __init__(self, root, device: str, variant: str, seed: int = 0, options=None):
        self.device = torch.device(device)
        self.variant = variant
        self.options = options or options_for(variant, self.device.type)
        if self.options is None:
            hint = " (run tune_loader first)" if variant == "tuned_loader" else ""
            raise ValueError(f"variant {variant!r} does not run on {self.device.type}{hint}")
        self.out = io.StringIO()  # where the note's prints go
        start = time.perf_counter()
        transform = cifar10.transform
        self.trainset = cifar10_data.load_cifar10(root, train=True, transform=transform)
        self.testset = cifar10_data.load_cifar10(root, train=False, transform=transform)
        self.setup_seconds = {"data sets": time.perf_counter() - start}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = cifar10.Net()
            self.rng = torch.get_rng_state()  # the next draws are the loader's
        self.net.to(self.device)
        self.criterion = torch.nn.CrossEntropyLoss()
        self.optimizer = torch.optim.SGD(self.net.parameters(), lr=0.001, momentum=0.9)
        self.epoch, self.i = 0, 0
        self.batches: Iterator | None = None
        self.runner = None
        o = self.options
        if o.decoded or o.in_memory:
            start = time.perf_counter()
            self.train_u8, self.train_y = (t.to(self.device) for t in decode(self.trainset))
            self.test_u8, self.test_y = (t.to(self.device) for t in decode(self.testset))
            self._sync()
            self.setup_seconds["decode"] = time.perf_counter() - start
            self.running = torch.zeros((), device=self.device)
        else:
            pin = o.pin_memory and self.device.type == "cuda"
            extra = {"persistent_workers": o.persistent_workers} if o.num_workers else {}
            if o.num_workers and o.prefetch_factor:
                extra["prefetch_factor"] = o.prefetch_factor
            loader = {"batch_size": BATCH, "num_workers": o.num_workers, "pin_memory": pin}
            self.trainloader = DataLoader(self.trainset, shuffle=True, **loader, **extra)
            self.testloader = DataLoader(self.testset, shuffle=False, **loader, **extra)
        if o.in_memory:
            self.prepared = self._prepared_epoch()
        if o.core != "eager":
            self._build_runner()

    # ------------------------------------------------------------------ data
    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.trainset) // BATCH)

    def _draw_epoch_order(self) -> torch.Tensor:
        """The permutation the as-written loader uses this epoch, from this script's global
        RNG state: the DataLoader iterator first draws its workers' base seed, then the
        RandomSampler draws its own seed and returns randperm under it."""
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.rng)
            torch.empty((), dtype=torch.int64).random_()  # the iterator's base seed
            batches = list(BatchSampler(RandomSampler(range(len(self.trainset))), BATCH, False))
            self.rng = torch.get_rng_state()
        return torch.as_tensor([i for batch in batches for i in batch], dtype=torch.int64)

    def _loader_epoch(self) -> Iterator:
        """Batches of one epoch from the loader (created, or with persistent workers reset,
        under this script's RNG state)."""
        with torch.random.fork_rng(devices=[]):
            torch.set_rng_state(self.rng)
            if self.options.persistent_workers and self.epoch > 0:
                # a persistent iterator is reset, not re-created, and so skips the base
                # seed a new one draws: draw it, so the order stays the as-written one
                torch.empty((), dtype=torch.int64).random_()
            it = iter(self.trainloader)
            first = next(it)
            self.rng = torch.get_rng_state()
        yield first
        yield from it

    def _gathered_epoch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next epoch at once, in the loader's order: one gather, one normalization."""
        order = self._draw_epoch_order().to(self.device)
        return normalize(self.train_u8.index_select(0, order)), self.train_y.index_select(0, order)

    def _decoded_epoch(self) -> Iterator:
        if self.device.type == "cuda":
            x, y = self._gathered_epoch()
            yield from zip(x.split(BATCH), y.split(BATCH), strict=True)
        else:
            order = self._draw_epoch_order()
            for idx in order.split(BATCH):
                yield (
                    normalize(self.train_u8.index_select(0, idx)),
                    self.train_y.index_select(0, idx),
                )

    def _prepared_epoch(self) -> list:
        """core_only: one epoch's batches in the as-written order, transformed beforehand."""
        x, y = self._gathered_epoch()
        return list(zip(x.split(BATCH), y.split(BATCH), strict=True))

    def _memory_epoch(self) -> Iterator:
        prepared, self.prepared = self.prepared or self._prepared_epoch(), None
        yield from prepared

    def _next_epoch(self) -> Iterator:
        o = self.options
        if o.in_memory:
            return self._memory_epoch()
        return self._decoded_epoch() if o.decoded else self._loader_epoch()

    def data_only(self, steps: int) -> None:
        """The data path alone for ``steps`` mini-batches: what the loop waits for before
        each step (on a GPU, the copy to the device included)."""
        for _ in range(steps):
            inputs, labels = self._next_batch()
            if self.device.type == "cuda" and not self.options.decoded:
                inputs = inputs.to(self.device, non_blocking=self.options.non_blocking)
                labels = labels.to(self.device, non_blocking=self.options.non_blocking)
        self._sync()

    def data_seconds_per_step(self, steps: int) -> float:
        """The data path alone, per mini-batch, at its steady state (a fresh script: it
        advances this one's loader and RNG). Decoded on a GPU: one epoch's permutation,
        gather and normalization, divided by the epoch's steps."""
        if self.options.in_memory:
            return 0.0
        if self.options.decoded and self.device.type == "cuda":
            start = time.perf_counter()
            self._gathered_epoch()
            self._sync()
            return (time.perf_counter() - start) / self.steps_per_epoch
        self.data_only(min(50, steps))
        start = time.perf_counter()
        self.data_only(steps)
        return (time.perf_counter() - start) / steps

    def epoch_start_seconds(self) -> float:
        """What starting an epoch costs beyond a mini-batch: creating the loader's
        iterator (its worker processes, where it has them) and waiting for the first batch.
        Measured on a fresh script; 0 for the decoded variants."""
        if self.options.decoded or self.options.in_memory:
            return 0.0
        start = time.perf_counter()
        self.data_only(1)
        return time.perf_counter() - start

    def _next_batch(self):
        while True:
            if self.batches is None:
                self.batches = self._next_epoch()
            try:
                return next(self.batches)
            except StopIteration:
                self.batches, self.epoch, self.i = None, self.epoch + 1, 0

    # ------------------------------------------------------------------ training
    def train_steps(self, steps: int) -> None:
        """``steps`` iterations of the note's training loop (crossing epochs as needed).

        Through the loader, the loop is the reference's own ``cifar10.train``, given the
        next ``steps`` batches of this script's epochs (each call a stretch of the loop:
        its running loss and its printed mini-batch count start again at each call)."""
        if self.runner is not None and self.runner.options.captured:
            return self._train_captured(steps)
        if self.options.decoded or self.options.in_memory:
            return self._train_from_memory(steps)
        cifar10.train(
            self.net, self._stretch(steps), self.criterion, self.optimizer, epochs=1,
            print_every=PRINT_EVERY, device=self.device, max_steps=steps,
            log=lambda line: print(line, file=self.out),
        )  # fmt: skip
        self._sync()

    def _stretch(self, steps: int) -> Iterator:
        """The next ``steps`` batches, copied to the device the way the options say
        (``non_blocking`` where tuned: the loop's own ``.to(device)`` is then a no-op)."""
        for _ in range(steps):
            inputs, labels = self._next_batch()
            nb = self.options.non_blocking
            yield inputs.to(self.device, non_blocking=nb), labels.to(self.device, non_blocking=nb)
            self.i += 1

    def _train_from_memory(self, steps: int) -> None:
        """The note's loop over batches already on the device, the running loss summed
        there and read every ``PRINT_EVERY`` steps instead of every step."""
        net, criterion, optimizer = self.net, self.criterion, self.optimizer
        fused = self.runner.step if self.runner is not None else None
        for _ in range(steps):
            inputs, labels = self._next_batch()
            if fused is not None:  # the hand-written step: forward, loss, backward, update
                loss = fused(inputs, labels)
            else:
                optimizer.zero_grad()
                outputs = net(inputs)
                loss = criterion(outputs, labels)
                loss.backward()
                optimizer.step()
            self.running += loss.detach()
            if self.i % PRINT_EVERY == PRINT_EVERY - 1:
                print("[%d, %5d] loss: %.3f" % (self.epoch + 1, self.i + 1,
                      self.running.item() / PRINT_EVERY), file=self.out)  # fmt: skip
                self.running.zero_()
            self.i += 1
        self._sync()

    def _build_runner(self) -> None:
        """A core of benchmarks/cores.py whose model starts from the same seed: captured,
        each epoch's gathered batches are handed to it as the data its replays read; the
        hand-written CPU step is called on each decoded batch."""
        core = cores.cifar_core(BATCH)
        first = normalize(self.train_u8[:BATCH]), self.train_y[:BATCH]
        start = time.perf_counter()
        self.runner = cores.runner(core, self.options.core, str(self.device), [first],
                                   steps_per_graph=self.options.steps_per_graph)  # fmt: skip
        self.setup_seconds["capture"] = time.perf_counter() - start
        self.net = self.runner.model

    def _train_captured(self, steps: int) -> None:
        k = self.options.steps_per_graph
        while steps > 0:
            if self.batches is None:
                x, y = self._gathered_epoch()
                n = self.steps_per_epoch
                self.runner.set_data(x.view(n, BATCH, 3, 32, 32), y.view(n, BATCH))
                self.batches, self.i = iter(()), 0  # marks an epoch in progress
            left = self.steps_per_epoch - self.i
            todo = min(steps, left)
            todo -= todo % k
            if todo == 0:
                raise ValueError(f"steps must be multiples of {k} within an epoch")
            self.runner.run(todo, start=self.i)
            self.i += todo
            steps -= todo
            if self.i == self.steps_per_epoch:
                self.batches, self.epoch = None, self.epoch + 1

    # ------------------------------------------------------------------ testing
    def evaluate(self) -> tuple[int, list[int], list[int]]:
        """The note's two passes: (correct over the whole test set, per-class correct,
        per-class total). As written: two loops over the test loader, the second with the
        note's ``for i in range(4)``; decoded: one batched forward pass for both."""
        self.net.eval()
        try:
            if self.options.decoded or self.options.in_memory:
                return self._batched_test()
            return self._note_test()
        finally:
            self.net.train()

    def _note_test(self):
        """The reference's two passes over the test loader: ``cifar10.accuracy`` (the
        note's loop), then ``collect_predictions`` and ``per_class_accuracy`` (one count
        over all predictions where the note's loop reads four per batch)."""
        net, dev = self.net, self.device
        percent = cifar10.accuracy(net, self.testloader, dev)
        correct = round(percent * len(self.testset) / 100)
        predicted, labels = cifar10.collect_predictions(net, self.testloader, dev)
        _, confusion = cifar10.per_class_accuracy(predicted, labels)
        return correct, confusion.diagonal().tolist(), confusion.sum(dim=1).tolist()

    def _batched_test(self, chunk: int = 2000):
        predicted = []
        with torch.no_grad():
            for images in self.test_u8.split(chunk):
                predicted.append(self.net(normalize(images)).argmax(1))
        hit = torch.cat(predicted) == self.test_y
        per_class = torch.bincount(self.test_y[hit], minlength=10)
        totals = torch.bincount(self.test_y, minlength=10)
        return int(hit.sum()), per_class.tolist(), totals.tolist()

    # ------------------------------------------------------------------ state
    def weights(self) -> dict[str, torch.Tensor]:
        if self.runner is not None:
            return self.runner.weights()
        return {k: v.detach().float().cpu().clone() for k, v in self.net.state_dict().items()}

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def close(self) -> None:
        """Stop the loaders' worker processes now (persistent ones live until then): with
        the last reference to a loader gone, its iterator's finaliser stops its workers."""
        self.batches = None
        self.trainloader = self.testloader = None
        gc.collect()  # a reference cycle (a traceback, a generator) may hold one still
