"""The training cores the benchmarks time, each in every variant, plus FLOP counting.

A *core* is the note's model, optimizer and loss; a *variant* is how one step is run,
named as a base plus ``+options`` (e.g. ``graph+fused``, ``eager+channels_last+bf16``):

- ``eager``: the note's loop — zero_grad, forward, loss, backward, step — with the
  batch already on the device; ``host`` copies the batch there every step, as the
  note's "Training on GPU" does;
- ``graph``: the whole step captured in a CUDA graph, ``steps_per_graph`` steps per
  replay; the batches live on the device and one copy per replay feeds the graph's
  static input buffers (CUDA only);
- ``compiled``: ``torch.compile(mode="reduce-overhead")`` of the step;
- ``compiled_graph``: the forward+loss (and so its backward) and the optimizer step
  compiled by inductor (default mode, fused kernels), then captured like ``graph``
  (CUDA only);
- ``triton``: the step as nine hand-written Triton kernels (``benchmarks/lenet_triton.py``,
  CIFAR Net only, no options), the hardware-limit reference; ``triton_graph`` captures
  them like ``graph`` (CUDA only). On the CPU ``triton`` runs only in Triton's
  interpreter, in a process started with ``TRITON_INTERPRET=1``;
- ``cpu_fused``: the step as one C function (``benchmarks/lenet_cpu.py``, CIFAR Net
  only, CPU only), compiled at first use for the machine's own vector units: the CPU's
  counterpart of ``triton``; a large batch's images shared between the torch thread
  count's OpenMP threads. Its one option, ``bf16``, puts the backward pass's matrix
  products (every weight and input gradient of the conv and fc layers) on the AMX tiles
  (bfloat16 operands, float32 sums), where the CPU has them; the forward pass stays
  float32;
- options: ``fused`` (the optimizer's single-kernel ``fused=True`` implementation),
  ``cudnn_benchmark`` (cuDNN times its algorithms for these shapes first),
  ``channels_last`` (memory format), ``bf16`` (autocast), ``autotune`` (compiled
  variants: inductor's ``max-autotune`` — it times Triton matmul/conv templates against
  cuBLAS/cuDNN, or on the CPU its C++ GEMM templates against oneDNN, and keeps the
  fastest), ``cpp_wrapper`` (``compiled``: inductor's C++ wrapper code, which calls the
  kernels without Python between them), ``pad8`` (CIFAR only: images padded to 8
  channels once, in the data, and conv1's weight with zeros — see ``PaddedNet``; meant
  for large bf16 batches: at batch 4 on an H200 cuDNN then picks a 59 us weight-gradient
  kernel and the step is 1.55x slower, results/h200-2026-11-27c/README.md),
  ``tconv`` (CIFAR only, ``eager``/``host``/``graph``: conv + ReLU + pool of both conv
  layers by the Triton kernels of ``benchmarks/lenet_triton_conv.py``, written for large
  batches; fc layers, loss and optimizer stay PyTorch's; with ``bf16`` their GEMMs take
  bfloat16 operands. On the CPU only in Triton's interpreter).

Every variant runs the same computation as ``eager``: ``trajectory`` checks in the
benchmarks compare the weights after k steps before anything is timed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from benchmarks import lenet_cpu, lenet_triton, lenet_triton_conv
from reference import cifar10, examples
from reference.checks import check_float_batch


@dataclass
class Core:
    name: str
    batch: int
    make_model: Callable[[], torch.nn.Module]
    make_optimizer: Callable[..., torch.optim.Optimizer]  # (model, capturable=, fused=)
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    make_batch: Callable[[torch.Generator, int], tuple[torch.Tensor, torch.Tensor]]
    items_per_step: int = 0  # images (or samples) per step; = batch
    make_model_channels_last: Callable[[], torch.nn.Module] | None = None

    def __post_init__(self):
        self.items_per_step = self.items_per_step or self.batch


class FlattenNet(cifar10.Net):
    """The note's CIFAR Net with ``torch.flatten(x, 1)`` in place of the note's
    ``x.view(-1, 16 * 5 * 5)``, which refuses channels_last activations (pinned in
    spec/note/10). Same layers, same initialization, same arithmetic: the channels_last
    variants run it, and their trajectory is checked against the note's Net."""

    def check(self, x) -> None:
        cifar10.check_input(x)

    def forward(self, x):
        self.check(x)
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class PaddedNet(FlattenNet):
    """The CIFAR Net taking images padded from 3 to 8 channels with zeros, its conv1
    weight padded to match with zeros: cuDNN's tensor-core kernels want channel counts
    that are multiples of 8 (otherwise it pads the input itself, every step). Zero
    inputs add nothing to conv1's output and give the padded weights an exactly zero
    gradient, so they stay zero and the trajectory of the real weights is the note's
    (``Runner.weights`` checks the padding stayed zero and returns conv1's real part)."""

    CHANNELS = 8

    def __init__(self, net: cifar10.Net):
        super().__init__()
        for name in ("conv2", "fc1", "fc2", "fc3"):
            setattr(self, name, getattr(net, name))
        self.conv1 = torch.nn.Conv2d(self.CHANNELS, 6, 5)
        with torch.no_grad():
            self.conv1.weight.zero_()
            self.conv1.weight[:, :3] = net.conv1.weight
            self.conv1.bias.copy_(net.conv1.bias)

    def check(self, x) -> None:
        check_float_batch(
            x, "PaddedNet", "(N, 8, 32, 32)", lambda s: tuple(s[1:]) == (self.CHANNELS, 32, 32)
        )

    @staticmethod
    def pad(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x, x.new_zeros(x.shape[0], PaddedNet.CHANNELS - 3, *x.shape[2:])], 1)


def cifar_core(batch: int) -> Core:
    """The note's CIFAR Net: SGD(lr=0.001, momentum=0.9), cross-entropy."""

    def make_batch(g, n):
        return torch.randn(n, 3, 32, 32, generator=g), torch.randint(0, 10, (n,), generator=g)

    return Core(
        name=f"cifar_net_b{batch}",
        batch=batch,
        make_model=cifar10.Net,
        make_model_channels_last=FlattenNet,
        make_optimizer=lambda m, capturable, fused: torch.optim.SGD(
            m.parameters(), lr=0.001, momentum=0.9, fused=fused or None
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
        make_optimizer=lambda m, capturable, fused: torch.optim.Adam(
            m.parameters(), lr=1e-4, capturable=capturable, fused=fused or None
        ),
        loss=lambda y_pred, y: F.mse_loss(y_pred, y, reduction="sum"),
        make_batch=make_batch,
    )


#: The cores the benchmarks and the profiler know, by short name.
TRAINING_CORES: dict[str, Callable[[], Core]] = {
    "cifar4": lambda: cifar_core(4),
    "cifar512": lambda: cifar_core(512),
    "cifar4096": lambda: cifar_core(4096),
    "cifar16384": lambda: cifar_core(16384),
    "mlp": mlp_core,
}


def flops_per_step(core: Core) -> int:
    """FLOPs of one forward + backward (counted by torch's FlopCounterMode on the meta
    device: shapes only, no arithmetic; the optimizer's elementwise update is not
    counted). LeNet: ~1.30 MFLOP forward, ~3.2 MFLOP per step and image."""
    with torch.device("meta"):
        model = core.make_model()
        x, y = core.make_batch(None, core.batch)
    with FlopCounterMode(display=False) as counter:
        core.loss(model(x), y).backward()
    return counter.get_total_flops()


OPTIONS = (
    "fused",
    "cudnn_benchmark",
    "channels_last",
    "bf16",
    "autotune",
    "cpp_wrapper",
    "pad8",
    "tconv",
)
TCONV_BASES = ("eager", "host", "graph")  # +tconv: autograd Functions, not compiled
TCONV_REFUSES = ("channels_last", "pad8")  # the kernels read contiguous 3-channel images


@dataclass(frozen=True)
class Variant:
    """``base+option+option``, parsed; unknown names are refused with the valid ones."""

    base: str
    options: frozenset[str]

    @classmethod
    def parse(cls, name: str) -> Variant:
        base, *options = name.split("+")
        if base not in BASES or not set(options) <= set(OPTIONS):
            raise ValueError(
                f"variant {name!r}: expected one of {BASES} followed by any of "
                f"{['+' + o for o in OPTIONS]}"
            )
        if base in HAND_WRITTEN and set(options) - HAND_WRITTEN_OPTIONS.get(base, set()):
            allowed = HAND_WRITTEN_OPTIONS.get(base)
            raise ValueError(
                f"variant {name!r}: the hand-written kernels are contiguous, plain SGD: "
                f"expected {base!r}"
                + (f" with at most {['+' + o for o in allowed]}" if allowed else " with no options")
            )
        if "tconv" in options and (base not in TCONV_BASES or set(options) & set(TCONV_REFUSES)):
            raise ValueError(
                f"variant {name!r}: +tconv runs on one of {TCONV_BASES}, without "
                f"{['+' + o for o in TCONV_REFUSES]} (its kernels read contiguous 3-channel "
                "images and are not traced by torch.compile)"
            )
        return cls(base, frozenset(options))

    @property
    def strategy(self) -> type[Strategy]:
        return STRATEGIES[self.base]

    @property
    def captured(self) -> bool:
        return self.strategy.captured

    # the options, by name (each a plain property: a misspelt one is an AttributeError)
    fused = property(lambda self: "fused" in self.options)
    cudnn_benchmark = property(lambda self: "cudnn_benchmark" in self.options)
    channels_last = property(lambda self: "channels_last" in self.options)
    bf16 = property(lambda self: "bf16" in self.options)
    autotune = property(lambda self: "autotune" in self.options)
    cpp_wrapper = property(lambda self: "cpp_wrapper" in self.options)
    pad8 = property(lambda self: "pad8" in self.options)
    tconv = property(lambda self: "tconv" in self.options)


# ------------------------------------------------------------------ the bases
class Strategy:
    """How a base runs one step: ``build`` gives the Runner its ``step`` (or captures it).

    ``captured``: the step is replayed from a CUDA graph (CUDA only); ``hand_written``:
    the step is benchmarks/lenet_triton.py's fused kernels (no options); ``host``: each
    step copies its batch to the device."""

    captured = False
    hand_written = False
    host = False
    cpu_only = False

    @staticmethod
    def build(runner: Runner) -> None:
        runner.step = runner._eager_step


class Eager(Strategy):
    """The note's loop with the batch already on the device."""


class Host(Strategy):
    """The note's loop copying each batch to the device, as "Training on GPU" does."""

    host = True


class Graph(Strategy):
    """The eager step captured in a CUDA graph."""

    captured = True

    @staticmethod
    def build(runner: Runner) -> None:
        runner._capture(runner._eager_step)


class Compiled(Strategy):
    """torch.compile(mode="reduce-overhead") of the step."""

    @staticmethod
    def build(runner: Runner) -> None:
        runner.step = runner._reduce_overhead_step()


class CompiledGraph(Strategy):
    """Forward+loss and the update compiled by inductor, then captured."""

    captured = True

    @staticmethod
    def build(runner: Runner) -> None:
        runner._capture(runner._inductor_step())


class Triton(Strategy):
    """The hand-written kernels: the optimizer object is the whole step."""

    hand_written = True

    @staticmethod
    def build(runner: Runner) -> None:
        runner.step = runner.optimizer


class CpuFused(Strategy):
    """The step as one C function: the optimizer object is the whole step."""

    hand_written = True
    cpu_only = True

    @staticmethod
    def build(runner: Runner) -> None:
        runner.step = runner.optimizer


class TritonGraph(Triton):
    """The hand-written kernels captured in a CUDA graph."""

    captured = True

    @staticmethod
    def build(runner: Runner) -> None:
        runner._capture(runner.optimizer)


STRATEGIES: dict[str, type[Strategy]] = {
    "eager": Eager, "host": Host, "graph": Graph, "compiled": Compiled,
    "compiled_graph": CompiledGraph, "triton": Triton, "triton_graph": TritonGraph,
    "cpu_fused": CpuFused,
}  # fmt: skip
BASES = tuple(STRATEGIES)
CUDA_ONLY = tuple(b for b, s in STRATEGIES.items() if s.captured)
HAND_WRITTEN = tuple(b for b, s in STRATEGIES.items() if s.hand_written)
#: The options a hand-written base takes: the C step's AMX tiles for the backward products.
HAND_WRITTEN_OPTIONS: dict[str, set[str]] = {"cpu_fused": {"bf16"}}


@contextlib.contextmanager
def cudnn_benchmark(enabled: bool):
    """cuDNN's autotuner on for a block, then back as it was (TF32 and the rest untouched)."""
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled or before
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


@dataclass
class Runner:
    """One core in one variant on one device, ready to run steps."""

    core: Core
    variant: str
    device: torch.device
    steps_per_graph: int = 1
    #: The hand-written kernels' configuration: {"warps": {kernel: n}} for ``triton*``,
    #: {"tiles": lenet_triton_conv.Tiles} for ``+tconv``; empty: their defaults.
    kernels: dict = field(default_factory=dict)
    setup_seconds: float = 0.0  # graph capture / compilation, reported separately
    model: torch.nn.Module = field(init=False)
    batches: list = field(init=False, default_factory=list)

    def __post_init__(self):
        self.options = Variant.parse(self.variant)
        if self.options.captured and self.device.type != "cuda":
            raise ValueError(
                f"variant {self.variant!r} captures CUDA graphs: it needs a cuda device"
            )
        if self.options.strategy.cpu_only and self.device.type != "cpu":
            raise ValueError(f"variant {self.variant!r} runs on the CPU, not {self.device}")
        if self.steps_per_graph < 1 or (self.steps_per_graph > 1 and not self.options.captured):
            raise ValueError(
                f"steps_per_graph={self.steps_per_graph}: expected 1, or more for graph variants"
            )
        if self.options.strategy.hand_written and not (
            self.core.name.startswith("cifar") and self.core.loss is F.cross_entropy
        ):
            raise ValueError(
                f"variant {self.variant!r} is written for the CIFAR Net with cross-entropy "
                f"and SGD; core {self.core.name!r} is not"
            )
        make = self.core.make_model
        if self.options.channels_last and self.core.make_model_channels_last:
            make = self.core.make_model_channels_last
        self.model = make()
        if self.options.pad8:
            if not isinstance(self.model, cifar10.Net):
                raise ValueError(f"variant {self.variant!r}: +pad8 is for the CIFAR Net only")
            self.model = PaddedNet(self.model)
        if self.options.tconv:
            if not isinstance(self.model, cifar10.Net):
                raise ValueError(f"variant {self.variant!r}: +tconv is for the CIFAR Net only")
            tiles = self.kernels.get("tiles", lenet_triton_conv.GPU_TILES)
            self.model = lenet_triton_conv.TritonConvNet(self.model, tiles)

    # -------------------------------------------------------------- building
    def prepare(self, batches: list[tuple[torch.Tensor, torch.Tensor]]) -> Runner:
        dev, v = self.device, self.options
        self.model.to(dev)
        self.memory_format = torch.channels_last if v.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        if v.strategy.cpu_only:
            sgd = self.core.make_optimizer(self.model, capturable=False, fused=False)
            self.optimizer = lenet_cpu.FusedStep.from_optimizer(
                self.model, sgd, self.core.batch, threads=torch.get_num_threads(), bf16=v.bf16
            )
        elif v.strategy.hand_written:
            sgd = self.core.make_optimizer(self.model, capturable=False, fused=False)
            self.optimizer = lenet_triton.FusedStep.from_optimizer(
                self.model, sgd, self.core.batch, warps=self.kernels.get("warps")
            )
        else:
            self.optimizer = self.core.make_optimizer(
                self.model, capturable=v.captured, fused=v.fused
            )
        to = torch.device("cpu") if v.strategy.host else dev
        if v.pad8:
            batches = [(PaddedNet.pad(x), y) for x, y in batches]
        self.batches = [
            (x.to(to).contiguous(memory_format=self.memory_format), y.to(to)) for x, y in batches
        ]
        start = time.perf_counter()
        with cudnn_benchmark(v.cudnn_benchmark):
            v.strategy.build(self)
        self.setup_seconds = time.perf_counter() - start
        return self

    def _eager_step(self, x, y):
        if self.options.strategy.host:
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.options.bf16):
            loss = self.core.loss(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss

    def _reduce_overhead_step(self) -> Callable:
        """torch.compile(mode="reduce-overhead") of the whole step. The optimizer state is
        created by one eager step first: created inside the compiled step, momentum
        buffers would be outputs of inductor's CUDA graphs, overwritten by the next
        replay. Each step is marked as a new CUDA-graph step."""
        self._warm_up_then_reset(self._eager_step, steps=1)
        import torch._inductor.config as inductor_config

        mode = "max-autotune" if self.options.autotune else "reduce-overhead"
        compiled = torch.compile(self._eager_step, mode=mode)

        def step(x, y):
            torch.compiler.cudagraph_mark_step_begin()
            return compiled(x, y)

        # compiled at the first call: with +cpp_wrapper, inductor's C++ wrapper code (the
        # kernels called without Python between them), for this compilation only
        with inductor_config.patch(cpp_wrapper=self.options.cpp_wrapper):
            self._warm_up_then_reset(step)
        return step

    def _inductor_step(self) -> Callable:
        """The step with forward+loss and the optimizer update compiled by inductor's default
        mode (fused Triton kernels, no CUDA graphs of its own), ready for capture."""
        model, loss_fn, optimizer = self.model, self.core.loss, self.optimizer
        mode = "max-autotune-no-cudagraphs" if self.options.autotune else "default"
        forward_loss = torch.compile(lambda x, y: loss_fn(model(x), y), mode=mode)

        @torch.compile(mode=mode)
        def update():
            optimizer.step()

        def step(x, y):
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.options.bf16):
                loss = forward_loss(x, y)
            loss.backward()
            update()
            return loss

        return step

    def _warm_up_then_reset(self, step: Callable, stream=None, steps: int = 3) -> None:
        """Run ``steps`` (3) real steps (creating optimizer state, compiling, autotuning), then put
        weights back and zero the optimizer state — for SGD-momentum and Adam, zero state
        is exactly the fresh state — so the timed run starts where eager starts."""
        state = {k: v.clone() for k, v in self.model.state_dict().items()}
        x, y = self.batches[0]
        if stream is None:
            for _ in range(steps):
                step(x, y)
        else:
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(steps):
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

    def _capture(self, step: Callable) -> None:
        """Whole-step capture, as in the CUDA graphs docs ("whole network capture"): warm up
        on a side stream (optimizer state, compiled kernels and cuDNN plans exist before
        capture), then capture ``steps_per_graph`` steps reading static input buffers.
        The batches are stacked on the device so that one copy per replay feeds them."""
        k = self.steps_per_graph
        self.data_x = self._stack([x for x, _ in self.batches])
        self.data_y = torch.stack([y for _, y in self.batches])
        self.static_x = self._stack([x for x, _ in self.batches[:1]] * k)
        self.static_y = torch.stack([y for _, y in self.batches[:1]] * k)
        self._warm_up_then_reset(step, stream=torch.cuda.Stream())
        state = {k2: v.clone() for k2, v in self.model.state_dict().items()}
        self.optimizer.zero_grad(set_to_none=True)  # backward allocates grads in the graph pool
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            for i in range(k):
                step(self.static_x[i], self.static_y[i])
        self._reset(state)  # capture records kernels without running them; be sure anyway

    def _stack(self, xs: list[torch.Tensor]) -> torch.Tensor:
        """Stack image batches so that each ``[i]`` keeps this variant's memory format."""
        out = torch.stack(xs)
        if self.options.channels_last:
            # (n, B, C, H, W) whose [i] is channels_last: C innermost
            out = out.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
        return out

    # -------------------------------------------------------------- running
    def set_data(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Captured variants: from now on replays read their batches from ``x`` (n, B, C,
        H, W) and ``y`` (n, B) on the device — e.g. one epoch gathered at once
        (benchmarks/e2e.py) — instead of the prepared ones."""
        if not self.options.captured:
            raise ValueError(f"set_data is for captured variants, not {self.variant!r}")
        self.data_x, self.data_y = self._stack(list(x)) if self.options.channels_last else x, y

    def run(self, steps: int, start: int = 0) -> None:
        """Run ``steps`` training steps over the batches, from batch ``start`` (cycling)."""
        with cudnn_benchmark(self.options.cudnn_benchmark):
            if self.options.captured:
                self._replay(steps, self.data_x.shape[0], start)
            else:
                n = len(self.batches)
                for i in range(start, start + steps):
                    x, y = self.batches[i % n]
                    self.step(x, y)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _replay(self, steps: int, n: int, first: int = 0) -> None:
        k = self.steps_per_graph
        if steps % k:
            raise ValueError(f"steps must be a multiple of steps_per_graph={k}, got {steps}")
        for start in range(first, first + steps, k):
            s = start % n
            if s + k <= n:  # one copy per buffer per replay
                self.static_x.copy_(self.data_x[s : s + k], non_blocking=True)
                self.static_y.copy_(self.data_y[s : s + k], non_blocking=True)
            else:
                for i in range(k):
                    self.static_x[i].copy_(self.data_x[(start + i) % n], non_blocking=True)
                    self.static_y[i].copy_(self.data_y[(start + i) % n], non_blocking=True)
            self.graph.replay()

    def weights(self) -> dict[str, torch.Tensor]:
        """The model's weights on the CPU in float32 — for ``pad8``, conv1's real part,
        after checking that the padded part is still exactly zero."""
        out = {k: v.detach().float().cpu().clone() for k, v in self.model.state_dict().items()}
        if self.options.pad8:
            padding = out["conv1.weight"][:, 3:]
            if padding.count_nonzero():
                raise AssertionError(
                    "pad8: conv1's padded weights moved, so this is not the note's computation"
                )
            out["conv1.weight"] = out["conv1.weight"][:, :3].contiguous()
        return out


def make_batches(core: Core, count: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return [core.make_batch(g, core.batch) for _ in range(count)]


def runner(
    core: Core,
    variant: str,
    device: str,
    batches,
    seed: int = 0,
    steps_per_graph: int = 1,
    kernels: dict | None = None,
):
    """A prepared Runner whose model starts from the weights torch.manual_seed(seed) gives;
    ``kernels`` configures the hand-written kernels (see ``Runner.kernels``)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        r = Runner(
            core, variant, torch.device(device), steps_per_graph=steps_per_graph,
            kernels=kernels or {},
        )  # fmt: skip
    return r.prepare(batches)


#: The CPU features that decide how fast the cores can run (from /proc/cpuinfo's flags).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
             "amx_tile", "amx_bf16", "amx_int8")  # fmt: skip


def cpu_isa() -> str:
    """This CPU's model and the vector and matrix features it has, as one line: what the
    fp32 variants (AVX-512 or AVX2 FMA units) and the bf16 ones (AVX512-BF16, AMX-BF16,
    where oneDNN chooses them) can use. Empty where /proc/cpuinfo is not there."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return ""
    fields = {k.strip(): v.strip() for k, v in
              (line.split(":", 1) for line in text.splitlines()[:40] if ":" in line)}  # fmt: skip
    flags = set(fields.get("flags", "").split())
    have = " ".join(f for f in ISA_FLAGS if f in flags) or "none of " + ", ".join(ISA_FLAGS)
    return f"{fields.get('model name', 'unknown CPU')}: {have}"


@functools.cache
def cpu_kernels(variant: str) -> str:
    """What the variant's step runs on this CPU, by name: for the hand-written step, the
    units it was built for; for PyTorch's, ATen's vector level and the oneDNN kernels one
    small step of the note's layers calls (read from oneDNN's verbose log, the process's
    stdout redirected meanwhile). A float32 linear layer is MKL's, which logs nothing."""
    v = Variant.parse(variant)
    if v.base == "cpu_fused":
        return lenet_cpu.isa(bf16=v.bf16)
    if v.base in ("compiled", "compiled_graph"):
        return f"ATen {torch.backends.cpu.get_cpu_capability()}, inductor's generated C++"
    conv, fc = torch.nn.Conv2d(3, 6, 5), torch.nn.Linear(400, 120)
    x = torch.randn(4, 3, 32, 32)
    if v.channels_last:
        conv = conv.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    bf16 = torch.autocast("cpu", dtype=torch.bfloat16) if v.bf16 else contextlib.nullcontext()
    with tempfile.TemporaryFile(mode="w+b") as log:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(log.fileno(), 1)
        try:
            with torch.backends.mkldnn.verbose(torch.backends.mkldnn.VERBOSE_ON), bf16:
                (conv(x).float().sum() + fc(torch.randn(4, 400)).float().sum()).backward()
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        log.seek(0)
        lines = log.read().decode(errors="replace").splitlines()
    return f"ATen {torch.backends.cpu.get_cpu_capability()}, oneDNN: {onednn_kernels(lines)}"


def onednn_kernels(log_lines: list[str]) -> str:
    """The kernels oneDNN's verbose log says ran, by operation, in the order first seen
    (layout reorders left out): e.g. "convolution brg_conv_fwd:avx10_1_512_amx"."""
    used: dict[str, list[str]] = {}
    for line in log_lines:
        f = line.split(",")
        if len(f) > 7 and f[0] == "onednn_verbose" and f[3] == "exec" and f[5] != "reorder":
            kinds = used.setdefault(f[5], [])
            if f[6] not in kinds:
                kinds.append(f[6])
    return "; ".join(f"{op} {' '.join(k)}" for op, k in used.items()) or "no oneDNN kernel"


def matmul_peak_gflops(
    device: str, size: int = 1024, repeats: int = 5, dtype: torch.dtype = torch.float32
) -> float:
    """Measured matmul throughput on this device and thread count in ``dtype`` (float32
    with TF32 off, or bfloat16 for the bf16 variants): the roofline the benchmarks'
    '% of floor' is relative to."""
    dev = torch.device(device)
    a = torch.randn(size, size, device=dev, dtype=dtype)
    b = torch.randn(size, size, device=dev, dtype=dtype)
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
