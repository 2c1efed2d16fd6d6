"""Resume and determinism — a stopped run resumes bit-identically; seeded runs repeat exactly.

Beyond the note: the note never stops and resumes a run; this pins what a checkpoint must
hold for the resume to be exact.

The note's loop, copied into real work, gets interrupted: this chapter pins what a
checkpoint must hold for the resumed run to end exactly where the uninterrupted one does.
"""

import logging
import os
import subprocess
from pathlib import Path

import pytest
import torch

from spec.helpers import implementation, releases
from spec.helpers.data import write_cifar
from spec.helpers.devices import needs_cuda
from spec.helpers.implementation import Net, criterion, impl

#: The reference's own guarantees: the note never stops and resumes a run.
pytestmark = pytest.mark.extra

checkpoint = impl.checkpoint
cifar10 = impl.cifar10
examples = impl.examples
resume = impl.resume
update_weights = impl.update_weights


ROOT = Path(__file__).resolve().parents[2]
TOTAL, STOP = 30, 23  # 80 images in batches of 4: 20 steps per epoch, so STOP is mid-epoch 2


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume-data")
    return write_cifar(root, n_train=80, n_test=8)


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def uninterrupted(data):
    with torch.random.fork_rng():
        return resume.train_steps(data, TOTAL)


SEED = 7  # not train_steps' default 0: a run that ignored the checkpoint would show


def resume_command(data, *args) -> list[str]:
    return implementation.command("resume", str(data), "--steps", str(TOTAL), *args)


@pytest.mark.slow
def test_a_run_resumed_in_a_fresh_process_ends_bit_identical(data, tmp_path):
    """Stop after 23 of 30 steps in one Python process, resume in another: the weights equal the uninterrupted run's, bit for bit.

    The first run is the command line's ``main`` in this test's process, seeded with 7,
    stopping; the second a fresh ``python -m reference.resume`` resuming from its
    checkpoint (a run from scratch, under its default seed 0, would end elsewhere). The checkpoint holds model, optimizer (momentum buffers),
    torch/NumPy/Python RNG states, and the loader's generator state at the start of the
    epoch with the number of batches already used. It loads with weights_only=True.
    """
    with torch.random.fork_rng():
        uninterrupted = resume.train_steps(data, TOTAL, seed=SEED)
    stopped, final = tmp_path / "stopped.pth", tmp_path / "final.pth"
    threads = torch.get_num_threads()
    with torch.random.fork_rng():
        stop = ["--stop-after", str(STOP), "--seed", str(SEED), "--out", str(stopped)]
        assert resume.main([str(data), "--steps", str(TOTAL), *stop]) == 0
    torch.set_num_threads(threads)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = resume_command(data, "--resume", str(stopped), "--out", str(final))
    subprocess.run(command, cwd=ROOT, check=True, timeout=300, env=env)
    saved = checkpoint.load_checkpoint(stopped)
    assert (saved["loader"]["epoch"], saved["loader"]["batch_in_epoch"]) == (1, STOP - 20)
    assert saved["loader"]["step"] == STOP
    result = checkpoint.load_checkpoint(final)
    assert set(result) == {"model", "optimizer", "step"}
    assert same(result["model"], uninterrupted["model"])
    assert result["step"] == TOTAL
    with torch.random.fork_rng():
        from_scratch = resume.train_steps(data, TOTAL)
    assert not same(from_scratch["model"], uninterrupted["model"])  # the seed matters


def test_a_run_starts_from_the_nets_seeded_initialisation(data):
    """train_steps(seed=s) starts from the weights the CIFAR Net draws after torch.manual_seed(s)."""
    for seed in (None, 3):
        with torch.random.fork_rng():
            start = (
                resume.train_steps(data, 0)
                if seed is None
                else resume.train_steps(data, 0, seed=seed)
            )
            torch.manual_seed(0 if seed is None else seed)
            expected = cifar10.Net().state_dict()
        assert same(start["model"], expected), seed
        assert start["step"] == 0


def test_resuming_leaves_the_state_it_resumed_from_unchanged(data, uninterrupted):
    """A state resumed from twice ends where the uninterrupted run does both times: train_steps does not step its momentum buffers in place.

    ``Optimizer.load_state_dict`` keeps the tensors it is given: without a copy, the first
    resume would advance the momentum buffers of the caller's dict.
    """
    with torch.random.fork_rng():
        stopped = resume.train_steps(data, TOTAL, stop_after=STOP)
        ends = [resume.train_steps(data, TOTAL, resume_from=stopped)["model"] for _ in range(2)]
    assert same(ends[0], uninterrupted["model"])
    assert same(ends[1], uninterrupted["model"]), "the second resume from one state ended elsewhere"


def test_the_command_line_seeds_a_fresh_run_with_0_unless_told(data, tmp_path):
    """``python -m reference.resume DATA --steps 0 --out F`` saves the Net drawn after torch.manual_seed(0); ``--seed 3``, after manual_seed(3)."""
    threads = torch.get_num_threads()  # main() sets 1 thread, as its own process would
    for argv, seed in (([], 0), (["--seed", "3"], 3)):
        out = tmp_path / f"start-{seed}.pth"
        with torch.random.fork_rng():
            try:
                assert resume.main([str(data), "--steps", "0", "--out", str(out), *argv]) == 0
            finally:
                torch.set_num_threads(threads)
            torch.manual_seed(seed)
            expected = cifar10.Net().state_dict()
        assert same(checkpoint.load_checkpoint(out)["model"], expected), (argv, seed)


def test_the_resume_command_line_says_what_it_needs(capsys):
    """Its help names each argument; without the required ones it stops with one error line."""
    with pytest.raises(SystemExit) as done:
        resume.main(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python -m reference.resume [-h] --steps STEPS"), text
    assert text.endswith(
        "positional arguments: data directory holding cifar-10-batches-py/ options: -h, --help "
        "show this help message and exit --steps STEPS --stop-after STOP_AFTER --resume RESUME "
        "checkpoint written by an earlier --stop-after run --seed SEED seeds a run that does "
        "not resume --out OUT"
    ), text
    for argv, missing in (([], "data, --steps, --out"), (["d", "--steps", "3"], "--out")):
        with pytest.raises(SystemExit) as done:
            resume.main(argv)
        assert done.value.code == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert (
            last
            == f"python -m reference.resume: error: the following arguments are required: {missing}"
        )
    with pytest.raises(SystemExit):
        resume.main(["d", "--steps", "3", "--out", "o", "--stop-after", "x"])
    assert "invalid int value: 'x'" in capsys.readouterr().err


@pytest.mark.parametrize("forget", ["optimizer", "loader", "nothing"])
def test_each_part_of_the_checkpoint_is_needed(data, uninterrupted, forget):
    """Resuming without the optimizer state or the loader position ends elsewhere.

    The note saves only the model's state_dict: enough for inference, not to resume.
    """
    with torch.random.fork_rng():
        stopped = resume.train_steps(data, TOTAL, stop_after=STOP)
        if forget == "optimizer":
            stopped["optimizer"] = cifar10.make_criterion_and_optimizer(Net())[1].state_dict()
            stopped["optimizer"]["param_groups"][0]["params"] = list(range(10))
        elif forget == "loader":
            stopped["loader"]["batch_in_epoch"] = 0
        resumed = resume.train_steps(data, TOTAL, resume_from=stopped)
    assert same(resumed["model"], uninterrupted["model"]) == (forget == "nothing")


# ---------------------------------------------------------------- Lightning
pl = pytest.importorskip("pytorch_lightning")
from spec.helpers.data import write_mnist  # noqa: E402

lightning_mnist = impl.lightning_mnist


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist-resume")
    write_mnist(root)
    return root


def lightning_fit(data_dir, out, epochs, seed, callbacks=(), ckpt_path=None):
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    releases.seed_everything(seed)
    model = lightning_mnist.LitMNIST(data_dir=str(data_dir), download=False, learning_rate=1e-3)
    trainer = pl.Trainer(
        max_epochs=epochs, accelerator="cpu", devices=1, enable_progress_bar=False,
        enable_model_summary=False, logger=False, default_root_dir=out,
        callbacks=list(callbacks), num_sanity_val_steps=0,
        limit_train_batches=12, limit_val_batches=2,  # small: exactness does not need more
    )  # fmt: skip
    trainer.fit(model, ckpt_path=ckpt_path)
    return model, trainer


#: Measured by the atlas (spec/atlas.md): under Lightning 2.3.3 (the newest for torch 2.0)
#: the resume with the RNG restored still ends elsewhere; from 2.4 on it is exact. The
#: cause is not bisected; strict, so the day it holds there the spec says so.
RNG_RESUME_NOT_EXACT = releases.expect_failure_before("exact Lightning resume")


@pytest.mark.slow
@pytest.mark.parametrize(
    "with_rng",
    [False, pytest.param(True, marks=RNG_RESUME_NOT_EXACT)],
    ids=["lightning alone", "with RNGStateCallback"],
)
def test_lightning_resume_is_exact_only_with_the_rng_restored(mnist, tmp_path, with_rng):
    """Lightning's checkpoint restores model, optimizer and loops but not the RNGs; with them restored the resume is exact.

    LitMNIST has dropout, so the RNG state decides the masks after the resume. Without
    it the resumed fit ends elsewhere; with reference.lightning_mnist.RNGStateCallback it ends
    bit-identical to the uninterrupted fit. (Resumed under another seed on purpose.)
    """
    callbacks = [lightning_mnist.RNGStateCallback()] if with_rng else []
    with torch.random.fork_rng():
        full, _ = lightning_fit(mnist, tmp_path / "full", 2, seed=0, callbacks=callbacks)
        _, first = lightning_fit(mnist, tmp_path / "first", 1, seed=0, callbacks=callbacks)
        path = first.checkpoint_callback.best_model_path
        saved = checkpoint.load_checkpoint(path)
        expected = {"state_dict", "optimizer_states", "loops", "epoch", "global_step"}
        assert expected <= set(saved)
        assert ("rng" in saved) == with_rng
        resumed, trainer = lightning_fit(
            mnist, tmp_path / "resumed", 2, seed=123, callbacks=callbacks, ckpt_path=path
        )
    assert trainer.current_epoch == 2
    assert same(resumed.state_dict(), full.state_dict()) == with_rng


# ---------------------------------------------------------------- determinism
def lenet_run():
    net = Net()
    optimizer = update_weights.make_optimizer(net)
    inputs, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
    for _ in range(5):
        update_weights.training_step(net, optimizer, criterion, inputs, target)
    return net.state_dict()


def cifar_run(data):
    return resume.train_steps(data, 10)["model"]


def sequential_run():
    return examples.train_sequential(*examples.random_data(), steps=20)[0].state_dict()


def two_layer_run():
    return examples.train_two_layer_net(*examples.random_data(), steps=20)[0].state_dict()


@pytest.mark.parametrize("core", ["lenet", "cifar", "sequential", "two_layer"])
def test_two_seeded_runs_of_each_training_core_are_bit_identical_on_cpu(core, data):
    """The same seed gives the same weights, bit for bit, for every training core on CPU."""
    run = {
        "lenet": lenet_run,
        "cifar": lambda: cifar_run(data),
        "sequential": sequential_run,
        "two_layer": two_layer_run,
    }[core]
    results = []
    for _ in range(2):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            results.append(run())
    assert same(*results)


@pytest.mark.slow
def test_two_seeded_lightning_fits_are_bit_identical(mnist, tmp_path):
    """seed_everything(0) twice gives two identical Lightning fits on CPU."""
    with torch.random.fork_rng():
        a, _ = lightning_fit(mnist, tmp_path / "a", 1, seed=0)
        b, _ = lightning_fit(mnist, tmp_path / "b", 1, seed=0)
    assert same(a.state_dict(), b.state_dict())


@pytest.fixture
def deterministic():
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


@pytest.mark.fact
def test_max_unpool2d_refuses_to_run_in_deterministic_mode_even_on_cpu(deterministic):
    """Under torch.use_deterministic_algorithms(True), MaxUnpool2d raises, even on the CPU.

    Its scatter has no deterministic implementation on any device; the error says so
    instead of returning results that could vary.
    """
    pooled, indices = torch.nn.MaxPool2d(2, return_indices=True)(torch.randn(1, 1, 4, 4))
    with pytest.raises(RuntimeError, match="does not have a deterministic implementation"):
        torch.nn.MaxUnpool2d(2)(pooled, indices)


@needs_cuda
@pytest.mark.parametrize("core", ["lenet", "sequential"])
def test_two_seeded_cuda_runs_are_bit_identical_in_deterministic_mode(
    core, deterministic, monkeypatch
):
    """On CUDA, with use_deterministic_algorithms(True), two seeded runs are bit-identical.

    cuBLAS needs CUBLAS_WORKSPACE_CONFIG set for deterministic matmuls.
    """
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    results = []
    for _ in range(2):
        with torch.random.fork_rng(devices=[0]):
            torch.manual_seed(0)
            if core == "lenet":
                net = Net().cuda()
                optimizer = update_weights.make_optimizer(net)
                x, y = torch.randn(4, 1, 32, 32).cuda(), torch.randn(4, 10).cuda()
                for _ in range(5):
                    update_weights.training_step(net, optimizer, criterion, x, y)
                results.append({k: v.cpu() for k, v in net.state_dict().items()})
            else:
                model, _ = examples.train_sequential(*examples.random_data("cuda"), steps=20)
                results.append({k: v.cpu() for k, v in model.state_dict().items()})
    assert same(*results)
