"""The training cores the benchmarks time, each in every variant, plus FLOP counting.

A *core* is the note's model, optimizer and loss; a *variant* is how one step is run:

- ``eager``: the note's loop — zero_grad, forward, loss, backward, step — with the
  batch already on the device (``host`` variants copy it there every step, as the
  note's "Training on GPU" does);
- ``graph``: the whole step captured in a CUDA graph, ``steps_per_graph`` steps per
  replay, inputs copied into static buffers (CUDA only);
- ``compiled``: ``torch.compile(mode="reduce-overhead")`` of the step (CUDA only);
- ``channels_last`` / ``bf16``: memory format and autocast options on the eager step.

Every variant runs the same computation as ``eager``: ``trajectory`` returns the weights
after k steps so the benchmarks can check that before they time anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from reference import cifar10, examples


@dataclass
class Core:
    name: str
    batch: int
    make_model: Callable[[], torch.nn.Module]
    make_optimizer: Callable[[torch.nn.Module, bool], torch.optim.Optimizer]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    make_batch: Callable[[torch.Generator, int], tuple[torch.Tensor, torch.Tensor]]
    items_per_step: int = 0  # images (or samples) per step; = batch

    def __post_init__(self):
        self.items_per_step = self.items_per_step or self.batch


def cifar_core(batch: int) -> Core:
    """The note's CIFAR Net: SGD(lr=0.001, momentum=0.9), cross-entropy."""

    def make_batch(g, n):
        return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)

    return Core(
        name=f"cifar_net_b{batch}",
        batch=batch,
        make_model=cifar10.Net,
        make_optimizer=lambda m, capturable: torch.optim.SGD(
            m.parameters(), lr=0.001, momentum=0.9
        ),
        loss=F.cross_entropy,
        make_batch=make_batch,
    )


def mlp_core() -> Core:
    """The note's two-layer MLP: N=64, 1000-100-10, Adam(lr=1e-4), MSE(reduction='sum')."""

    def make_batch(g, n):
        return torch.randn(n, 1000, generator=g), torch.randn(n, 10, generator=g)

    return Core(
        name="mlp_b64",
        batch=64,
        make_model=examples.sequential_model,
        make_optimizer=lambda m, capturable: torch.optim.Adam(
            m.parameters(), lr=1e-4, capturable=capturable
        ),
        loss=lambda y_pred, y: F.mse_loss(y_pred, y, reduction="sum"),
        make_batch=make_batch,
    )


def flops_per_step(core: Core) -> int:
    """FLOPs of one forward + backward (counted by torch's FlopCounterMode; the optimizer's
    elementwise update is not counted). LeNet: ~1.30 MFLOP forward, ~3.2 MFLOP per step
    and image."""
    model = core.make_model()
    x, y = core.make_batch(torch.Generator().manual_seed(0), core.batch)
    with FlopCounterMode(display=False) as counter:
        core.loss(model(x), y).backward()
    return counter.get_total_flops()


@dataclass
class Runner:
    """One core in one variant on one device, ready to run steps."""

    core: Core
    variant: str
    device: torch.device
    steps_per_graph: int = 1
    setup_seconds: float = 0.0  # graph capture / compilation, reported separately
    model: torch.nn.Module = field(init=False)
    batches: list = field(init=False, default_factory=list)

    def __post_init__(self):
        self.model = self.core.make_model()

    # -------------------------------------------------------------- building
    def prepare(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> Runner:
        dev, variant = self.device, self.variant
        self.model.to(dev)
        if "channels_last" in variant:
            self.model.to(memory_format=torch.channels_last)
        capturable = variant.startswith("graph") and dev.type == "cuda"
        self.optimizer = self.core.make_optimizer(self.model, capturable)
        self.host = variant.startswith("host")
        to = dev if not self.host else torch.device("cpu")
        self.batches = [(x.to(to), y.to(to)) for x, y in batches]
        if "channels_last" in variant:
            self.batches = [(x.to(memory_format=torch.channels_last), y) for x, y in self.batches]
        self.autocast = "bf16" in variant
        start = time.perf_counter()
        if variant.startswith("graph"):
            self._capture()
        elif variant.startswith("compiled"):
            self._compile()
        self.setup_seconds = time.perf_counter() - start
        return self

    def _eager_step(self, x, y):
        if self.host:
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            loss = self.core.loss(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss

    def _warm_up_then_reset(self, step: Callable, stream=None) -> None:
        """Run 3 real steps (creating optimizer state, compiling), then put weights back and
        zero the optimizer state — for SGD-momentum and Adam, zero state is exactly the
        fresh state — so the timed run starts where eager starts."""
        state = {k: v.clone() for k, v in self.model.state_dict().items()}
        x, y = self.batches[0]
        if stream is None:
            for _ in range(3):
                step(x, y)
        else:
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(3):
                    step(x, y)
            torch.cuda.current_stream().wait_stream(stream)
        self._reset(state)

    def _reset(self, state: dict) -> None:
        with torch.no_grad():
            for k, v in self.model.state_dict().items():
                v.copy_(state[k])
            for per_param in self.optimizer.state.values():
                for value in per_param.values():
                    if torch.is_tensor(value):
                        value.zero_()

    def _compile(self):
        self._compiled = torch.compile(self._eager_step, mode="reduce-overhead")
        self._warm_up_then_reset(self._compiled)

    def _capture(self):
        """Whole-step capture, as in the CUDA graphs docs ("whole network capture"): warm up
        on a side stream (so optimizer state exists before capture), then capture
        ``steps_per_graph`` steps that read static input buffers."""
        k = self.steps_per_graph
        x0, y0 = self.batches[0]
        self.static_x = torch.stack([x0] * k)
        self.static_y = torch.stack([y0] * k)
        self._warm_up_then_reset(self._eager_step, stream=torch.cuda.Stream())
        state = {k2: v.clone() for k2, v in self.model.state_dict().items()}
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            for i in range(k):
                self.optimizer.zero_grad(set_to_none=False)
                loss = self.core.loss(self.model(self.static_x[i]), self.static_y[i])
                loss.backward()
                self.optimizer.step()
        self._reset(state)  # capture records kernels without running them; be sure anyway

    # -------------------------------------------------------------- running
    def run(self, steps: int) -> None:
        """Run ``steps`` training steps over the prepared batches (cycling)."""
        n = len(self.batches)
        if self.variant.startswith("graph"):
            k = self.steps_per_graph
            if steps % k:
                raise ValueError(f"steps must be a multiple of steps_per_graph={k}, got {steps}")
            for start in range(0, steps, k):
                for i in range(k):
                    x, y = self.batches[(start + i) % n]
                    self.static_x[i].copy_(x, non_blocking=True)
                    self.static_y[i].copy_(y, non_blocking=True)
                self.graph.replay()
        else:
            step = self._compiled if self.variant.startswith("compiled") else self._eager_step
            for i in range(steps):
                x, y = self.batches[i % n]
                step(x, y)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def weights(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().float().cpu().clone() for k, v in self.model.state_dict().items()}


def make_batches(core: Core, count: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [core.make_batch(g, core.batch) for _ in range(count)]


def runner(core: Core, variant: str, device: str, batches, seed: int = 0, steps_per_graph: int = 1):
    """A prepared Runner whose model starts from the weights torch.manual_seed(seed) gives."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        r = Runner(core, variant, torch.device(device), steps_per_graph=steps_per_graph)
    return r.prepare(batches)


def matmul_peak_gflops(device: str, size: int = 1024, repeats: int = 5) -> float:
    """Measured float32 matmul throughput on this device and thread count (TF32 off): the
    roofline the benchmarks' '% of floor' is relative to."""
    dev = torch.device(device)
    a = torch.randn(size, size, device=dev)
    b = torch.randn(size, size, device=dev)
    for _ in range(2):
        a @ b
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    seconds = (time.perf_counter() - start) / repeats
    return 2 * size**3 / seconds / 1e9
