"""The note's CIFAR training step — Net, cross-entropy, SGD with momentum — as one C
function (``benchmarks/lenet_cpu.c``): the CPU counterpart of ``lenet_triton``.

Why it exists: at the note's batch of 4 a step is 12.8 MFLOP, a few hundred microseconds
of one core's arithmetic, yet PyTorch's eager step takes ~3 ms on the 2-core machine
(profiled in benchmarks/README.md): ~60 operators, each a dispatch, an allocation and a
oneDNN or MKL call made for far larger shapes (3- and 6-channel 5x5 convolutions run at a
few GFLOP/s). This does the same arithmetic in one call, with no allocation, in loops the
compiler vectorizes for the machine it runs on (``-march=native``): conv2 as a GEMM with
its 16 output channels as the vector lanes, conv1 a row of 28 outputs at a time, the fc
layers as dot products in 16 partial sums (from batch 32, outer products over the
transposed weights). It is the hardware-limit reference on the CPU
side of the benchmarks, not a way to train, and not the note's code.

Built at first use with the system's C compiler (``cc``, or ``$CC``) into
``.cache/lenet_cpu/`` (keyed by the source, the flags, the compiler and the CPU's
features: a machine that changes any of them builds anew; about a second), loaded with
ctypes. Where there is no compiler it says so, and the benchmarks skip it. With OpenMP,
a large batch's images are shared out between ``threads`` (the batch-4 step runs on
one).

``FusedStep(..., bf16=True)`` (the benchmarks' ``cpu_fused+bf16``) puts the backward
pass's matrix products on the AMX tiles, where the CPU has them: bfloat16 operands,
float32 sums; the forward pass is the float32 step's.

Checked like every variant: its weights after k steps against the note's eager loop
(``benchmarks/test_training_core.py``, float32 rounding: ``FP32_OTHER_ORDER``), and step
by step, loss and gradients, in ``benchmarks/test_harness.py``.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from benchmarks import plain_sgd

SOURCE = Path(__file__).with_suffix(".c")
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "lenet_cpu"
#: -O3 and the machine's own vector units; no -ffast-math: the float32 arithmetic is IEEE's.
#: A multiply feeding an add is one fused multiply-add (IEEE's fusedMultiplyAdd, one
#: rounding, as PyTorch's own kernels do): -std=c11 alone forbids it (-ffp-contract=off),
#: which had left every vector loop a multiply and an add, 15-17% of the step's time.
FLAGS = ("-O3", "-march=native", "-ffp-contract=fast", "-fopenmp", "-std=c11", "-shared",
         "-fPIC")  # fmt: skip
PARAMS = ("conv1", "conv2", "fc1", "fc2", "fc3")

#: Added for ``profile``: the step adds each part's seconds to counters (a few us a step).
PROFILE_FLAGS = ("-DLENET_PROFILE",)

_LIBRARIES: dict[bool, ctypes.CDLL] = {}


def compiler() -> str | None:
    """The C compiler to build with: ``$CC``, else ``cc``; None where there is none."""
    return shutil.which(os.environ.get("CC", "cc"))


def unavailable() -> str:
    """Why the step cannot be built here ("" where it can)."""
    if platform.system() != "Linux":
        return f"built and loaded on Linux only (this is {platform.system()})"
    if compiler() is None:
        return f"no C compiler ({os.environ.get('CC', 'cc')!r} is not on PATH)"
    return ""


def isa(bf16: bool = False) -> str:
    """The vector and matrix units the step was built to use on this machine (the bf16
    step's, where the tiles can run)."""
    return library().lenet_isa(int(bf16 and not amx_unavailable())).decode()


def amx_unavailable() -> str:
    """Why the backward products cannot run on the AMX tiles here ("" where they can)."""
    why = unavailable()
    if why:
        return why
    flags = set(_cpu_flags().split())
    if not {"amx_tile", "amx_bf16", "avx512_bf16"} <= flags:
        return "this CPU has no AMX-BF16 tiles (amx_tile, amx_bf16 and avx512_bf16 flags)"
    if not library().lenet_amx_ready():
        return (
            "the kernel did not grant this process the AMX tile data (arch_prctl), or "
            "the build lacks it"
        )
    return ""


def _cpu_flags() -> str:
    """This CPU's feature flags (what -march=native compiles for); "" where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.machine()
    return next((line for line in text.splitlines() if line.startswith("flags")), "")


def build(profile: bool = False) -> Path:
    """The shared library, compiled once per source, flags and compiler; atomically
    moved into place, so a failed or parallel build never leaves half a file."""
    why = unavailable()
    if why:
        raise RuntimeError(f"the C training step cannot be built: {why}")
    cc = compiler()
    version = subprocess.run([cc, "--version"], capture_output=True, text=True).stdout
    flags = FLAGS + (PROFILE_FLAGS if profile else ())
    # -march=native: the same source built on another CPU is another library
    key = hashlib.sha256(
        SOURCE.read_bytes() + " ".join(flags).encode() + version.encode() + _cpu_flags().encode()
    ).hexdigest()[:16]
    target = CACHE / f"lenet_cpu-{key}.so"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        out = Path(tmp) / target.name
        done = subprocess.run(
            [cc, *flags, str(SOURCE), "-o", str(out), "-lm"], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise RuntimeError(f"{cc} could not build {SOURCE.name}:\n{done.stderr[-2000:]}")
        os.replace(out, target)
    return target


def library(profile: bool = False) -> ctypes.CDLL:
    if profile not in _LIBRARIES:
        lib = ctypes.CDLL(str(build(profile)))
        lib.lenet_workspace_floats.argtypes = [ctypes.c_int]
        lib.lenet_workspace_floats.restype = ctypes.c_long
        lib.lenet_workspace_ints.argtypes = [ctypes.c_int]
        lib.lenet_workspace_ints.restype = ctypes.c_long
        lib.lenet_step.argtypes = [
            ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_void_p),
            ctypes.c_float, ctypes.c_float, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
            ctypes.c_int,
        ]  # fmt: skip
        lib.lenet_step.restype = ctypes.c_float
        lib.lenet_amx_ready.argtypes = []
        lib.lenet_amx_ready.restype = ctypes.c_int
        lib.lenet_isa.argtypes = [ctypes.c_int]
        lib.lenet_isa.restype = ctypes.c_char_p
        lib.lenet_section_name.argtypes = [ctypes.c_int]
        lib.lenet_section_name.restype = ctypes.c_char_p
        lib.lenet_section_seconds.argtypes = [ctypes.c_int]
        lib.lenet_section_seconds.restype = ctypes.c_double
        _LIBRARIES[profile] = lib
    return _LIBRARIES[profile]


class FusedStep:
    """One training step of the note's CIFAR Net in C: updates ``net``'s parameters in
    place and keeps SGD's momentum buffers in ``state`` (laid out like
    ``torch.optim.SGD.state``). Call it as ``loss = step(x, y)``.

    ``bf16=True``: the backward pass's matrix products — every weight and input gradient
    of the conv and fc layers — on the AMX tiles, from bfloat16 operands with float32
    sums. The forward pass, the loss, and every ReLU and pool stay float32, so none
    decides otherwise than in the float32 step; the gradients carry bfloat16's rounding.
    Refused, saying why, where the tiles cannot run."""

    def __init__(self, net: torch.nn.Module, lr: float, momentum: float, batch: int,
                 threads: int = 1, profile: bool = False, bf16: bool = False):  # fmt: skip
        if batch < 1:
            raise ValueError(f"FusedStep: expected a batch of 1 or more, got {batch}")
        if bf16 and amx_unavailable():
            raise ValueError(f"FusedStep(bf16=True): {amx_unavailable()}")
        self.bf16 = bf16
        self.lib = library(profile)
        self.net, self.lr, self.momentum = net, float(lr), float(momentum)
        self.batch, self.threads = batch, threads
        if not all(isinstance(getattr(net, n, None), torch.nn.Module) for n in PARAMS):
            raise ValueError(f"FusedStep: written for the note's CIFAR Net (layers {PARAMS}); "
                             f"got a {type(net).__name__}")  # fmt: skip
        self.params = [getattr(getattr(net, n), w) for n in PARAMS for w in ("weight", "bias")]
        for p in self.params:
            if p.dtype != torch.float32 or not p.is_contiguous() or p.device.type != "cpu":
                raise ValueError("FusedStep: expected contiguous float32 parameters on the CPU")
        shapes = [tuple(p.shape) for p in self.params]
        if shapes[0] != (6, 3, 5, 5) or shapes[2] != (16, 6, 5, 5) or shapes[4] != (120, 400):
            raise ValueError(f"FusedStep: written for the note's CIFAR Net; got shapes {shapes}")
        self.state = {p: {"momentum_buffer": torch.zeros_like(p)} for p in self.params}
        pointers = ctypes.c_void_p * len(self.params)
        self._params = pointers(*[p.data_ptr() for p in self.params])
        self._bufs = pointers(*[self.state[p]["momentum_buffer"].data_ptr() for p in self.params])
        self.work = torch.empty(self.lib.lenet_workspace_floats(batch), dtype=torch.float32)
        self.iwork = torch.empty(self.lib.lenet_workspace_ints(batch), dtype=torch.int32)

    @classmethod
    def from_optimizer(cls, net: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: int,
                       threads: int = 1, bf16: bool = False):  # fmt: skip
        """The step for ``optimizer``'s hyperparameters — refused unless it is plain SGD
        with momentum over exactly ``net``'s parameters, the only optimizer written here."""
        lr, momentum = plain_sgd.hyperparameters(net, optimizer)
        return cls(net, lr, momentum, batch, threads, bf16=bf16)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Nothing to do: the step keeps its gradients in its own buffers, not in ``.grad``."""

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != (self.batch, 3, 32, 32) or x.dtype != torch.float32 or x.device.type != "cpu":
            raise ValueError(
                f"FusedStep: expected float32 images ({self.batch}, 3, 32, 32) on the CPU, "
                f"got {x.dtype} {tuple(x.shape)} on {x.device}"
            )
        if y.shape != (self.batch,) or y.dtype != torch.int64:
            raise ValueError(f"FusedStep: expected int64 labels ({self.batch},), got {y.dtype} "
                             f"{tuple(y.shape)}")  # fmt: skip
        x, y = x.contiguous(), y.contiguous()
        loss = self.lib.lenet_step(
            self.batch, x.data_ptr(), y.data_ptr(), self._params, self._bufs, self.lr,
            self.momentum, self.work.data_ptr(), self.iwork.data_ptr(), self.threads,
            int(self.bf16),
        )  # fmt: skip
        return torch.tensor(loss)


SECTIONS = 10


def profile(batch: int = 4, steps: int = 2000, threads: int = 1,
            bf16: bool = False) -> list[tuple[str, float]]:  # fmt: skip
    """Where the step's time goes: (part, microseconds a step), from the profiling build,
    on ``steps`` steps over 64 random batches (random labels: the loss does not go to 0,
    so no gradient sinks into subnormal numbers)."""
    from reference import cifar10

    g = torch.Generator().manual_seed(0)
    batches = [(torch.randn(batch, 3, 32, 32, generator=g),
                torch.randint(0, 10, (batch,), generator=g)) for _ in range(64)]  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        step = FusedStep(cifar10.Net(), 0.001, 0.9, batch, threads=threads, profile=True,
                         bf16=bf16)  # fmt: skip
    for i in range(20):
        step(*batches[i % 64])
    lib = step.lib
    before = [lib.lenet_section_seconds(i) for i in range(SECTIONS)]
    for i in range(steps):
        step(*batches[i % 64])
    after = [lib.lenet_section_seconds(i) for i in range(SECTIONS)]
    return [(lib.lenet_section_name(i).decode(), 1e6 * (after[i] - before[i]) / steps)
            for i in range(SECTIONS)]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.lenet_cpu",
        description="Build the C training step, or show where its time goes.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build", help="compile it for this machine (cached in .cache/lenet_cpu/)")
    prof = sub.add_parser("profile", help="microseconds a step, part by part")
    prof.add_argument("--batch", type=int, default=4)
    prof.add_argument("--steps", type=int, default=2000)
    prof.add_argument("--threads", type=int, default=1)
    prof.add_argument(
        "--bf16",
        action="store_true",
        help="the backward pass's matrix products on the AMX tiles (bfloat16 operands)",
    )
    args = parser.parse_args(argv)
    why = unavailable()
    if why:
        print(f"the C training step cannot be built here: {why}")
        return 1
    if args.command == "build":
        print(build())
        return 0
    parts = profile(args.batch, args.steps, args.threads, args.bf16)
    total = sum(us for _, us in parts)
    kind = " (backward products in bf16 on AMX)" if args.bf16 else ""
    print(f"the note's step in C{kind}, batch {args.batch}, {args.threads} thread(s): "
          f"{total:,.1f} us")  # fmt: skip
    for name, us in parts:
        print(f"  {name:45s} {us:10,.1f} us  {100 * us / total:5.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
