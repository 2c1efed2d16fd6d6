"""The CIFAR Net's two conv layers — conv + bias + ReLU + 2x2 max-pool — as Triton
kernels for large batches: the ``+tconv`` option of the benchmarks.

Why it exists: at batch 4096-16384 on an H200, cuDNN spends most of the step in kernels
poorly suited to 3-, 6- and 16-channel 5x5 convolutions (a generic NHWC forward for
conv1 takes 3.5 of 9.9 ms at 16384; weight gradients 1.8 ms; max-pool backward 1.0 ms —
benchmarks/results/h200-2026-11-27/README.md). Each layer here is one forward kernel and one or
two backward kernels, written as implicit GEMMs for ``tl.dot``. On an H200 (results/
h200-2026-11-27b/README.md) both layers, forward and backward, take 2.45 ms at 16384 images in
bf16 — 4.2x cuDNN's — and the whole step reaches 5.9M img/s; in float32 they are on par
with cuDNN (no TF32: FMA units either way). The kernels:

``conv_pool_forward``   rows = pooled output positions of all images (b, ph, pw),
                        columns = output channels, K = the taps (c, py, px) of the 6x6
                        input patch under the 2x2 window of 5x5 convolutions, gathered
                        once; four GEMMs, one per window position, with the weight
                        shifted there (zeros elsewhere in the 6x6), then the max and
                        its argmax (int8); ReLU after the pool
``conv_pool_dweight``   weight and bias gradients: for each window position d, the
                        output gradient routed there by the argmax, transposed, times
                        the same 6x6 patches; each program sums a slice of the rows,
                        the partial sums are added by ``torch.sum`` (no atomics:
                        deterministic) and each position's 6x6 taps folded back onto
                        the 5x5 kernel (``fold_window_taps``)
``conv_pool_dpatch``    conv2 only (conv1's input is the data): the gradient of each
                        pooled position's 6x6 input patch — the forward's GEMMs run
                        backwards, the routed output gradient times the shifted
                        weights — written out (B * 25 rows of 216 values)
``conv_pool_dinput``    the input gradient: each input value sums its entries in the
                        up to 3 x 3 patches that cover it (no atomics: deterministic)

The four 5x5 windows under one 2x2 pool overlap: together they read a 6x6 patch per
input channel, 36 values, where four separate 5x5 patches are 100 loads. Forward and
weight gradient gather each 6x6 patch once and let the zeros in the shifted weights
pick each window's 25 taps — the gathers, not the arithmetic, are these kernels' cost.
The input gradient runs the same GEMMs backwards into patch gradients and adds the
overlapping patches up, instead of gathering 400 routed output gradients (each an
argmax and a value) per input value: ~16-21k loads and stores per image instead of
~167k. (Until commit ce590c7 the kernels gathered per window and per input value: a
baseline for the sweep, if wanted.)

No max-pool or ReLU tensor at conv resolution is ever written: the pooled output and a
one-byte argmax per pooled value are all the backward needs. The fc layers, loss and
optimizer stay PyTorch's (cuBLAS is good at those shapes). Under bf16 autocast the GEMMs
take bfloat16 operands with float32 accumulation, as cuDNN's do under autocast;
activations are stored in float32 either way. In float32 the GEMMs are exact float32
(``input_precision="ieee"``: no TF32, as the benchmarks pin).

Arithmetic follows PyTorch's: ReLU's gradient is 0 where its output is 0; max-pool
sends the gradient to the first maximum of the window (the bias is added before the
comparison, so ties are those PyTorch sees). Sums run in another order than cuDNN's, so
results agree to rounding, not bit for bit. Without a GPU the kernels run in Triton's
interpreter (``TRITON_INTERPRET=1``, NumPy): that is how the CPU suite checks them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from benchmarks.triton_common import interpreting, tl, triton
from benchmarks.triton_common import jit as _jit
from reference import cifar10

#: Tiles, warps and pipeline stages per kernel: rows (output or input positions) per
#: program and taps per GEMM step. Chosen on a CPU from ptxas's report for sm_90
#: (``compile_for_gpu``): in bf16 (the large-batch path) 93-117 registers per thread and
#: no spills, so that several programs share an SM and hide the gathers' latency (float32's
#: FMA GEMMs take 120-188, no spills; the patch sum, no GEMM, 64); one stage (Triton's
#: software pipelining of these gathers tripled shared memory and spilled). With four
#: accumulators (one per window position) the forward kernel's 32-tap steps took 134 /
#: 255 registers, the weight gradient's 64-row blocks 167 / 255 and spilled in float32:
#: hence 16 taps, and 32 rows by 64 taps at 8 warps (the output gradient and argmax are
#: loaded once per tap block: 2 blocks for conv1's 108 taps, not 4); the patch gradient
#: spilled in float32 at 4 warps, not 8.
#: Then timed on an H200 (``python -m benchmarks.kernels_cli sweep-tconv``, batch 16384,
#: both layers forward + backward; benchmarks/results/h200-2026-11-27b/README.md). First sweep,
#: bf16: of each kernel's neighbours two beat these, the weight gradient with 2 stages
#: (2,855 us instead of 3,392) and the forward at 4 warps (3,181 us): 2,626 us together.
#: Second sweep, around that: the weight gradient in 16 rows x 128 taps at 4 warps, 2
#: stages, was the fastest in float32 (9,646 us instead of 12,451: on par with cuDNN;
#: 96 bytes of spill) and within 2% of the best in bf16 (2,444 us) — taken. The forward's
#: 32-tap steps were faster in bf16 (2,412 us) but slower in float32 (12,893): not taken,
#: one configuration serves both precisions.
CONFIG = {
    "conv_pool_forward": {"BLOCK_M": 128, "BLOCK_K": 16, "num_warps": 4, "num_stages": 1},
    "conv_pool_dweight": {"BLOCK_M": 16, "BLOCK_K": 128, "num_warps": 4, "num_stages": 2},
    "conv_pool_dpatch": {"BLOCK_M": 128, "BLOCK_K": 32, "num_warps": 8, "num_stages": 1},
    "conv_pool_dinput": {"BLOCK_M": 1024, "num_warps": 8, "num_stages": 1},
}
#: Larger tiles for Triton's interpreter, whose cost is per operation, not per element:
#: the CPU check uses them by default (``INTERPRETER``; still ragged in rows and taps, so
#: the masks are exercised), with ``SPLIT`` = 3 so that at batch 2 conv1's weight gradient has 7 row
#: blocks: each program loops over several, the last ones past the end, and three
#: partial sums are added; ``check --tiles gpu`` interprets ``CONFIG`` itself (~2x slower).
INTERPRETER_TILES = {
    "conv_pool_forward": {"BLOCK_M": 256, "BLOCK_K": 64},
    "conv_pool_dweight": {"BLOCK_M": 64, "BLOCK_K": 64},
    "conv_pool_dpatch": {"BLOCK_M": 256, "BLOCK_K": 64},
    "conv_pool_dinput": {"BLOCK_M": 1024},
}
INTERPRETER_SPLIT = 3
#: Output channels padded to 16: tl.dot wants every dimension >= 16.
N_PAD = 16
#: Programs that share the rows of a weight-gradient sum (each writes one partial sum).
SPLIT = 264  # two per SM of an H100/H200


@dataclass(frozen=True)
class Tiles:
    """One configuration of the kernels: each kernel's ``CONFIG`` entry (tiles, warps,
    stages) and ``SPLIT``. Passed to the layers, never changed in place: the sweep and the
    interpreter's check build their own."""

    config: dict = field(default_factory=lambda: {k: dict(v) for k, v in CONFIG.items()})
    split: int = SPLIT

    def changed(self, name: str | None = None, split: int | None = None, **entries) -> Tiles:
        """A copy with ``entries`` set in kernel ``name``'s configuration, or a new split."""
        config = {k: dict(v) for k, v in self.config.items()}
        if name is not None:
            config[name].update(entries)
        return Tiles(config, self.split if split is None else split)


#: The GPU's configuration, and the interpreter's (larger tiles, SPLIT 3: see above).
GPU_TILES = Tiles()
INTERPRETER = Tiles(
    {k: {**v, **INTERPRETER_TILES.get(k, {})} for k, v in CONFIG.items()}, INTERPRETER_SPLIT
)


@_jit
def _gemm(a, b, PRECISION: tl.constexpr):
    """a @ b with float32 accumulation. PRECISION "ieee": exact float32 operands (no
    TF32); "bf16": bfloat16 operands (tensor cores); "bf16_emulated": the same numbers
    without bfloat16 arithmetic — operands rounded to bfloat16 and back, then multiplied
    in float32, where a product of two bfloat16 values is exact — for Triton's
    interpreter, whose bfloat16 dot is wrong (Triton 3.8)."""
    if PRECISION == "bf16":
        return tl.dot(a.to(tl.bfloat16), b.to(tl.bfloat16))
    elif PRECISION == "bf16_emulated":
        a = a.to(tl.bfloat16).to(tl.float32)
        b = b.to(tl.bfloat16).to(tl.float32)
        return tl.dot(a, b, input_precision="ieee")
    else:
        return tl.dot(a, b, input_precision="ieee")


@_jit
def _pooled_rows(m, n, C: tl.constexpr, H: tl.constexpr, OC: tl.constexpr, P: tl.constexpr):
    """For pooled positions m = (image, row, column) flattened over all images: the offset
    of each one's top-left input pixel in x (B, C, H, H), and of (m, channel n) in the
    pooled output (B, OC, P, P)."""
    b = m // (P * P)
    q = m % (P * P)
    corner = b * (C * H * H) + 2 * (q // P) * H + 2 * (q % P)
    out = (b * (OC * P * P) + q)[:, None] + n[None, :] * (P * P)
    return corner, out


@_jit
def _window_patches(x_ptr, corner, k, mm, H: tl.constexpr, UTAPS: tl.constexpr):
    """The 6x6 input patches [rows, taps k] under each pooled position's 2x2 window of
    5x5 convolutions — tap k = (c, py, px), UTAPS = C * 36 of them — gathered once for
    all four window positions (four 5x5 patches would be 100 taps per channel: 2.8x the
    loads); 0 outside rows mm or UTAPS."""
    tap = (k // 36) * (H * H) + (k % 36) // 6 * H + k % 6
    return tl.load(x_ptr + corner[:, None] + tap[None, :], mm[:, None] & (k < UTAPS)[None, :], 0.0)


@_jit
def _shifted_weight(w_ptr, k, n, d: tl.constexpr, C: tl.constexpr, OC: tl.constexpr):
    """The weight as a [taps k, channels n] matrix over the 6x6 patch for window position
    d (dy, dx = d // 2, d % 2): w[n, c, py - dy, px - dx] where that is inside the 5x5
    kernel, else 0 — so that patch @ it is the convolution at that position. (A zero
    times an infinite input would make NaN where PyTorch gives inf: inputs are finite.)"""
    kh = (k % 36) // 6 - d // 2
    kw = k % 6 - d % 2
    ok = (k < C * 36) & (kh >= 0) & (kh < 5) & (kw >= 0) & (kw < 5)
    tap = (k // 36) * 25 + kh * 5 + kw
    return tl.load(
        w_ptr + n[None, :] * (C * 25) + tap[:, None], ok[:, None] & (n < OC)[None, :], 0.0
    )


@_jit
def conv_pool_forward(
    x_ptr,
    w_ptr,
    b_ptr,
    y_ptr,
    arg_ptr,
    M,
    C: tl.constexpr,
    H: tl.constexpr,
    OC: tl.constexpr,
    P: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_K: tl.constexpr,
    N_PAD: tl.constexpr,
    PRECISION: tl.constexpr,
):
    """y = maxpool2x2(relu(conv5x5(x, w) + b)) for M = B * P * P pooled positions; x is
    (B, C, H, H), y (B, OC, P, P), arg the window position 0..3 of each maximum (row-
    major, like PyTorch's), -1 where y is 0 (no gradient flows). Each tile of 6x6
    patches is loaded once and multiplied by the weight shifted to each of the four
    window positions: four accumulators, then the max."""
    UTAPS: tl.constexpr = C * 36
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    mm = m < M
    n = tl.arange(0, N_PAD)
    nm = n < OC
    corner, out = _pooled_rows(m, n, C, H, OC, P)
    z0 = tl.zeros((BLOCK_M, N_PAD), tl.float32)
    z1 = tl.zeros((BLOCK_M, N_PAD), tl.float32)
    z2 = tl.zeros((BLOCK_M, N_PAD), tl.float32)
    z3 = tl.zeros((BLOCK_M, N_PAD), tl.float32)
    for k0 in range(0, UTAPS, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        a = _window_patches(x_ptr, corner, k, mm, H, UTAPS)
        z0 += _gemm(a, _shifted_weight(w_ptr, k, n, 0, C, OC), PRECISION)
        z1 += _gemm(a, _shifted_weight(w_ptr, k, n, 1, C, OC), PRECISION)
        z2 += _gemm(a, _shifted_weight(w_ptr, k, n, 2, C, OC), PRECISION)
        z3 += _gemm(a, _shifted_weight(w_ptr, k, n, 3, C, OC), PRECISION)
    bias = tl.load(b_ptr + n, nm, 0.0)[None, :]  # added before the max, as in PyTorch
    best = z0 + bias
    arg = tl.zeros((BLOCK_M, N_PAD), tl.int32)
    # strict comparisons: the first maximum wins, as in PyTorch
    better = z1 + bias > best
    best = tl.where(better, z1 + bias, best)
    arg = tl.where(better, 1, arg)
    better = z2 + bias > best
    best = tl.where(better, z2 + bias, best)
    arg = tl.where(better, 2, arg)
    better = z3 + bias > best
    best = tl.where(better, z3 + bias, best)
    arg = tl.where(better, 3, arg)
    om = mm[:, None] & nm[None, :]
    tl.store(y_ptr + out, tl.where(best > 0, best, 0.0), om)
    tl.store(arg_ptr + out, tl.where(best > 0, arg, -1).to(tl.int8), om)


@_jit
def conv_pool_dweight(
    x_ptr,
    gy_ptr,
    arg_ptr,
    gw_ptr,
    gb_ptr,
    M,
    SPLIT,
    K_PAD,
    ITERS: tl.constexpr,
    C: tl.constexpr,
    H: tl.constexpr,
    OC: tl.constexpr,
    P: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_K: tl.constexpr,
    N_PAD: tl.constexpr,
    PRECISION: tl.constexpr,
):
    """Partial weight and bias gradients over the 6x6 patches. Program (kb, s) sums the
    row blocks s, s + SPLIT, s + 2 * SPLIT, ... (ITERS of them, BLOCK_M pooled positions
    each; SPLIT programs along axis 1) for patch taps kb * BLOCK_K ...: for each window
    position d, the output gradient routed there by the argmax, transposed, times the
    patches (loaded once for all four) -> gw[s, d, :, taps] (shape (SPLIT, 4, N_PAD,
    K_PAD)); programs kb = 0 also write gb[s, :]. The host adds the partial sums and
    folds each d's 6x6 taps back onto the 5x5 kernel. (The trip count is a compile-time
    constant, one compile per batch size: Triton 3.5's interpreter cannot loop to a
    run-time bound.)"""
    UTAPS: tl.constexpr = C * 36
    kb = tl.program_id(0)
    s = tl.program_id(1)
    k = kb * BLOCK_K + tl.arange(0, BLOCK_K)
    n = tl.arange(0, N_PAD)
    nm = n < OC
    g0 = tl.zeros((N_PAD, BLOCK_K), tl.float32)
    g1 = tl.zeros((N_PAD, BLOCK_K), tl.float32)
    g2 = tl.zeros((N_PAD, BLOCK_K), tl.float32)
    g3 = tl.zeros((N_PAD, BLOCK_K), tl.float32)
    bias_acc = tl.zeros((N_PAD,), tl.float32)
    for i in range(ITERS):
        m = (i * SPLIT + s) * BLOCK_M + tl.arange(0, BLOCK_M)
        mm = m < M
        corner, out = _pooled_rows(m, n, C, H, OC, P)
        om = mm[:, None] & nm[None, :]
        g = tl.load(gy_ptr + out, om, 0.0)
        arg = tl.load(arg_ptr + out, om, -1).to(tl.int32)
        bias_acc += tl.sum(tl.where(arg >= 0, g, 0.0), axis=0)
        a = _window_patches(x_ptr, corner, k, mm, H, UTAPS)
        # the conv output's gradient at window position d: where the argmax points
        g0 += _gemm(tl.trans(tl.where(arg == 0, g, 0.0)), a, PRECISION)
        g1 += _gemm(tl.trans(tl.where(arg == 1, g, 0.0)), a, PRECISION)
        g2 += _gemm(tl.trans(tl.where(arg == 2, g, 0.0)), a, PRECISION)
        g3 += _gemm(tl.trans(tl.where(arg == 3, g, 0.0)), a, PRECISION)
    at = gw_ptr + s * (4 * N_PAD * K_PAD) + n[:, None] * K_PAD + k[None, :]
    tl.store(at, g0)
    tl.store(at + N_PAD * K_PAD, g1)
    tl.store(at + 2 * N_PAD * K_PAD, g2)
    tl.store(at + 3 * N_PAD * K_PAD, g3)
    tl.store(gb_ptr + s * N_PAD + n, bias_acc, (n < N_PAD) & (kb == 0))


@_jit
def conv_pool_dpatch(
    gy_ptr,
    arg_ptr,
    w_ptr,
    gp_ptr,
    M,
    C: tl.constexpr,
    H: tl.constexpr,
    OC: tl.constexpr,
    P: tl.constexpr,
    BLOCK_M: tl.constexpr,
    BLOCK_K: tl.constexpr,
    N_PAD: tl.constexpr,
    PRECISION: tl.constexpr,
):
    """The gradient of each pooled position's 6x6 input patch, gp (M, C * 36) for M =
    B * P * P: for each window position d, the output gradient routed there (gy where
    the argmax is d, else 0) times the weight shifted to d, transposed — the forward's
    four GEMMs run backwards, into one accumulator per tile of taps."""
    UTAPS: tl.constexpr = C * 36
    m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    mm = m < M
    n = tl.arange(0, N_PAD)
    _, out = _pooled_rows(m, n, C, H, OC, P)
    om = mm[:, None] & (n < OC)[None, :]
    g = tl.load(gy_ptr + out, om, 0.0)
    arg = tl.load(arg_ptr + out, om, -1).to(tl.int32)
    dz0 = tl.where(arg == 0, g, 0.0)
    dz1 = tl.where(arg == 1, g, 0.0)
    dz2 = tl.where(arg == 2, g, 0.0)
    dz3 = tl.where(arg == 3, g, 0.0)
    for k0 in range(0, UTAPS, BLOCK_K):
        k = k0 + tl.arange(0, BLOCK_K)
        acc = _gemm(dz0, tl.trans(_shifted_weight(w_ptr, k, n, 0, C, OC)), PRECISION)
        acc += _gemm(dz1, tl.trans(_shifted_weight(w_ptr, k, n, 1, C, OC)), PRECISION)
        acc += _gemm(dz2, tl.trans(_shifted_weight(w_ptr, k, n, 2, C, OC)), PRECISION)
        acc += _gemm(dz3, tl.trans(_shifted_weight(w_ptr, k, n, 3, C, OC)), PRECISION)
        tl.store(gp_ptr + m[:, None] * UTAPS + k[None, :], acc, mm[:, None] & (k < UTAPS)[None, :])


@_jit
def conv_pool_dinput(
    gp_ptr,
    gx_ptr,
    N,
    C: tl.constexpr,
    H: tl.constexpr,
    P: tl.constexpr,
    BLOCK_M: tl.constexpr,
):
    """gx (B, C, H, H), N = B * C * H * H values: each input value's gradient is the sum
    of its entries in the patch gradients gp of the pooled positions whose 6x6 patch
    covers it — up to 3 x 3 of them, patches overlapping by 4 — gathered in a fixed
    order (no atomics: deterministic)."""
    e = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    em = e < N
    b = e // (C * H * H)
    c = e // (H * H) % C
    iy = e // H % H
    ix = e % H
    acc = tl.zeros((BLOCK_M,), tl.float32)
    for i in tl.static_range(3):
        ph = iy // 2 - i  # the patch rows 2 * ph .. 2 * ph + 5 hold iy
        for j in tl.static_range(3):
            pw = ix // 2 - j
            ok = em & (ph >= 0) & (ph < P) & (pw >= 0) & (pw < P)
            row = (b * P + ph) * P + pw
            tap = c * 36 + (iy - 2 * ph) * 6 + (ix - 2 * pw)
            acc += tl.load(gp_ptr + row * (C * 36) + tap, ok, 0.0)
    tl.store(gx_ptr + e, acc, em)


# --------------------------------------------------------------------- autograd
def _shapes(x: torch.Tensor, weight: torch.Tensor) -> tuple[int, int, int, int, int]:
    """(B, C, H, OC, P) of a 5x5 conv + 2x2 pool layer, after checking what the kernels need."""
    if x.dim() != 4 or x.shape[2] != x.shape[3] or (x.shape[2] - 4) % 2:
        raise ValueError(
            "conv_relu_pool: expected x of shape (B, C, H, H) with H - 4 even, "
            f"got {tuple(x.shape)}"
        )
    b, c, h, _ = x.shape
    if tuple(weight.shape[1:]) != (c, 5, 5) or weight.shape[0] > N_PAD:
        raise ValueError(
            f"conv_relu_pool: expected a weight of shape (<= {N_PAD}, {c}, 5, 5), "
            f"got {tuple(weight.shape)}"
        )
    for name, t in (("x", x), ("weight", weight)):
        if t.dtype != torch.float32 or not t.is_contiguous():
            raise ValueError(
                f"conv_relu_pool: expected {name} contiguous float32, got {t.dtype}"
                f"{'' if t.is_contiguous() else ' (not contiguous)'}"
            )
    if x.device.type != "cuda" and not interpreting():
        raise RuntimeError(
            f"conv_relu_pool on {x.device}: off the GPU the kernels run only in Triton's "
            "interpreter; set TRITON_INTERPRET=1 before triton is imported "
            "(python -m benchmarks.kernels_cli check does)"
        )
    return b, c, h, weight.shape[0], (h - 4) // 2


def _launch(kernel, grid, tiles: Tiles, *args, **constants) -> None:
    """kernel[grid](*args) with its configuration in ``tiles`` (tiles, warps, stages) and
    those of the constants it takes."""
    names = set(kernel.arg_names)
    constants = {k: v for k, v in {**constants, "N_PAD": N_PAD}.items() if k in names}
    kernel[grid](*args, **constants, **tiles.config[kernel.__name__])


class ConvReluPool(torch.autograd.Function):
    """``F.max_pool2d(F.relu(F.conv2d(x, weight, bias)), 2)`` for a 5x5 kernel, with the
    kernels above; ``bf16`` takes the GEMMs' operands in bfloat16; ``tiles`` configures
    the kernels."""

    @staticmethod
    def forward(ctx, x, weight, bias, bf16: bool, tiles: Tiles):
        b, c, h, oc, p = _shapes(x, weight)
        precision = ("bf16_emulated" if interpreting() else "bf16") if bf16 else "ieee"
        y = torch.empty(b, oc, p, p, device=x.device)
        arg = torch.empty(b, oc, p, p, device=x.device, dtype=torch.int8)
        m = b * p * p
        grid = (triton.cdiv(m, tiles.config["conv_pool_forward"]["BLOCK_M"]),)
        layer = {"C": c, "H": h, "OC": oc, "P": p, "PRECISION": precision}
        _launch(conv_pool_forward, grid, tiles, x, weight, bias, y, arg, m, **layer)
        ctx.save_for_backward(x, weight, arg)
        ctx.layer, ctx.tiles = layer, tiles
        return y

    @staticmethod
    def backward(ctx, gy):
        x, weight, arg = ctx.saved_tensors
        gy = gy.float().contiguous()
        b, c, _, oc, p = _shapes(x, weight)
        gx, tiles = None, ctx.tiles
        if ctx.needs_input_grad[0]:
            m = b * p * p
            gp = torch.empty(m, c * 36, device=x.device)
            grid = (triton.cdiv(m, tiles.config["conv_pool_dpatch"]["BLOCK_M"]),)
            _launch(conv_pool_dpatch, grid, tiles, gy, arg, weight, gp, m, **ctx.layer)
            gx = torch.empty_like(x)
            grid = (triton.cdiv(x.numel(), tiles.config["conv_pool_dinput"]["BLOCK_M"]),)
            _launch(conv_pool_dinput, grid, tiles, gp, gx, x.numel(), **ctx.layer)
        m = b * p * p
        tile = tiles.config["conv_pool_dweight"]
        k_blocks = triton.cdiv(c * 36, tile["BLOCK_K"])
        split = min(tiles.split, triton.cdiv(m, tile["BLOCK_M"]))
        gw = torch.empty(split, 4, N_PAD, k_blocks * tile["BLOCK_K"], device=x.device)
        gb = torch.empty(split, N_PAD, device=x.device)
        iters = triton.cdiv(m, split * tile["BLOCK_M"])
        args = (x, gy, arg, gw, gb, m, split, gw.shape[3])
        _launch(conv_pool_dweight, (k_blocks, split), tiles, *args, ITERS=iters, **ctx.layer)
        return gx, fold_window_taps(gw.sum(0), oc, c), gb.sum(0)[:oc], None, None


def fold_window_taps(g: torch.Tensor, oc: int, c: int) -> torch.Tensor:
    """(4, N_PAD, K_PAD) gradients over each window position's 6x6 patch taps -> the
    (oc, c, 5, 5) kernel's: position d = (dy, dx) saw tap (kh, kw) at (kh + dy, kw + dx)."""
    g = g[:, :oc, : c * 36].reshape(4, oc, c, 6, 6)
    return g[0, ..., :5, :5] + g[1, ..., :5, 1:] + g[2, ..., 1:, :5] + g[3, ..., 1:, 1:]


def conv_relu_pool(x, weight, bias, bf16: bool = False, tiles: Tiles = GPU_TILES) -> torch.Tensor:
    return ConvReluPool.apply(x, weight, bias, bf16, tiles)


class TritonConvNet(cifar10.Net):
    """The note's CIFAR Net, sharing ``net``'s layers (same parameters, same state_dict
    keys), with conv1 and conv2 (+ ReLU + pool) done by the kernels above; fc1-fc3 as in
    the note. Under bf16 autocast the conv GEMMs take bfloat16 operands; ``tiles``
    configures the kernels (default: the GPU's)."""

    def __init__(self, net: cifar10.Net, tiles: Tiles = GPU_TILES):
        super().__init__()
        self.tiles = tiles
        for name in ("conv1", "conv2", "fc1", "fc2", "fc3"):
            setattr(self, name, getattr(net, name))

    def forward(self, x):
        cifar10.check_input(x)
        bf16 = torch.is_autocast_enabled(x.device.type) and (
            torch.get_autocast_dtype(x.device.type) == torch.bfloat16
        )
        x = conv_relu_pool(x, self.conv1.weight, self.conv1.bias, bf16, self.tiles)
        x = conv_relu_pool(x, self.conv2.weight, self.conv2.bias, bf16, self.tiles)
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


#: The layers' shapes in the note's Net: (input channels, input width, output channels).
LAYERS = {"conv1": (3, 32, 6), "conv2": (6, 14, 16)}


def forward_with_argmax(x, w, b, bf16, tiles: Tiles = GPU_TILES):
    """The layer's output and its saved argmax (for tests of the routing)."""
    saved = {}

    def pack(t):
        if t.dtype == torch.int8:
            saved["arg"] = t
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        y = conv_relu_pool(x, w, b, bf16, tiles)
    return y, saved["arg"].clone()


def compile_for_gpu(capability: int = 90, which=None, tiles: Tiles = GPU_TILES) -> dict:
    """Compile the kernels, as configured in ``tiles``, to cubins for an NVIDIA GPU of
    compute ``capability`` — no GPU needed (Triton's compiler and ptxas). ``which``: the
    (kernel name, layer, precision) triples to build; default every kernel for each layer
    it serves, in "bf16" and "ieee". Returns {"kernel layer precision": compiled}."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    if which is None:
        which = [
            (name, layer, precision)
            for name in CONFIG
            for layer in LAYERS
            for precision in ("bf16", "ieee")
            # conv1's input is the data: no input gradient
            if not (name in ("conv_pool_dpatch", "conv_pool_dinput") and layer == "conv1")
        ]
    out = {}
    for name, layer, precision in which:
        fn = globals()[name]
        c, h, oc = LAYERS[layer]
        config = dict(tiles.config[name])
        constants = {"C": c, "H": h, "OC": oc, "P": (h - 4) // 2, "N_PAD": N_PAD}
        constants["PRECISION"] = precision
        constants.update({k: config.pop(k) for k in ("BLOCK_M", "BLOCK_K") if k in config})
        constants = {k: v for k, v in constants.items() if k in fn.arg_names}
        if name == "conv_pool_dweight":  # the trip count at batch 16384
            blocks = triton.cdiv(16384 * constants["P"] ** 2, constants["BLOCK_M"])
            constants["ITERS"] = triton.cdiv(blocks, min(tiles.split, blocks))
        signature = {
            a: "constexpr" if a in constants else ("i32" if a.isupper() else "*fp32")
            for a in fn.arg_names
        }
        if "arg_ptr" in signature:
            signature["arg_ptr"] = "*i8"
        source = ASTSource(
            fn=fn,
            signature=signature,
            constexprs={(fn.arg_names.index(k),): v for k, v in constants.items()},
        )
        out[f"{name} {layer} {precision}"] = triton.compile(
            source, target=GPUTarget("cuda", capability, 32), options=config
        )
    return out
