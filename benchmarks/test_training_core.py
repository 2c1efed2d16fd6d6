"""Benchmarks of the note's training cores, CPU and GPU side by side.

Each case first checks that its variant computes the same trajectory as the plain eager
loop on the CPU (weights after k steps, ``assert_close`` with a stated tolerance), then
times steps with pytest-benchmark. GPU timings synchronize; graph capture and compile
time are excluded from the step time and reported in ``extra_info["setup_s"]``.

``make bench`` runs them for real; ``make test`` runs each once at small sizes
(``--benchmark-disable``) as a smoke test that never fails on speed.
"""

from __future__ import annotations

import os

import pytest
import torch

from benchmarks import cores

CUDA = pytest.mark.cuda
ALL_CORES = os.cpu_count() or 1

# (core factory, variant, device, threads, steps_per_graph, trajectory tolerance)
# Tolerances: same device and ops -> exact; another device or fused graph -> float32
# reassociation carried by momentum over k steps; bf16 autocast -> bf16 precision.
EXACT = {"rtol": 0.0, "atol": 0.0}
FP32_OTHER_ORDER = {"rtol": 1e-4, "atol": 1e-5}
BF16 = {"rtol": 5e-2, "atol": 5e-3}

CASES = [
    # 1. the note's semantics: batch 4, SGD momentum, one step at a time
    ("cifar4", "eager", "cpu", 1, 1, EXACT),
    ("cifar4", "eager", "cpu", ALL_CORES, 1, FP32_OTHER_ORDER),
    ("cifar4", "host", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar4", "eager", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar4", "graph", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar4", "graph", "cuda", None, 10, FP32_OTHER_ORDER),
    ("cifar4", "compiled", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar4", "compiled", "cpu", 1, 1, FP32_OTHER_ORDER),
    # 2. the same Net at large batch
    ("cifar512", "eager", "cpu", 1, 1, EXACT),
    ("cifar512", "eager", "cpu", ALL_CORES, 1, FP32_OTHER_ORDER),
    ("cifar512", "eager", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar512", "eager_channels_last", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar512", "eager_bf16", "cuda", None, 1, BF16),
    ("cifar512", "graph", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar512", "compiled", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar4096", "eager", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar4096", "eager_channels_last_bf16", "cuda", None, 1, BF16),
    ("cifar4096", "graph", "cuda", None, 1, FP32_OTHER_ORDER),
    ("cifar4096", "compiled", "cuda", None, 1, FP32_OTHER_ORDER),
    # 3. the two-layer MLP, Adam
    ("mlp", "eager", "cpu", 1, 1, EXACT),
    ("mlp", "eager", "cpu", ALL_CORES, 1, FP32_OTHER_ORDER),
    ("mlp", "eager", "cuda", None, 1, FP32_OTHER_ORDER),
    ("mlp", "graph", "cuda", None, 1, FP32_OTHER_ORDER),
    ("mlp", "compiled", "cpu", 1, 1, FP32_OTHER_ORDER),
]
CORES = {
    "cifar4": lambda: cores.cifar_core(4),
    "cifar512": lambda: cores.cifar_core(512),
    "cifar4096": lambda: cores.cifar_core(4096),
    "mlp": cores.mlp_core,
}


def case_id(case) -> str:
    core, variant, device, threads, per_graph, _ = case
    extra = f"-{per_graph}steps_per_graph" if per_graph > 1 else ""
    thr = f"-{threads}thr" if threads else ""
    return f"{core}-{variant}{extra}-{device}{thr}"


def params():
    out = []
    for case in CASES:
        marks = [CUDA] if case[2] == "cuda" else []
        out.append(pytest.param(case, id=case_id(case), marks=marks))
    return out


@pytest.fixture
def threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("case", params())
def test_training_step(case, benchmark, threads, matmul_peak, smoke):
    """One training step of a core in one variant: the eager CPU trajectory first, then timed."""
    core_name, variant, device, n_threads, per_graph, tolerance = case
    core = CORES[core_name]()
    if smoke and core.batch > 512:
        pytest.skip("batch-4096 cases are timed by make bench only")
    if smoke and variant == "compiled" and device == "cpu":
        pytest.skip("compiling on the CPU takes ~40 s: make bench only")
    k = 2 * per_graph  # trajectory length checked before timing
    batches = cores.make_batches(core, count=max(k, 4))

    # Honesty first: k steps of this variant end where k steps of the plain eager loop
    # on the CPU at 1 thread end.
    torch.set_num_threads(1)
    reference = cores.runner(core, "eager", "cpu", batches[:k])
    reference.run(k)
    if n_threads:
        torch.set_num_threads(n_threads)
    candidate = cores.runner(core, variant, device, batches[:k], steps_per_graph=per_graph)
    candidate.run(k)
    torch.testing.assert_close(candidate.weights(), reference.weights(), **tolerance)

    # Then time a fresh runner: warm-up round first, then rounds of `steps` steps.
    run = cores.runner(core, variant, device, batches, steps_per_graph=per_graph)
    if smoke:
        steps, rounds, warmup = per_graph, 1, 0
    else:
        steps = per_graph * max(1, (200 if core.batch <= 64 else 20) // per_graph)
        rounds, warmup = 5, 1
    benchmark.pedantic(run.run, args=(steps,), rounds=rounds, warmup_rounds=warmup)

    dev = torch.device(device)
    flops = cores.flops_per_step(core)
    stats = getattr(benchmark, "stats", None)
    seconds = stats.stats.mean / steps if stats is not None else float("nan")
    gflops = flops / seconds / 1e9
    benchmark.extra_info.update(
        {
            "core": core_name,
            "variant": variant + (f"x{per_graph}" if per_graph > 1 else ""),
            "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "batch": core.batch,
            "items_per_s": core.items_per_step / seconds,
            "us_per_step": seconds * 1e6,
            "gflop_per_step": flops / 1e9,
            "gflops": gflops,
            "matmul_peak_gflops": matmul_peak(device),
            "pct_of_floor": 100 * gflops / matmul_peak(device),
            # capture/compile of the first (trajectory-check) runner: a cold compile;
            # the timed runner's own setup may hit the compile cache.
            "setup_s": candidate.setup_seconds,
            "setup_timed_runner_s": run.setup_seconds,
        }
    )
