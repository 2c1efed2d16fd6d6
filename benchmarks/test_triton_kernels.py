"""The hand-written Triton kernels the benchmarks time: the note's batch-4 step as nine
kernels (``benchmarks/lenet_triton.py``, variants ``triton`` / ``triton_graph``) and the
CIFAR Net's conv + ReLU + pool layers for large batches (``benchmarks/lenet_triton_conv.py``,
option ``+tconv``), each checked against PyTorch.

Without a GPU the kernels run in Triton's interpreter (NumPy), which must be switched on
before triton is imported: one process of its own runs both sets (``interpreted``) and
the tests compare what it saved with PyTorch's layers in float64 and with the note's
eager loop. Every kernel is also compiled to an sm_90 cubin, which catches what the
interpreter lets through. On the GPU host the CUDA tests run the same comparisons with
the GPU's tiles; ``test_training_core`` checks each case's trajectory again before timing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from benchmarks import cores, kernels_cli, lenet_triton, lenet_triton_conv
from reference import cifar10
from spec.helpers import once
from spec.helpers.devices import needs_cuda

ROOT = Path(__file__).resolve().parents[1]
BATCH, STEPS = 2, 2  # what the interpreter runs: every padded block partly masked

needs_triton = pytest.mark.skipif(
    lenet_triton.available() is not None, reason=f"{lenet_triton.available()}"
)

_INTERPRET = """
import sys
from benchmarks import kernels_cli
steps, batch, step_out, tconv_out = sys.argv[1:]
common = ["--steps", steps, "--batch", batch]
sys.exit(
    kernels_cli.main(["interpret", *common, "--out", step_out])
    or kernels_cli.main(["check", *common, "--out", tconv_out])
)
"""


@pytest.fixture(scope="module")
def interpreted(tmp_path_factory) -> dict:
    """Both sets of kernels in Triton's interpreter, in one process (one import of torch
    and triton, ~5 s, instead of two): ``python -m benchmarks.kernels_cli interpret``
    (the batch-4 step: weights and losses after STEPS steps) and ``python -m
    benchmarks.kernels_cli check`` (each conv layer's outputs and gradients, and
    STEPS steps of ``eager+tconv``). Returns {"step": ..., "tconv": ...}, as saved."""

    def run(out: Path) -> None:
        cmd = [sys.executable, "-c", _INTERPRET, str(STEPS), str(BATCH)]
        cmd += [str(out / "step.pt"), str(out / "tconv.pt")]
        env = {**os.environ, "TRITON_INTERPRET": "1"}
        subprocess.run(cmd, check=True, env=env, cwd=ROOT, timeout=600)

    # once per run: under pytest-xdist the module's tests may be on two workers
    out = once.shared_folder(tmp_path_factory, "triton-interpreted", run)
    files = {"step": out / "step.pt", "tconv": out / "tconv.pt"}
    return {name: torch.load(path) for name, path in files.items()}


# ------------------------------------------------- the note's batch-4 step (lenet_triton)
@pytest.mark.slow
@needs_triton
def test_the_hand_written_step_follows_the_notes_trajectory_in_tritons_interpreter(interpreted):
    """The ``triton`` variant — the note's step (Net, CrossEntropyLoss, SGD(lr=0.001,
    momentum=0.9)) as nine Triton kernels — ends 2 steps where the note's loop ends.

    Batch 2 (every padded block partly masked, fc1_backward's 16 rows mostly; the other
    fc kernels take one row per block here, so their loops over row blocks turn) and 2
    steps, so that the momentum buffers are read back; the GPU runs check batch 4 and 3."""
    got = interpreted["step"]
    core = cores.cifar_core(BATCH)
    batches = cores.make_batches(core, STEPS)
    note = cores.runner(core, "eager", "cpu", batches)
    losses = [note.step(x, y).item() for x, y in batches]
    # float32 sums in another order than PyTorch's CPU kernels: rounding, not bits
    torch.testing.assert_close(got["weights"], note.weights(), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(got["losses"], losses, rtol=1e-6, atol=0)


@pytest.mark.slow
@needs_triton
@pytest.mark.parametrize("kernel", list(lenet_triton.WARPS))
def test_the_hand_written_kernels_compile_for_an_h100(kernel):
    """What the interpreter lets through and the GPU compiler refuses (Triton's typing of
    branches, tl.dot's shapes) fails here, on a machine without a GPU: Triton ships its
    compiler and ptxas, so every kernel is built to a cubin for sm_90 (H100/H200).
    Triton's own cache (~/.triton) is keyed by the kernels' source: an edit compiles
    again (1-3 s per kernel here), an unchanged kernel is read back."""
    compiled = lenet_triton.compile_for_gpu(capability=90, batch=4, names=[kernel])
    assert list(compiled) == [kernel]
    assert compiled[kernel].asm["cubin"]
    assert ".target sm_90" in compiled[kernel].asm["ptx"]
    assert compiled[kernel].metadata.num_warps == lenet_triton.plan(4)[kernel][2]


@needs_cuda
@needs_triton
def test_the_hand_written_step_follows_the_notes_trajectory_on_cuda():
    """The compiled kernels on the GPU, at the note's batch (4) and at 3, 3 steps each:
    the weights of the note's eager loop on the CPU (its float32 rounding, not its bits)."""
    for batch in (4, 3):
        core = cores.cifar_core(batch)
        batches = cores.make_batches(core, 3)
        note = cores.runner(core, "eager", "cpu", batches)
        run = cores.runner(core, "triton", "cuda", batches)
        note.run(3)
        run.run(3)
        torch.testing.assert_close(run.weights(), note.weights(), rtol=1e-5, atol=1e-7)


def test_the_hand_written_variants_take_no_options_and_only_the_cifar_net():
    """The kernels are float32, contiguous and plain SGD for the note's CIFAR Net: options
    and other cores are refused by name; ``triton_graph`` captures, so it needs CUDA."""
    with pytest.raises(ValueError, match="expected 'triton' with no options"):
        cores.Variant.parse("triton+bf16")
    with pytest.raises(ValueError, match="written for the CIFAR Net"):
        cores.Runner(cores.mlp_core(), "triton", torch.device("cpu"))
    with pytest.raises(ValueError, match="needs a cuda device"):
        cores.Runner(cores.cifar_core(4), "triton_graph", torch.device("cpu"))


@needs_triton
def test_the_hand_written_step_refuses_what_it_was_not_written_for():
    """Raw-memory kernels: every other optimizer, batch or layout gets an error naming
    what was expected, before anything is launched."""
    net = cifar10.Net()
    adam = torch.optim.Adam(net.parameters())
    with pytest.raises(ValueError, match=r"expected SGD\(lr, momentum\)"):
        lenet_triton.FusedStep.from_optimizer(net, adam, 4)
    nesterov = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match="no dampening, nesterov"):
        lenet_triton.FusedStep.from_optimizer(net, nesterov, 4)
    with pytest.raises(ValueError, match="a batch of 1 to 64, got 65"):
        lenet_triton.FusedStep(net, 0.1, 0.9, 65)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    lenet_triton.check_batch(x, y, 4)
    with pytest.raises(
        ValueError, match=r"images shaped \(4, 3, 32, 32\), got .* \(4, 32, 32, 3\)"
    ):
        lenet_triton.check_batch(x.permute(0, 2, 3, 1).contiguous(), y, 4)
    with pytest.raises(ValueError, match="not contiguous"):
        lenet_triton.check_batch(x.transpose(2, 3), y, 4)
    with pytest.raises(ValueError, match=r"int64 labels shaped \(4,\)"):
        lenet_triton.check_batch(x, y.int(), 4)
    if not lenet_triton.interpreting():
        with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
            lenet_triton.FusedStep(net, 0.1, 0.9, 4)


@needs_triton
def test_the_warps_sweep_and_the_interpreter_run_say_what_they_need(capsys):
    """The kernels' commands refuse, with the reason, where they cannot run."""
    if not torch.cuda.is_available():
        assert kernels_cli.main(["sweep"]) == 2
        assert "needs CUDA" in capsys.readouterr().err
        assert kernels_cli.main(["sweep-tconv"]) == 2
        assert "needs CUDA" in capsys.readouterr().err
    if not lenet_triton.interpreting():
        assert kernels_cli.main(["interpret", "--out", "unused.pt"]) == 2
        assert "TRITON_INTERPRET=1" in capsys.readouterr().err


# ------------------------------------------- the conv layers for large batches (+tconv)
def pytorch_layer(x, w, b):
    """The note's ``self.pool(F.relu(self.conv1(x)))``, in PyTorch's own ops."""
    return F.max_pool2d(F.relu(F.conv2d(x, w, b)), 2)


def reference_grads(layer: dict, routed_by: torch.Tensor | None = None):
    """Float64 gradients of (x if it needs one, w, b) for the saved output gradient. With
    ``routed_by`` (an argmax as the kernels store it), the pool's routing is taken from
    there instead of recomputed: for bf16, whose rounding may move a near-tie."""
    x, w, b, gy = (layer[k].double() for k in ("x", "w", "b", "gy"))
    wants_x = len(layer["grads"]) == 3
    if routed_by is None:
        x, w, b = (t.requires_grad_() for t in (x, w, b))
        y = pytorch_layer(x, w, b)
        return list(torch.autograd.grad(y, [x, w, b] if wants_x else [w, b], gy))
    dz = torch.zeros(gy.shape[0], gy.shape[1], 2 * gy.shape[2], 2 * gy.shape[3]).double()
    for d in range(4):
        dz[:, :, d // 2 :: 2, d % 2 :: 2] = torch.where(routed_by == d, gy, 0.0)
    grads = [
        torch.nn.grad.conv2d_weight(x, w.shape, dz),
        dz.sum((0, 2, 3)),
    ]
    if wants_x:
        grads.insert(0, torch.nn.grad.conv2d_input(x.shape, w, dz))
    return grads


def rel_norm(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got.double() - want).norm() / want.norm()).item()


@pytest.mark.slow
@needs_triton
@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_each_conv_layer_is_pytorchs_conv_relu_pool_in_float32(interpreted, layer):
    """The note's ``self.pool(F.relu(self.conv1(x)))`` (and conv2's): output and
    gradients of x (conv2: conv1's pooled output), weight and bias, against PyTorch's
    layers in float64."""
    got = interpreted["tconv"]["layers"][f"{layer}-fp32"]
    x, w, b = (got[k].double() for k in ("x", "w", "b"))
    # float32 sums of 75-400 products in another order: rounding of values up to ~10
    torch.testing.assert_close(got["y"].double(), pytorch_layer(x, w, b), rtol=1e-5, atol=1e-5)
    for g, want in zip(got["grads"], reference_grads(got), strict=True):
        torch.testing.assert_close(g.double(), want, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@needs_triton
@pytest.mark.parametrize("data", ["fp32", "ties"])
@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_the_pool_routes_the_gradient_to_pytorchs_first_maximum(interpreted, layer, data):
    """``nn.MaxPool2d(2, 2)`` sends each window's gradient to its first maximum, and
    ReLU's gradient is 0 where the output is 0: the kernels keep one byte per pooled
    value, the window position 0..3 of PyTorch's ``return_indices``, -1 where y is 0.
    On random data, and on small integers, where sums are exact and windows hold two or
    more equal maxima (checked: over 3% of them; 6.9% and 7.5% here): the first wins."""
    got = interpreted["tconv"]["layers"][f"{layer}-{data}"]
    z = F.relu(F.conv2d(*(got[k].double() for k in ("x", "w", "b"))))
    y, index = F.max_pool2d(z, 2, return_indices=True)
    width = z.shape[-1]
    window = (index // width % 2) * 2 + index % 2
    want = torch.where(y > 0, window, -1).to(torch.int8)
    assert got["arg"].dtype == torch.int8
    torch.testing.assert_close(got["arg"], want, rtol=0, atol=0)
    if data == "ties":
        at = torch.stack([z[..., d // 2 :: 2, d % 2 :: 2] for d in range(4)])  # (4, *y.shape)
        tied = ((at == y).sum(0) > 1) & (y > 0)
        assert tied.float().mean() > 0.03, "the data should tie in many windows"
        # the routing decides which conv output each gradient reaches: PyTorch's, exactly;
        # the values are float32 sums of the (random) output gradient, hence the tolerance
        for g, want_grad in zip(got["grads"], reference_grads(got), strict=True):
            torch.testing.assert_close(g.double(), want_grad, rtol=1e-5, atol=1e-5)


@pytest.mark.slow
@needs_triton
@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_under_bf16_autocast_the_gemm_operands_are_rounded_to_bfloat16(interpreted, layer):
    """With bf16 the kernels take bfloat16 operands and accumulate in float32, as cuDNN
    does under autocast: the output is off the exact one by bfloat16 rounding (8 bits of
    mantissa: ~0.1-1% in norm) — no less, or the bf16 path was not taken, and no more.
    Gradients, with the pool's routing the kernels chose, within bfloat16 rounding too."""
    got = interpreted["tconv"]["layers"][f"{layer}-bf16"]
    x, w, b = (got[k].double() for k in ("x", "w", "b"))
    assert 1e-4 < rel_norm(got["y"], pytorch_layer(x, w, b)) < 2e-2
    for g, want in zip(got["grads"], reference_grads(got, got["arg"]), strict=True):
        assert rel_norm(g, want) < 2e-2


@pytest.mark.slow
@needs_triton
def test_the_tconv_variant_follows_the_notes_trajectory(interpreted):
    """Two steps of the note's loop (Net, CrossEntropyLoss, SGD(lr=0.001, momentum=0.9))
    with the conv layers on the kernels end where the plain eager loop ends. (bf16: the
    layers above here; its trajectory on the GPU, before each bf16 case is timed.)"""
    core = cores.cifar_core(BATCH)
    note = cores.runner(core, "eager", "cpu", cores.make_batches(core, STEPS))
    note.run(STEPS)
    got = interpreted["tconv"]["trajectory"]
    # float32 sums in another order than PyTorch's CPU kernels: rounding, not bits
    torch.testing.assert_close(got, note.weights(), rtol=1e-5, atol=1e-7)


@pytest.mark.slow
@needs_triton
@pytest.mark.parametrize(
    ("kernel", "layer", "precision"),
    [
        ("conv_pool_forward", "conv1", "bf16"),
        ("conv_pool_dweight", "conv2", "bf16"),
        ("conv_pool_dpatch", "conv2", "ieee"),
        ("conv_pool_dinput", "conv2", "ieee"),
    ],
)
def test_the_conv_kernels_compile_for_an_h100(kernel, layer, precision):
    """Each kernel with the GPU's tiles, built to an sm_90 cubin by Triton's own compiler
    and ptxas — what the interpreter lets through and the GPU compiler refuses fails
    here. Each kernel once, and each GEMM precision once: the layers differ only in
    compile-time shapes, bf16 and float32 ("ieee") only in the GEMM's operand type
    (~1 s per kernel uncached)."""
    which = [(kernel, layer, precision)]
    (compiled,) = lenet_triton_conv.compile_for_gpu(capability=90, which=which).values()
    assert compiled.asm["cubin"]
    assert ".target sm_90" in compiled.asm["ptx"]
    assert compiled.metadata.num_warps == lenet_triton_conv.GPU_TILES.config[kernel]["num_warps"]
    if precision == "bf16":  # the GEMM's operands in bfloat16 (tensor-core MMA)
        assert ".bf16" in compiled.asm["ptx"]


@pytest.mark.parametrize(
    "variant",
    ["compiled+tconv", "compiled_graph+tconv", "eager+tconv+channels_last", "graph+tconv+pad8"],
)
def test_tconv_is_refused_where_its_kernels_cannot_run(variant):
    """The kernels are autograd Functions over contiguous 3-channel images: torch.compile
    bases, channels_last and the 8-channel padding are refused, naming what works."""
    with pytest.raises(ValueError, match=r"\+tconv runs on one of \('eager', 'host', 'graph'\)"):
        cores.Variant.parse(variant)


def test_tconv_is_for_the_cifar_net_only():
    with pytest.raises(ValueError, match=r"\+tconv is for the CIFAR Net only"):
        cores.Runner(cores.mlp_core(), "eager+tconv", torch.device("cpu"))


@needs_triton
def test_the_conv_layer_refuses_what_it_was_not_written_for():
    """Raw-memory kernels: other shapes, dtypes and layouts get an error naming what was
    expected before anything is launched; off the GPU, only the interpreter runs them."""
    x, w, b = torch.randn(2, 3, 32, 32), torch.randn(6, 3, 5, 5), torch.randn(6)
    layer = lenet_triton_conv.conv_relu_pool
    with pytest.raises(ValueError, match=r"expected x of shape \(B, C, H, H\)"):
        layer(x[..., :31], w, b)
    with pytest.raises(ValueError, match=r"expected a weight of shape \(<= 16, 3, 5, 5\)"):
        layer(x, torch.randn(6, 3, 3, 3), b)
    with pytest.raises(ValueError, match=r"expected x contiguous float32, got torch\.float64"):
        layer(x.double(), w, b)
    with pytest.raises(ValueError, match="not contiguous"):
        layer(x.transpose(2, 3), w, b)
    if not lenet_triton.interpreting():
        with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
            layer(x, w, b)
        assert kernels_cli.main(["check", "--out", "unused.pt"]) == 2


@needs_cuda
@needs_triton
@pytest.mark.parametrize("layer", ["conv1", "conv2"])
def test_each_conv_layer_on_cuda_is_pytorchs_layer(layer):
    """The GPU's tiles at batch 300 (ragged blocks; conv1: 58,800 pooled rows): float32
    against float64 within float32 rounding, bf16 within bfloat16 rounding with the
    routing the kernels chose (TF32 off: the float32 reference is exact float32)."""
    c, h, oc = lenet_triton_conv.LAYERS[layer]
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, c, h, h, generator=g)
    w, b = torch.randn(oc, c, 5, 5, generator=g) / 5, torch.randn(oc, generator=g) / 5
    gy = torch.randn(300, oc, (h - 4) // 2, (h - 4) // 2, generator=g)
    for bf16 in (False, True):
        xc, wc, bc = (t.cuda().requires_grad_() for t in (x, w, b))
        xc.requires_grad_(layer == "conv2")
        y, arg = lenet_triton_conv.forward_with_argmax(xc, wc, bc, bf16)
        grads = torch.autograd.grad(y, [t for t in (xc, wc, bc) if t.requires_grad], gy.cuda())
        saved = {"x": x, "w": w, "b": b, "gy": gy, "grads": grads}
        want_y = pytorch_layer(x.double(), w.double(), b.double())
        if bf16:
            assert 1e-4 < rel_norm(y.cpu(), want_y) < 2e-2
            for got, want in zip(grads, reference_grads(saved, arg.cpu()), strict=True):
                assert rel_norm(got.cpu(), want) < 2e-2
        else:
            torch.testing.assert_close(y.cpu().double(), want_y, rtol=1e-5, atol=1e-5)
            for got, want in zip(grads, reference_grads(saved), strict=True):
                # sums over 58,800 rows for conv1's weight: float32 rounding grows with them
                torch.testing.assert_close(got.cpu().double(), want, rtol=1e-4, atol=1e-4)
