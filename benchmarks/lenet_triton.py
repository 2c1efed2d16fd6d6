"""The note's CIFAR training step — Net, cross-entropy, SGD with momentum — as nine
hand-written Triton kernels: the benchmarks' hardware-limit reference.

Why it exists: at the note's batch of 4 a step is 12.8 MFLOP, a quarter of a
microsecond of GPU arithmetic, yet PyTorch's best (inductor kernels in a CUDA graph,
benchmarks/results/h200-2026-11-27/README.md) spends ~100 us in 38 kernels — latency, not
work. These nine kernels do the same arithmetic with far fewer launches:

1. ``conv1_pool``    conv1 + bias + ReLU + 2x2 max-pool (keeps the argmax)
2. ``conv2_pool``    conv2 + bias + ReLU + 2x2 max-pool (keeps the argmax)
3. ``fc1_forward``   fc1 + ReLU (programs over blocks of outputs and rows)
4. ``fc2_forward``   fc2 + ReLU (likewise)
5. ``fc3_loss``      fc3, cross-entropy, their backward to fc2's output; SGD of fc3
6. ``fc2_backward``  fc2's weight grad and input grad (programs over blocks of
                     columns), SGD update of fc2
7. ``fc1_backward``  fc1's weight grad and input grad, SGD update of fc1; scatters
                     the input grad through pool2's argmax into conv2's output grad
8. ``conv2_dinput``  conv2's input grad, through pool1's argmax
9. ``conv_dweight``  conv1's and conv2's weight and bias grads, their SGD update

The fc layers were first one program (fc1, fc2, fc3, the loss and the backward to
fc1's output, with ``tl.dot`` on rows padded to 16): on an H200 it took 133 of the
step's 158 us — one SM doing the work of 50 KB of weights, read across their rows,
spilling registers. Split over four kernels whose programs each read a slice of the
weights along its rows, the step does the same arithmetic on many SMs: 38.2 us per step
in a CUDA graph, 0.48 s per 12,500-step epoch (results/h200-2026-11-27b/README.md).

It is not the note's code and not a way to train: it is there to measure how close
to the hardware the note's computation can run. The benchmarks check its weights
after k steps against the note's eager loop before timing it, like every variant.
Without a GPU the same kernels run in Triton's interpreter (NumPy, slow): that is
how the CPU suite checks them.

Arithmetic follows PyTorch's: SGD ``buf = momentum * buf + grad``, ``w -= lr * buf``
(zero buffers at the start give PyTorch's first step, ``buf = grad``); ReLU's gradient
is 0 where its output is 0; max-pool sends the gradient to the first maximum.
Sums run in another order than cuDNN's and cuBLAS's, so weights agree to float32
rounding, not bit for bit.
"""

from __future__ import annotations

import torch

from benchmarks import plain_sgd
from benchmarks.triton_common import available, interpreting, tl, triton
from benchmarks.triton_common import jit as _jit

#: Largest batch the kernels take: written for the note's batch of 4; ``fc1_backward``
#: holds all rows (padded to a power of two >= 16) in registers, and at 64 already spills.
MAX_BATCH = 64


# --------------------------------------------------------------------- kernels
@_jit
def _sgd(w_ptr, m_ptr, offsets, mask, grad, lr, momentum):
    """PyTorch's SGD with momentum, dampening 0: buf = momentum * buf + grad; w -= lr * buf.
    Zero buffers at the start give PyTorch's first step, buf = grad. Each element is
    loaded and stored with one layout: the thread that writes it read it (Triton stores
    a replicated element from one thread only)."""
    buf = tl.load(m_ptr + offsets, mask, 0.0) * momentum + grad
    tl.store(m_ptr + offsets, buf, mask)
    tl.store(w_ptr + offsets, tl.load(w_ptr + offsets, mask, 0.0) - lr * buf, mask)


@_jit
def _sgd1(w_ptr, m_ptr, grad, lr, momentum):
    """``_sgd`` for one number (a bias)."""
    buf = tl.load(m_ptr) * momentum + grad
    tl.store(m_ptr, buf)
    tl.store(w_ptr, tl.load(w_ptr) - lr * buf)


# Shapes are the note's: x (B, 3, 32, 32) -> conv1 (6, 28, 28) -> pool (6, 14, 14)
# -> conv2 (16, 10, 10) -> pool (16, 5, 5) = 400 -> 120 -> 84 -> 10.
# Pool argmax d in 0..3 is (di, dj) = (d // 2, d % 2), row-major like PyTorch's;
# -1 where the pooled ReLU output is 0 (no gradient flows).


@_jit
def _conv_relu_pool(
    img_ptr,
    w_ptr,
    bias,
    q,
    C: tl.constexpr,
    WIDTH: tl.constexpr,
    POOLED: tl.constexpr,
    TAPS: tl.constexpr,
):
    """ReLU(conv 5x5 + bias) of one image and one output channel, max-pooled 2x2, at the
    pooled positions q (row-major, POOLED x POOLED); C input planes WIDTH pixels wide.
    Returns the pooled values and the argmax d (-1 where the value is 0)."""
    qm = q < POOLED * POOLED
    ph = q // POOLED
    pw = q % POOLED
    t = tl.arange(0, TAPS)  # the C * 25 taps c * 25 + kh * 5 + kw, padded to TAPS
    tm = t < C * 25
    tap = (t // 25) * WIDTH * WIDTH + ((t % 25) // 5) * WIDTH + t % 5
    w = tl.load(w_ptr + t, tm, 0.0)
    best = tl.full(q.shape, float("-inf"), tl.float32)
    arg = tl.zeros(q.shape, tl.int32)
    for d in range(4):  # a loop, not unrolled: small code, fast compiles
        at = (2 * ph + d // 2) * WIDTH + 2 * pw + d % 2
        a = tl.load(img_ptr + at[:, None] + tap[None, :], qm[:, None] & tm[None, :], 0.0)
        acc = tl.sum(a * w[None, :], axis=1) + bias
        better = acc > best
        best = tl.where(better, acc, best)
        arg = tl.where(better, d, arg)
    return tl.maximum(best, 0.0), tl.where(best > 0.0, arg, -1)


@_jit
def conv1_pool(x_ptr, w_ptr, b_ptr, out_ptr, idx_ptr, BLOCK_P: tl.constexpr):
    # program (b * 6 + oc, block of BLOCK_P of the 14 x 14 pooled positions)
    pid = tl.program_id(0)
    oc = pid % 6
    q = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    img = x_ptr + (pid // 6) * 3072
    out, arg = _conv_relu_pool(img, w_ptr + oc * 75, tl.load(b_ptr + oc), q, 3, 32, 14, 128)
    tl.store(out_ptr + pid * 196 + q, out, q < 196)
    tl.store(idx_ptr + pid * 196 + q, arg, q < 196)


@_jit
def conv2_pool(p1_ptr, w_ptr, b_ptr, out_ptr, idx_ptr):
    # program b * 16 + oc: the 5 x 5 pooled positions, stored in x.view(-1, 400)'s order
    pid = tl.program_id(0)
    oc = pid % 16
    q = tl.arange(0, 32)
    img = p1_ptr + (pid // 16) * 1176
    out, arg = _conv_relu_pool(img, w_ptr + oc * 150, tl.load(b_ptr + oc), q, 6, 14, 5, 256)
    tl.store(out_ptr + pid * 25 + q, out, q < 25)
    tl.store(idx_ptr + pid * 25 + q, arg, q < 25)


@_jit
def _fc_relu(
    h_ptr, w_ptr, c_ptr, out_ptr, B, N: tl.constexpr, K: tl.constexpr,
    BR: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr,
):  # fmt: skip
    """out = ReLU(h @ w.T + c) for a block of BN of the N outputs and BR of the B rows
    (program ids 0 and 1); w is (N, K), read along its rows (coalesced). Products are
    summed elementwise over K in chunks of BK, and reduced once."""
    n = tl.program_id(0) * BN + tl.arange(0, BN)
    nm = n < N
    rows = tl.program_id(1) * BR + tl.arange(0, BR)
    rm = rows < B
    acc = tl.zeros([BR, BN, BK], tl.float32)
    for k0 in range(0, K, BK):
        kk = k0 + tl.arange(0, BK)
        km = kk < K
        h = tl.load(h_ptr + rows[:, None] * K + kk[None, :], rm[:, None] & km[None, :], 0.0)
        w = tl.load(w_ptr + n[:, None] * K + kk[None, :], nm[:, None] & km[None, :], 0.0)
        acc += h[:, None, :] * w[None, :, :]
    z = tl.sum(acc, axis=2) + tl.load(c_ptr + n, nm, 0.0)[None, :]
    ok = rm[:, None] & nm[None, :]
    tl.store(out_ptr + rows[:, None] * N + n[None, :], tl.maximum(z, 0.0), ok)


@_jit
def fc1_forward(
    p2_ptr, f1_ptr, c1_ptr, h1_ptr, B: tl.constexpr, BR: tl.constexpr, BN: tl.constexpr
):
    # program (block of BN of fc1's 120 outputs, block of BR rows)
    _fc_relu(p2_ptr, f1_ptr, c1_ptr, h1_ptr, B, 120, 400, BR, BN, 128)


@_jit
def fc2_forward(
    h1_ptr, f2_ptr, c2_ptr, h2_ptr, B: tl.constexpr, BR: tl.constexpr, BN: tl.constexpr
):
    # program (block of BN of fc2's 84 outputs, block of BR rows)
    _fc_relu(h1_ptr, f2_ptr, c2_ptr, h2_ptr, B, 84, 120, BR, BN, 128)


@_jit
def fc3_loss(
    h2_ptr,
    y_ptr,
    f3_ptr,
    c3_ptr,
    mf3_ptr,
    mc3_ptr,
    dz2_ptr,
    loss_ptr,
    B: tl.constexpr,
    lr,
    momentum,
    BR: tl.constexpr,
):
    # one program, BR rows at a time: fc3, cross-entropy (mean over the B rows), its
    # gradient dz3, back through fc3 and fc2's ReLU to dz2; then SGD for fc3
    m = tl.arange(0, 16)  # fc3's 10 outputs
    mm = m < 10
    j = tl.arange(0, 128)  # fc3's 84 inputs
    jm = j < 84
    at, ok = m[:, None] * 84 + j[None, :], mm[:, None] & jm[None, :]
    w = tl.load(f3_ptr + at, ok, 0.0)
    c = tl.load(c3_ptr + m, mm, 0.0)
    dw = tl.zeros([16, 128], tl.float32)
    dc = tl.zeros([16], tl.float32)
    losses = tl.zeros([BR], tl.float32)
    for r0 in range(0, B, BR):
        rows = r0 + tl.arange(0, BR)
        rm = rows < B
        hm = rm[:, None] & jm[None, :]
        h = tl.load(h2_ptr + rows[:, None] * 84 + j[None, :], hm, 0.0)
        z = tl.sum(h[:, None, :] * w[None, :, :], axis=2) + c[None, :]  # (BR, 16)
        logits = tl.where(mm[None, :], z, float("-inf"))
        top = tl.max(logits, axis=1)
        e = tl.exp(logits - top[:, None])
        s = tl.sum(e, axis=1)
        onehot = m[None, :] == tl.load(y_ptr + rows, rm, 0).to(tl.int32)[:, None]
        picked = tl.sum(tl.where(onehot, z, 0.0), axis=1)
        losses += tl.where(rm, top + tl.log(s) - picked, 0.0)
        dz3 = (e / s[:, None] - onehot.to(tl.float32)) / B
        dz3 = tl.where(rm[:, None] & mm[None, :], dz3, 0.0)
        dh2 = tl.sum(dz3[:, :, None] * w[None, :, :], axis=1)  # (BR, 128), old weights
        tl.store(dz2_ptr + rows[:, None] * 84 + j[None, :], tl.where(h > 0.0, dh2, 0.0), hm)
        dw += tl.sum(dz3[:, :, None] * h[:, None, :], axis=0)
        dc += tl.sum(dz3, axis=0)
    tl.store(loss_ptr, tl.sum(losses, axis=0) / B)
    tl.debug_barrier()  # every thread has read the old weights before any is written
    _sgd(f3_ptr, mf3_ptr, at, ok, dw, lr, momentum)
    _sgd(c3_ptr, mc3_ptr, m, mm, dc, lr, momentum)


@_jit
def fc2_backward(
    h1_ptr,
    dz2_ptr,
    f2_ptr,
    c2_ptr,
    mf2_ptr,
    mc2_ptr,
    dz1_ptr,
    B: tl.constexpr,
    lr,
    momentum,
    BR: tl.constexpr,
    BK: tl.constexpr,
):
    # program: a block of BK of fc2's 120 inputs (columns of f2), all rows, BR at a time:
    # dz1 for those columns (through fc1's ReLU), their weight gradient and SGD update
    # (each program reads and writes only its own columns); program 0 also fc2's bias
    kk = tl.program_id(0) * BK + tl.arange(0, BK)
    km = kk < 120
    j = tl.arange(0, 128)  # fc2's 84 outputs
    jm = j < 84
    at, ok = j[:, None] * 120 + kk[None, :], jm[:, None] & km[None, :]
    w = tl.load(f2_ptr + at, ok, 0.0)
    dw = tl.zeros([128, BK], tl.float32)
    dc = tl.zeros([128], tl.float32)
    for r0 in range(0, B, BR):
        rows = r0 + tl.arange(0, BR)
        rm = rows < B
        g = tl.load(dz2_ptr + rows[:, None] * 84 + j[None, :], rm[:, None] & jm[None, :], 0.0)
        hm = rm[:, None] & km[None, :]
        h = tl.load(h1_ptr + rows[:, None] * 120 + kk[None, :], hm, 0.0)
        dh = tl.sum(g[:, :, None] * w[None, :, :], axis=1)  # (BR, BK), old weights
        tl.store(dz1_ptr + rows[:, None] * 120 + kk[None, :], tl.where(h > 0.0, dh, 0.0), hm)
        dw += tl.sum(g[:, :, None] * h[:, None, :], axis=0)
        dc += tl.sum(g, axis=0)
    tl.debug_barrier()  # every thread has read the old weights before any is written
    _sgd(f2_ptr, mf2_ptr, at, ok, dw, lr, momentum)
    if tl.program_id(0) == 0:
        _sgd(c2_ptr, mc2_ptr, j, jm, dc, lr, momentum)


@_jit
def fc1_backward(
    p2_ptr,
    idx2_ptr,
    dz1_ptr,
    f1_ptr,
    c1_ptr,
    mf1_ptr,
    mc1_ptr,
    g2_ptr,
    dy2_ptr,
    B: tl.constexpr,
    lr,
    momentum,
    BB: tl.constexpr,
    BK: tl.constexpr,
):
    # program: a block of BK of fc1's 400 inputs (columns of f1)
    kk = tl.program_id(0) * BK + tl.arange(0, BK)
    km = kk < 400
    rows = tl.arange(0, BB)
    rm = rows < B
    n = tl.arange(0, 128)
    nm = n < 120
    dz1 = tl.load(dz1_ptr + rows[:, None] * 120 + n[None, :], rm[:, None] & nm[None, :], 0.0)
    h0 = tl.load(p2_ptr + rows[:, None] * 400 + kk[None, :], rm[:, None] & km[None, :], 0.0)
    wm = nm[:, None] & km[None, :]
    at = n[:, None] * 400 + kk[None, :]
    w = tl.load(f1_ptr + at, wm, 0.0)
    dp2 = tl.dot(dz1, w, input_precision="ieee")  # (BB, BK), old weights
    grad = tl.dot(tl.trans(dz1), h0, input_precision="ieee")  # (128, BK)
    tl.debug_barrier()  # every thread has read its old weights before any is written
    _sgd(f1_ptr, mf1_ptr, at, wm, grad, lr, momentum)
    if tl.program_id(0) == 0:
        _sgd(c1_ptr, mc1_ptr, n, nm, tl.sum(dz1, axis=0), lr, momentum)
    # through ReLU + pool2: the gradient reaches conv2's output at the argmax only
    m2 = rm[:, None] & km[None, :]
    at = rows[:, None] * 400 + kk[None, :]
    idx = tl.load(idx2_ptr + at, m2, -1)
    tl.store(g2_ptr + at, tl.where(idx >= 0, dp2, 0.0), m2)  # compact, for conv_dweight
    oc = kk // 25
    ph = (kk % 25) // 5
    pw = kk % 5
    for d in tl.static_range(4):  # dense (B, 16, 10, 10), every element written
        dense = oc * 100 + (2 * ph + d // 2) * 10 + 2 * pw + d % 2
        tl.store(dy2_ptr + rows[:, None] * 1600 + dense[None, :], tl.where(idx == d, dp2, 0.0), m2)


@_jit
def conv2_dinput(dy2_ptr, w2_ptr, idx1_ptr, g1_ptr, BLOCK_P: tl.constexpr):
    # program (b * 6 + c, block of the 14 x 14 positions of pool1's output)
    pid = tl.program_id(0)
    b = pid // 6
    c = pid % 6
    q = tl.program_id(1) * BLOCK_P + tl.arange(0, BLOCK_P)
    qm = q < 196
    t = tl.arange(0, 32)
    tm = t < 25
    u = (q // 14)[:, None] - (t // 5)[None, :]
    v = (q % 14)[:, None] - (t % 5)[None, :]
    ok = qm[:, None] & tm[None, :] & (u >= 0) & (u < 10) & (v >= 0) & (v < 10)
    # products summed elementwise, reduced across taps once at the end: no barrier in the
    # unrolled loop, so its 16 gathers can be in flight together
    acc2 = tl.zeros([BLOCK_P, 32], tl.float32)
    for oc in tl.static_range(16):
        dy = tl.load(dy2_ptr + b * 1600 + oc * 100 + u * 10 + v, ok, 0.0)
        w = tl.load(w2_ptr + oc * 150 + c * 25 + t, tm, 0.0)
        acc2 += dy * w[None, :]
    acc = tl.sum(acc2, axis=1)
    at = pid * 196 + q
    idx = tl.load(idx1_ptr + at, qm, -1)
    tl.store(g1_ptr + at, tl.where(idx >= 0, acc, 0.0), qm)  # through ReLU + pool1


@_jit
def conv_dweight(
    x_ptr,
    p1_ptr,
    g1_ptr,
    idx1_ptr,
    g2_ptr,
    idx2_ptr,
    w1_ptr,
    b1_ptr,
    w2_ptr,
    b2_ptr,
    mw1_ptr,
    mb1_ptr,
    mw2_ptr,
    mb2_ptr,
    B: tl.constexpr,
    lr,
    momentum,
    BLOCK_E2: tl.constexpr,
    BLOCK_E1: tl.constexpr,
):
    # programs 0..15: conv2's output channels; 16..33: conv1's (output, input) channel pairs
    pid = tl.program_id(0)
    if pid < 16:
        _conv_dweight(
            p1_ptr,
            g2_ptr,
            idx2_ptr,
            w2_ptr,
            b2_ptr,
            mw2_ptr,
            mb2_ptr,
            pid,
            0,
            lr,
            momentum,
            B,
            16,
            6,
            6,
            14,
            5,
            256,
            BLOCK_E2,
        )
    else:
        _conv_dweight(
            x_ptr, g1_ptr, idx1_ptr, w1_ptr, b1_ptr, mw1_ptr, mb1_ptr, (pid - 16) // 3,
            (pid - 16) % 3, lr, momentum, B, 6, 3, 1, 32, 14, 32, BLOCK_E1,
        )  # fmt: skip


@_jit
def _conv_dweight(
    img_ptr,
    g_ptr,
    idx_ptr,
    w_ptr,
    b_ptr,
    mw_ptr,
    mb_ptr,
    oc,
    c0,
    lr,
    momentum,
    B: tl.constexpr,
    OUT_C: tl.constexpr,
    IN_C: tl.constexpr,
    C: tl.constexpr,
    WIDTH: tl.constexpr,
    POOLED: tl.constexpr,
    TAPS: tl.constexpr,
    BLOCK_E: tl.constexpr,
):
    """Weight gradient of a 5x5 conv (IN_C -> OUT_C channels, WIDTH-wide input) that ReLU and a
    2x2 pool follow, for output channel ``oc`` and input channels c0 .. c0 + C - 1, then its
    SGD update (and the bias's, in the program with c0 == 0): dW[oc, c, kh, kw] = the sum,
    over the B x POOLED x POOLED pooled positions whose argmax (u, v) passes a gradient g,
    of g * img[b, c, u + kh, v + kw]. Positions in chunks of BLOCK_E; the products are
    summed elementwise and reduced once, after the loop."""
    t = tl.arange(0, TAPS)  # c * 25 + kh * 5 + kw, for the C channels from c0
    tm = t < C * 25
    tap = (c0 + t // 25) * WIDTH * WIDTH + ((t % 25) // 5) * WIDTH + t % 5
    n = POOLED * POOLED
    dw = tl.zeros([TAPS, BLOCK_E], tl.float32)
    db = tl.zeros([BLOCK_E], tl.float32)
    for e0 in range(0, B * POOLED * POOLED, BLOCK_E):  # constexprs (Triton 3.5's interpreter)
        e = e0 + tl.arange(0, BLOCK_E)
        b = e // n
        q = e % n
        at = (b * OUT_C + oc) * n + q
        idx = tl.load(idx_ptr + at, e < B * n, -1)
        ok = idx >= 0
        g = tl.load(g_ptr + at, ok, 0.0)
        u = 2 * (q // POOLED) + idx // 2
        v = 2 * (q % POOLED) + idx % 2
        corner = b * IN_C * WIDTH * WIDTH + u * WIDTH + v
        a = tl.load(img_ptr + corner[None, :] + tap[:, None], tm[:, None] & ok[None, :], 0.0)
        dw += a * g[None, :]
        db += g
    _sgd(w_ptr, mw_ptr, oc * IN_C * 25 + c0 * 25 + t, tm, tl.sum(dw, axis=1), lr, momentum)
    if c0 == 0:
        _sgd1(b_ptr + oc, mb_ptr + oc, tl.sum(db, axis=0), lr, momentum)


def check_batch(x: torch.Tensor, y: torch.Tensor, batch: int) -> None:
    """The kernels index raw memory: refuse anything but the layout they were written for."""
    want = (batch, 3, 32, 32)
    if tuple(x.shape) != want or x.dtype != torch.float32 or not x.is_contiguous():
        raise ValueError(
            f"FusedStep: expected contiguous float32 images shaped {want}, "
            f"got {x.dtype} {tuple(x.shape)}{'' if x.is_contiguous() else ' (not contiguous)'}"
        )
    if tuple(y.shape) != (batch,) or y.dtype != torch.int64 or y.device != x.device:
        raise ValueError(
            f"FusedStep: expected int64 labels shaped ({batch},) on {x.device}, "
            f"got {y.dtype} {tuple(y.shape)} on {y.device}"
        )


#: Warps per kernel: picked from ptxas' resource usage for sm_90 (no spills, or the least
#: stack; see compile_for_gpu). ``python -m benchmarks.kernels_cli sweep`` times the
#: alternatives on a GPU. On an H200 (2026-11-27) no change of any kernel's warps moved the
#: step by more than 0.4 us (38.2-38.6 us per step; the six-kernel version before it, 0.3
#: us), so these stay. In the first sweep 16 warps for ``conv2_dinput`` and
#: ``conv_dweight`` failed inside the graph capture ("operation failed due to a previous
#: error during capture"; the sweep reported it and went on); in the second they ran —
#: cause not established.
WARPS = {
    "conv1_pool": 4,
    "conv2_pool": 4,
    "fc1_forward": 4,
    "fc2_forward": 4,
    "fc3_loss": 8,
    "fc2_backward": 4,
    "fc1_backward": 2,
    "conv2_dinput": 4,
    "conv_dweight": 8,
}


def plan(
    batch: int, gpu: bool = True, warps: dict[str, int] | None = None
) -> dict[str, tuple[tuple[int, ...], dict, int]]:
    """Each kernel's grid, compile-time constants and warps (``WARPS``, with the
    overrides in ``warps``), in launch order.
    In the interpreter (``gpu=False``) the conv kernels take one program per (image,
    channel), not 4, and the fc kernels one block of outputs or columns: each program
    costs ~30 ms of Python there; the GPU runs check the GPU's tiling. The fc blocks hold
    1 row there, not 4, so that their loops over row blocks turn on the CPU too."""
    bb = max(16, triton.next_power_of_2(batch))
    block_p = 64 if gpu else 256
    positions = triton.cdiv(196, block_p)
    rows, cols = (4, 8) if gpu else (1, 128)  # an fc block: rows x outputs (or columns)
    row_blocks = triton.cdiv(batch, rows)
    shapes = {
        "conv1_pool": ((batch * 6, positions), {"BLOCK_P": block_p}),
        "conv2_pool": ((batch * 16,), {}),
        "fc1_forward": ((triton.cdiv(120, cols), row_blocks), {"B": batch, "BR": rows, "BN": cols}),
        "fc2_forward": ((triton.cdiv(84, cols), row_blocks), {"B": batch, "BR": rows, "BN": cols}),
        "fc3_loss": ((1,), {"B": batch, "BR": rows}),
        "fc2_backward": ((triton.cdiv(120, 2 * cols),), {"B": batch, "BR": rows, "BK": 2 * cols}),
        "fc1_backward": ((triton.cdiv(400, 16),), {"B": batch, "BB": bb, "BK": 16}),
        "conv2_dinput": ((batch * 6, positions), {"BLOCK_P": block_p}),
        "conv_dweight": ((16 + 18,), {"B": batch, "BLOCK_E2": 128, "BLOCK_E1": 256}),
    }
    chosen = {**WARPS, **(warps or {})}
    return {name: (grid, constants, chosen[name]) for name, (grid, constants) in shapes.items()}


def compile_for_gpu(capability: int = 90, batch: int = 4, names=None, warps=None) -> dict:
    """Compile every kernel to a cubin for an NVIDIA GPU of compute ``capability`` (90:
    H100/H200) — no GPU needed: Triton ships its compiler and ptxas. What the CPU suite
    uses to catch what the interpreter lets through (Triton's typing of if/else, dot
    shapes). Argument types follow the names: ``idx*`` int32, ``y_ptr`` int64 labels,
    other pointers float32, ``lr``/``momentum`` float32; the batch ``B`` is a compile-time
    constant (one FusedStep, one batch size: masks and loop bounds fold away). ``names``:
    the kernels to build (default all six)."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    def kind(name: str) -> str:
        if name == "y_ptr":
            return "*i64"
        if name.endswith("_ptr"):
            return "*i32" if name.startswith("idx") else "*fp32"
        return {"lr": "fp32", "momentum": "fp32"}[name]

    out = {}
    for name, (_, constants, num_warps) in plan(batch, warps=warps).items():
        if names is not None and name not in names:
            continue
        fn = globals()[name]
        signature = {a: "constexpr" if a in constants else kind(a) for a in fn.arg_names}
        source = ASTSource(
            fn=fn,
            signature=signature,
            constexprs={(fn.arg_names.index(k),): v for k, v in constants.items()},
        )
        out[name] = triton.compile(
            source, target=GPUTarget("cuda", capability, 32), options={"num_warps": num_warps}
        )
    return out


# --------------------------------------------------------------------- the step
class FusedStep:
    """One training step of the note's CIFAR Net, done by the nine kernels: updates
    ``net``'s parameters in place and keeps SGD's momentum buffers in ``state`` (laid
    out like ``torch.optim.SGD.state``). Call it as ``loss = step(x, y)``."""

    PARAMS = ("conv1", "conv2", "fc1", "fc2", "fc3")

    def __init__(
        self,
        net: torch.nn.Module,
        lr: float,
        momentum: float,
        batch: int,
        warps: dict[str, int] | None = None,
    ):
        why = available()
        if why:
            raise RuntimeError(f"the hand-written kernels need Triton: {why}")
        if not 1 <= batch <= MAX_BATCH:
            raise ValueError(f"FusedStep: expected a batch of 1 to {MAX_BATCH}, got {batch}")
        self.net, self.lr, self.momentum, self.batch = net, float(lr), float(momentum), batch
        self.params = []
        for name in self.PARAMS:
            layer = getattr(net, name)
            self.params += [layer.weight, layer.bias]
        for p in self.params:
            if p.dtype != torch.float32 or not p.is_contiguous():
                raise ValueError("FusedStep: expected contiguous float32 parameters")
        dev = self.params[0].device
        if dev.type != "cuda" and not interpreting():
            raise RuntimeError(
                f"FusedStep on {dev}: off the GPU the kernels run only in Triton's "
                "interpreter; set TRITON_INTERPRET=1 before triton is imported "
                "(python -m benchmarks.kernels_cli interpret does)"
            )
        self.state = {p: {"momentum_buffer": torch.zeros_like(p)} for p in self.params}
        f32 = {"device": dev, "dtype": torch.float32}
        i32 = {"device": dev, "dtype": torch.int32}
        self.p1 = torch.empty(batch, 6, 14, 14, **f32)
        self.idx1 = torch.empty(batch, 6, 14, 14, **i32)
        self.p2 = torch.empty(batch, 400, **f32)
        self.idx2 = torch.empty(batch, 400, **i32)
        self.h1 = torch.empty(batch, 120, **f32)
        self.h2 = torch.empty(batch, 84, **f32)
        self.dz2 = torch.empty(batch, 84, **f32)
        self.dz1 = torch.empty(batch, 120, **f32)
        self.g2 = torch.empty(batch, 400, **f32)
        self.dy2 = torch.empty(batch, 16, 10, 10, **f32)
        self.g1 = torch.empty(batch, 6, 14, 14, **f32)
        self.loss = torch.empty((), **f32)
        self.plan = plan(batch, gpu=dev.type == "cuda", warps=warps)

    @classmethod
    def from_optimizer(
        cls,
        net: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        batch: int,
        warps: dict[str, int] | None = None,
    ):
        """The step for ``optimizer``'s hyperparameters — refused unless it is plain SGD
        with momentum over exactly ``net``'s parameters, the only optimizer written here."""
        lr, momentum = plain_sgd.hyperparameters(net, optimizer)
        return cls(net, lr, momentum, batch, warps)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Nothing to do: the kernels keep gradients in scratch buffers, not in ``.grad``."""

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        check_batch(x, y, self.batch)
        w1, b1, w2, b2, f1, c1, f2, c2, f3, c3 = self.params
        m = [self.state[p]["momentum_buffer"] for p in self.params]
        sgd = {"lr": self.lr, "momentum": self.momentum}
        args = {
            "conv1_pool": (x, w1, b1, self.p1, self.idx1),
            "conv2_pool": (self.p1, w2, b2, self.p2, self.idx2),
            "fc1_forward": (self.p2, f1, c1, self.h1),
            "fc2_forward": (self.h1, f2, c2, self.h2),
            "fc3_loss": (self.h2, y, f3, c3, m[8], m[9], self.dz2, self.loss),
            "fc2_backward": (self.h1, self.dz2, f2, c2, m[6], m[7], self.dz1),
            "fc1_backward": (self.p2, self.idx2, self.dz1, f1, c1, m[4], m[5], self.g2, self.dy2),
            "conv2_dinput": (self.dy2, w2, self.idx1, self.g1),
            "conv_dweight": (
                x, self.p1, self.g1, self.idx1, self.g2, self.idx2, w1, b1, w2, b2, *m[:4]
            ),
        }  # fmt: skip
        for name, (grid, constants, warps) in self.plan.items():
            kernel = globals()[name]
            extra = sgd if "lr" in kernel.arg_names else {}
            kernel[grid](*args[name], **constants, **extra, num_warps=warps)
        return self.loss
