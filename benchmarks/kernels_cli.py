"""The hand-written kernels' command lines: check them on the CPU in Triton's interpreter,
or time their configurations on a GPU.

    python -m benchmarks.kernels_cli interpret --out FILE  # TRITON_INTERPRET=1: 9-kernel step
    python -m benchmarks.kernels_cli check --out FILE      # TRITON_INTERPRET=1: conv layers
    python -m benchmarks.kernels_cli sweep                 # CUDA: each step kernel's warps
    python -m benchmarks.kernels_cli sweep-tconv           # CUDA: conv kernels' tiles vs cuDNN

Kept apart from the kernel modules, which import nothing of the benchmarks but
``triton_common``: every configuration is passed to the kernels as an argument
(``warps`` for the step, ``lenet_triton_conv.Tiles`` for the conv layers), never set on a
module.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from benchmarks import cores
from benchmarks import lenet_triton_conv as conv
from benchmarks.lenet_triton import WARPS
from benchmarks.triton_common import interpreting, skip_overflow_checks


# --------------------------------------------------------------------- the batch-4 step
def interpret(args) -> int:
    """Run ``--steps`` steps of the ``triton`` variant on the CPU in Triton's interpreter,
    over the benchmarks' batches, and save the weights and losses for a test to compare
    with the note's eager loop (benchmarks/test_triton_kernels.py does)."""
    if not interpreting():
        print("interpret: run with TRITON_INTERPRET=1 in the environment", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    skip_overflow_checks()
    core = cores.cifar_core(args.batch)
    batches = cores.make_batches(core, count=args.steps)
    run = cores.runner(core, "triton", "cpu", batches)
    losses = [run.step(x, y).item() for x, y in batches]
    torch.save({"weights": run.weights(), "losses": losses}, args.out)
    return 0


def sweep_warps(args) -> int:
    """On a GPU: time ``triton_graph`` (``--per-graph`` steps per replay) with each kernel's
    warps changed one at a time, every configuration first checked against the note's
    eager loop on the CPU (2 replays, the benchmarks' float32 tolerance). Prints us/step."""
    if not torch.cuda.is_available():
        print("sweep: needs CUDA (torch.cuda.is_available() is False here)", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    core, k = cores.cifar_core(args.batch), args.per_graph
    batches = cores.make_batches(core, count=2 * k)
    note = cores.runner(core, "eager", "cpu", batches)
    note.run(2 * k)
    want = note.weights()
    configs = [("default", {})] + [
        (f"{name}={w}", {name: w}) for name in WARPS for w in (2, 4, 8, 16) if w != WARPS[name]
    ]
    results = {}
    for label, change in configs:
        try:
            run = cores.runner(
                core, "triton_graph", "cuda", batches, steps_per_graph=k, kernels={"warps": change}
            )
            run.run(2 * k)
            torch.testing.assert_close(run.weights(), want, rtol=1e-4, atol=1e-5)
            run.run(20 * k)  # warm
            start = time.perf_counter()
            run.run(args.replays * k)  # run() synchronizes
            results[label] = (time.perf_counter() - start) / (args.replays * k) * 1e6
            print(f"{label:22s} {results[label]:8.1f} us/step", flush=True)
        except Exception as e:  # a configuration that fails is reported, the sweep goes on
            failed(results, label, e, 22)
    return finish(args, results)


# --------------------------------------------------------------------- the conv layers
def check(args) -> int:
    """In Triton's interpreter: run each layer forward and backward on random data, in
    float32 and bf16, and on small integers (exact sums, so windows tie: "ties"), and
    ``--steps`` training steps of ``eager+tconv``; save inputs
    and results for a test to compare with PyTorch's own layers and the note's eager loop
    (benchmarks/test_triton_kernels.py does). Nothing is compared here."""
    if not interpreting():
        print("check: run with TRITON_INTERPRET=1 in the environment", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    skip_overflow_checks()
    tiles = conv.INTERPRETER if args.tiles == "interpreter" else conv.GPU_TILES
    g = torch.Generator().manual_seed(0)
    layers = {}
    for name, (c, h, oc) in conv.LAYERS.items():
        for kind in ("fp32", "bf16", "ties"):
            bf16 = kind == "bf16"
            if kind == "ties":  # small integers: every sum exact, many windows tie
                x = torch.randint(0, 2, (args.batch, c, h, h), generator=g).float()
                w = torch.randint(-1, 2, (oc, c, 5, 5), generator=g).float()
                b = torch.randint(-2, 3, (oc,), generator=g).float()
            else:
                x = torch.randn(args.batch, c, h, h, generator=g)
                w = torch.randn(oc, c, 5, 5, generator=g) / 5
                b = torch.randn(oc, generator=g) / 5
            x.requires_grad_(name == "conv2")  # conv1's input is the data: no gradient
            w.requires_grad_()
            b.requires_grad_()
            y, arg = conv.forward_with_argmax(x, w, b, bf16, tiles)
            gy = torch.randn(y.shape, generator=g)
            grads = torch.autograd.grad(y, [t for t in (x, w, b) if t.requires_grad], gy)
            layers[f"{name}-{kind}"] = {
                "x": x.detach(), "w": w.detach(), "b": b.detach(), "gy": gy,
                "y": y.detach(), "arg": arg, "grads": [t.detach() for t in grads],
            }  # fmt: skip
    core = cores.cifar_core(args.batch)
    batches = cores.make_batches(core, count=args.steps)
    # bf16: layer by layer above
    run = cores.runner(core, "eager+tconv", "cpu", batches, kernels={"tiles": tiles})
    run.run(args.steps)
    torch.save({"layers": layers, "trajectory": run.weights()}, args.out)
    return 0


#: What ``sweep`` tries, one kernel changed at a time: (BLOCK_M, BLOCK_K, warps, stages).
SWEEP = {
    "conv_pool_forward": [(64, 16, 4, 1), (128, 16, 8, 1), (256, 16, 4, 1), (128, 32, 4, 1),
                          (128, 16, 4, 2)],
    "conv_pool_dweight": [(32, 64, 8, 2), (32, 64, 4, 2), (16, 128, 8, 2), (16, 128, 4, 3),
                          (16, 64, 4, 2)],
    "conv_pool_dpatch": [(64, 32, 4, 1), (256, 16, 8, 1), (128, 16, 4, 1), (128, 64, 8, 1)],
    "conv_pool_dinput": [(256, None, 2, 1), (512, None, 4, 1), (2048, None, 8, 1)],
}  # fmt: skip


def _layers_step(inputs, bf16: bool, tiles: conv.Tiles) -> list[torch.Tensor]:
    """Forward and backward of both conv layers (conv1's input needs no gradient)."""
    x, w1, b1, w2, b2, g2 = inputs
    y1 = conv.conv_relu_pool(x, w1, b1, bf16, tiles)
    y2 = conv.conv_relu_pool(y1, w2, b2, bf16, tiles)
    return list(torch.autograd.grad(y2, [w1, b1, w2, b2], g2))


def _cudnn_step(inputs, bf16: bool) -> list[torch.Tensor]:
    """The same two layers in PyTorch's ops (cuDNN), for the side-by-side ratio."""
    x, w1, b1, w2, b2, g2 = inputs
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=bf16):
        y2 = F.max_pool2d(F.relu(F.conv2d(F.max_pool2d(F.relu(F.conv2d(x, w1, b1)), 2), w2, b2)), 2)
    return list(torch.autograd.grad(y2, [w1, b1, w2, b2], g2.to(y2.dtype)))


def _time(fn, reps: int) -> float:
    """Seconds per call: the mean of ``reps`` calls, timed by ``torch.utils.benchmark.Timer``
    (it warms up first and synchronizes CUDA around what it times)."""
    from torch.utils.benchmark import Timer

    return Timer(stmt="fn()", globals={"fn": fn}).timeit(reps).mean


def sweep_tiles(args) -> int:
    """On a GPU: time forward + backward of both conv layers at ``--batch`` images, with
    PyTorch's (cuDNN) layers side by side, then with each kernel's tiles, warps and stages
    changed one at a time (``SWEEP``) and ``SPLIT`` halved and doubled — every
    configuration first checked: the default against PyTorch's gradients (relative norm
    1e-2 in float32, 0.15 in bf16: see below), every other configuration against the
    default (1e-4 in float32, 1e-3 in bf16). Prints us per pass and images/s."""
    if not torch.cuda.is_available():
        print("sweep: needs CUDA (torch.cuda.is_available() is False here)", file=sys.stderr)
        return 2
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    g = torch.Generator().manual_seed(0)

    def randn(*shape, scale=1.0):
        return (torch.randn(shape, generator=g) * scale).cuda()

    x, g2 = randn(args.batch, 3, 32, 32), randn(args.batch, 16, 5, 5)
    w1, b1 = randn(6, 3, 5, 5, scale=0.2), randn(6, scale=0.2)
    w2, b2 = randn(16, 6, 5, 5, scale=0.2), randn(16, scale=0.2)
    inputs = [x, w1, b1, w2, b2, g2]
    for t in inputs[1:5]:
        t.requires_grad_()
    results = {}
    split = conv.SPLIT
    for bf16 in (False, True):
        tag = "bf16" if bf16 else "fp32"
        want = [t.double() for t in _cudnn_step(inputs, bf16)]
        seconds = _time(lambda: _cudnn_step(inputs, bf16), args.reps)  # noqa: B023
        results[f"{tag} cudnn"] = seconds
        label = f"{tag} cudnn (PyTorch's layers)"
        print(f"{label:40s} {seconds * 1e6:9.1f} us  {args.batch / seconds:12,.0f} img/s")
        changes = [("default", None, None)]
        changes += [(name, c, None) for name, configs in SWEEP.items() for c in configs]
        changes += [("SPLIT", None, s) for s in (split // 2, split * 2)]
        for name, config, new_split in changes:
            label = (
                f"{tag} {name}"
                + (f" {config}" if config else "")
                + (f" {new_split}" if new_split else "")
            )
            tiles = conv.GPU_TILES
            if config:
                bm, bk, warps, stages = config
                entries = {"BLOCK_M": bm, "num_warps": warps, "num_stages": stages}
                tiles = tiles.changed(name, **entries, **({"BLOCK_K": bk} if bk else {}))
            if new_split:
                tiles = tiles.changed(split=new_split)
            try:
                got = _layers_step(inputs, bf16, tiles)
                worst = max(
                    ((a.double() - b).norm() / b.norm()).item()
                    for a, b in zip(got, want, strict=True)
                )
                # The default is checked against cuDNN loosely, every other configuration
                # tightly against the default. Why loosely: a pool window whose two largest
                # sums differ by less than their rounding sends its gradient to another
                # position than cuDNN's. With random output gradients each such window
                # moves a weight gradient (a sum of ~4e5 random terms at 16384 images) by
                # ~1/sqrt(4e5) = 1.6e-3 relative: float32 showed 1.1e-3 on an H200
                # (2026-11-27), a handful of windows among 19M. bf16: cuDNN also rounds
                # the conv outputs to bf16 before the pool, which ties many more. The
                # exact check, on data without near-ties, is the CUDA test's.
                fp32_limit, bf16_limit = (1e-2, 0.15) if name == "default" else (1e-4, 1e-3)
                limit = bf16_limit if bf16 else fp32_limit
                if worst > limit:
                    raise AssertionError(f"gradients off by {worst:.2e} (limit {limit})")
                if name == "default":
                    want = [t.double() for t in got]
                seconds = _time(lambda: _layers_step(inputs, bf16, tiles), args.reps)  # noqa: B023
                results[label] = seconds
                print(
                    f"{label:40s} {seconds * 1e6:9.1f} us  {args.batch / seconds:12,.0f} img/s"
                    f"  {results[f'{tag} cudnn'] / seconds:5.2f}x cudnn",
                    flush=True,
                )
            except Exception as e:  # a configuration that fails is reported, the sweep goes on
                failed(results, label, e, 40)
    return finish(args, results)


def failed(results: dict, label: str, error: Exception, width: int) -> None:
    """A sweep's configuration that failed: recorded and printed; the sweep goes on."""
    results[label] = repr(error)[:200]
    print(f"{label:{width}s} failed: {results[label]}", flush=True)


def finish(args, results: dict) -> int:
    """A sweep's end: its results written as JSON where --json asks."""
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.kernels_cli",
        description="The hand-written Triton kernels: check them on the CPU in Triton's "
        "interpreter (TRITON_INTERPRET=1), or time their configurations on a GPU.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("interpret", help="N steps of the nine-kernel step (TRITON_INTERPRET=1)")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--out", required=True, help="file to torch.save weights and losses to")
    p = sub.add_parser("sweep", help="time each step kernel's warps, one change at a time (CUDA)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--per-graph", type=int, default=10, help="steps per CUDA-graph replay")
    p.add_argument("--replays", type=int, default=200)
    p.add_argument("--json", help="write {configuration: us/step or error} here")
    p = sub.add_parser("check", help="conv layers and a short trajectory (TRITON_INTERPRET=1)")
    p.add_argument("--steps", type=int, default=2)
    p.add_argument("--batch", type=int, default=3)
    p.add_argument("--out", required=True, help="file to torch.save the results to")
    p.add_argument(
        "--tiles",
        choices=("interpreter", "gpu"),
        default="interpreter",
        help="tile sizes: the interpreter's (fast here) or the GPU's",
    )
    p = sub.add_parser("sweep-tconv", help="time the conv kernels' tiles against cuDNN (CUDA)")
    p.add_argument("--batch", type=int, default=16384)
    p.add_argument("--reps", type=int, default=20)
    p.add_argument("--json", help="write {configuration: seconds per pass or error} here")
    args = parser.parse_args(argv)
    commands = {"interpret": interpret, "sweep": sweep_warps, "check": check}
    return {**commands, "sweep-tconv": sweep_tiles}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
