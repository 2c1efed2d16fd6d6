"""The CIFAR-10 demo (``python -m reference.cifar10_demo``): it trains, reports and saves.

Plumbing of the project, not a lesson of the note; its bad flags are checked with every
other command line in spec/guarantees/03_bad_input.py.
"""

import json
import sys

import pytest

from reference import cifar10, cifar10_data, cifar10_demo


def test_the_demo_trains_reports_and_saves(tmp_path, capsys):
    """The demo prints the note's log and accuracies, saves the weights and a loss plot."""
    out = tmp_path / "demo"
    argv = ["--out", str(out), "--train-size", "200", "--test-size", "40", "--epochs", "1"]
    assert cifar10_demo.main([*argv, "--print-every", "10", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "[1,    10] loss: " in text
    assert "Finished Training" in text
    assert "Accuracy of the network on the 40 test images:" in text
    assert text.count("Accuracy of ") == 11  # overall + ten classes
    assert (out / "cifar_net.pth").is_file()
    assert cifar10.load(out / "cifar_net.pth") is not None
    if (out / "loss.png").exists():  # matplotlib is optional
        assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_loss_plot_draws_the_logged_losses_against_mini_batches(tmp_path, monkeypatch):
    """The loss plot: the running losses at mini-batch every, 2 every, ...; 6 x 3.5 in, 100 dpi."""
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    seen = {}
    real_savefig = Figure.savefig

    def savefig(fig, path, **kwargs):
        ax = fig.axes[0]
        (line,) = ax.get_lines()
        seen.update(
            x=list(line.get_xdata()), y=list(line.get_ydata()), marker=line.get_marker(),
            xlabel=ax.get_xlabel(), ylabel=ax.get_ylabel(), title=ax.get_title(),
            size=tuple(fig.get_size_inches()), dpi=kwargs.get("dpi"),
            grid=ax.xaxis.get_gridlines()[0].get_alpha(),
        )  # fmt: skip
        return real_savefig(fig, path, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    path = cifar10_demo._plot_losses([2.3, 2.0, 1.5], 25, tmp_path / "loss.png")
    assert path == tmp_path / "loss.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert seen == {
        "x": [25, 50, 75], "y": [2.3, 2.0, 1.5], "marker": "o", "xlabel": "mini-batches",
        "ylabel": "running loss (mean of 25)", "title": "CIFAR-10 Net: training loss",
        "size": (6.0, 3.5), "dpi": 100, "grid": 0.3,
    }  # fmt: skip


def test_the_progress_bar_goes_to_stderr_and_the_log_lines_to_stdout(tmp_path, capsys):
    """With its progress bar (tqdm), the demo keeps the note's log lines on stdout, whole,
    and draws the bar on stderr, anew each epoch."""
    pytest.importorskip("tqdm")
    out = tmp_path / "demo"
    argv = ["--out", str(out), "--train-size", "80", "--test-size", "8", "--epochs", "2"]
    assert cifar10_demo.main([*argv, "--print-every", "10"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line for line in lines if line.startswith("[")] == [
        line for line in lines if line.startswith(("[1, ", "[2, "))
    ]
    assert sum(line.startswith("[1,    10] loss: ") for line in lines) == 1
    assert sum(line.startswith("[2,    20] loss: ") for line in lines) == 1
    assert "batch/s" not in captured.out  # no bar among the log lines
    assert "s/batch" not in captured.out
    assert captured.err.count(" 0/20 [") >= 2  # a bar per epoch, over 20 batches of 4
    assert "batch/s" in captured.err or "s/batch" in captured.err
    assert "\n" not in captured.err  # each bar erased when its epoch ends (leave=False)


def test_the_demos_flags_default_to_the_notes_recipe_on_a_set_of_the_real_size(monkeypatch):
    """Defaults: the note's 2 epochs, batches of 4, SGD lr 0.001 momentum 0.9, print every
    2000; a generated set of the real set's 50,000 / 10,000 images at the calibrated
    difficulty; seed 0."""
    monkeypatch.delenv("CIFAR10_ROOT", raising=False)
    args = vars(cifar10_demo.build_parser().parse_args([]))
    assert args == {
        "epochs": 2, "batch_size": 4, "lr": 0.001, "momentum": 0.9, "device": "auto",
        "data": None, "train_size": None, "test_size": None, "difficulty": None,
        "print_every": None, "out": "reports/cifar10", "seed": 0, "threads": 1,
        "no_progress": False,
    }  # fmt: skip
    # None: the defaults below, or (sizes, difficulty) refused beside --data
    assert (cifar10_demo.TRAIN_SIZE, cifar10_demo.TEST_SIZE) == (50000, 10000)
    assert cifar10_demo.PRINT_EVERY == 2000
    monkeypatch.setenv("CIFAR10_ROOT", "/data/cifar")
    assert cifar10_demo.build_parser().parse_args([]).data == "/data/cifar"
    assert cifar10_demo.build_parser().parse_args(["--seed", "3"]).seed == 3
    for device in ("auto", "cpu", "cuda"):
        assert cifar10_demo.build_parser().parse_args(["--device", device]).device == device


def test_the_demos_help_says_what_each_flag_does_and_its_default(capsys):
    """--help describes the demo and every flag, with its default."""
    with pytest.raises(SystemExit):
        cifar10_demo.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python -m reference.cifar10_demo [-h]"), text
    assert "Train the note's CIFAR-10 CNN the note's way (on generated data unless --data" in text
    for expected in (
        "--epochs EPOCHS passes over the training set (default: 2)",
        "--batch-size BATCH_SIZE images per step (default: 4)",
        "--lr LR SGD learning rate (default: 0.001)",
        "--momentum MOMENTUM SGD momentum (default: 0.9)",
        "--train-size TRAIN_SIZE generated training images (default: 50000, the real set's)",
        "--test-size TEST_SIZE generated test images (default: 10000, the real set's)",
        f"(default: {cifar10_data.DIFFICULTY:g}, calibrated to the note's figures; 0: easy)",
        "--print-every PRINT_EVERY mini-batches per loss line (default: the note's 2000",
        "--seed SEED seeds the data, the weights, the order (default: 0)",
        "--threads THREADS torch CPU threads (default: 1)",
        "--device {auto,cpu,cuda} auto: the GPU if there is one (default: auto)",
        "--data DATA directory holding cifar-10-batches-py/ (real or generated); default: "
        "$CIFAR10_ROOT, else a set generated under OUT/data --train-size",
        "fifth of an epoch where an epoch is shorter) --out OUT where weights and the plot go "
        "(default: reports/cifar10)",
        "--no-progress no progress bar (default: False)",
    ):
        assert expected in text, expected
    assert "(default: None)" not in text  # a default given in words is not repeated as None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lr", "0"], "argument --lr: must be a finite number > 0, got 0"),
        (["--lr", "inf"], "argument --lr: must be a finite number > 0, got inf"),
        (["--momentum", "-0.1"], "argument --momentum: must be a finite number >= 0, got -0.1"),
        (["--momentum", "inf"], "argument --momentum: must be a finite number >= 0, got inf"),
        (["--difficulty", "nan"], "argument --difficulty: must be a finite number >= 0, got nan"),
    ],
    ids=["lr 0", "lr inf", "momentum below 0", "momentum inf", "difficulty nan"],
)
def test_the_demo_refuses_rates_and_difficulties_it_cannot_use(argv, message, capsys):
    with pytest.raises(SystemExit) as done:
        cifar10_demo.build_parser().parse_args(argv)
    assert done.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"python -m reference.cifar10_demo: error: {message}"
    )
    assert cifar10_demo.build_parser().parse_args(["--momentum", "0"]).momentum == 0.0


def test_the_first_line_names_the_data_and_how_hard_it_is(tmp_path):
    """Generated under OUT or given with --data; calibrated, easier, or harder (no word)."""
    import json

    root = tmp_path / "d"
    cifar10_data.write_cifar10(root, 10, 4, seed=2, difficulty=2.0)
    folder = root / "cifar-10-batches-py"
    assert cifar10_demo.describe_data(root, generated=False) == (
        f"data: GENERATED, not the real CIFAR-10 (reference.cifar10_data, given with --data: "
        f"{root}; seed 2, difficulty 2)"
    )
    manifest = json.loads((folder / "MANIFEST.json").read_text())
    del manifest["difficulty"]  # written before sets had a difficulty: the easy set
    (folder / "MANIFEST.json").write_text(json.dumps(manifest))
    assert cifar10_demo.describe_data(root, generated=True) == (
        f"data: GENERATED, not the real CIFAR-10 (reference.cifar10_data, under OUT: {root}; "
        "seed 2, difficulty 0, easier than the calibrated default)"
    )


def test_the_device_flag_picks_the_cpu_here_and_refuses_cuda_without_a_gpu():
    """--device auto is cuda:0 with a GPU, else the CPU; cuda without a GPU is refused."""
    import torch

    expected = "cuda:0" if torch.cuda.is_available() else "cpu"
    assert cifar10_demo._device("auto") == torch.device(expected)
    assert cifar10_demo._device("cpu") == torch.device("cpu")
    if torch.cuda.is_available():
        assert cifar10_demo._device("cuda") == torch.device("cuda")
        return
    with pytest.raises(ValueError, match=r"^--device cuda: no CUDA device is available here$"):
        cifar10_demo._device("cuda")


def run_demo(capsys, *argv) -> list[str]:
    assert cifar10_demo.main([*argv, "--no-progress"]) == 0
    return capsys.readouterr().out.splitlines()


def test_the_demo_reports_what_its_saved_net_scores(tmp_path, capsys):
    """Its accuracy lines are the saved net's, computed again; it names its data and its files."""
    import re

    import torch

    out = tmp_path / "nested" / "demo"
    sizes = ["--train-size", "64", "--test-size", "40", "--batch-size", "8"]
    lines = run_demo(capsys, "--out", str(out), *sizes, "--epochs", "1", "--print-every", "4",
                     "--seed", "3", "--device", "cpu")  # fmt: skip
    assert lines[0].startswith("data: GENERATED, not the real CIFAR-10 (reference.cifar10_data, "
                               f"under OUT: {out / 'data'}; ")  # fmt: skip
    assert f"seed 3, difficulty {cifar10_data.DIFFICULTY:g}, calibrated" in lines[0]
    assert lines[1] == (
        "device: cpu, train: 64, test: 40, batch 8, SGD lr 0.001 momentum 0.9, 1 epoch(s)"
    )
    assert lines[2].startswith("note: 1 epoch(s) on 64 images is too short")
    assert [line for line in lines if line.startswith("[")] == [
        line for line in lines if re.fullmatch(r"\[1, +[48]\] loss: \d\.\d{3}", line)
    ]
    assert sum(line.startswith("[1, ") for line in lines) == 2  # 8 batches of 8, a line every 4
    assert cifar10_data.read_manifest(out / "data")["seed"] == 3
    net = cifar10.load(out / "cifar_net.pth")
    _, testloader = cifar10.make_loaders(out / "data", batch_size=8)
    predicted, labels = cifar10.collect_predictions(net, testloader)
    overall = 100 * (predicted == labels).double().mean().item()
    assert f"Accuracy of the network on the 40 test images: {overall:.1f} %" in lines
    per_class, _ = cifar10.per_class_accuracy(predicted, labels)
    for name, acc in zip(cifar10.classes, per_class.tolist(), strict=True):
        assert "Accuracy of %5s : %5.1f %%" % (name, 100 * acc) in lines
    last = re.fullmatch(r"trained (\d+\.\d) s; saved (.+), (.+)", lines[-1])
    assert last, lines[-1]
    assert float(last.group(1)) < 600
    assert (last.group(2), last.group(3)) == (str(out / "cifar_net.pth"), str(out / "loss.png"))
    assert (out / "loss.png").is_file()
    assert torch.get_num_threads() >= 1


def test_collect_predictions_gives_the_predictions_and_labels_of_a_whole_loader(cifar_root):
    """The demo's collect_predictions: (predicted, labels) over every image of the loader, in
    order (10 images in batches of 4: the last batch of 2 too), the net in eval mode."""
    import torch
    from torch.utils.data import DataLoader, Subset

    from spec.helpers.classifier import predicted_and_true

    _, testloader = cifar10.make_loaders(cifar_root, batch_size=4)
    loader = DataLoader(Subset(testloader.dataset, range(10)), batch_size=4)
    net = cifar10.Net()
    predicted, labels = cifar10.collect_predictions(net, loader)
    expected_predicted, expected_labels = predicted_and_true(net, loader)  # argmax, computed apart
    assert torch.equal(predicted, expected_predicted)
    assert torch.equal(labels, expected_labels)
    assert len(labels) == 10
    assert not net.training


def test_the_same_seed_trains_the_same_net_and_another_seed_another(tmp_path, capsys):
    """--seed fixes the starting weights and the batches' order: the same seed, the same net."""
    import torch

    data = tmp_path / "data"
    cifar10_data.write_cifar10(data, 40, 8, seed=0)
    nets = {}
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        out = tmp_path / name / "deeper"
        run_demo(capsys, "--data", str(data), "--out", str(out), "--epochs", "1", "--seed", seed)
        nets[name] = cifar10.load(out / "cifar_net.pth").state_dict()
    assert all(torch.equal(nets["a"][k], nets["b"][k]) for k in nets["a"])
    assert not all(torch.equal(nets["a"][k], nets["c"][k]) for k in nets["a"])


def test_without_tqdm_the_demo_runs_without_a_bar(tmp_path, capsys, monkeypatch):
    """Where tqdm is not installed the demo prints its log lines without a progress bar."""
    import sys

    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm fails
    out = tmp_path / "demo"
    argv = ["--out", str(out), "--train-size", "40", "--test-size", "8", "--epochs", "1"]
    assert cifar10_demo.main([*argv, "--print-every", "5"]) == 0
    captured = capsys.readouterr()
    assert "[1,     5] loss: " in captured.out
    assert captured.err == ""


def test_the_demo_refuses_what_it_cannot_use_in_one_line(tmp_path, capsys):
    """--device cuda without a GPU, and a data folder with a damaged file, end in one error line."""
    import torch

    data = tmp_path / "data"
    cifar10_data.write_cifar10(data, 10, 4, seed=0)
    (data / "cifar-10-batches-py" / "test_batch").write_bytes(b"truncated")
    cases = [(["--data", str(data)], "CIFAR-10 file corrupted or truncated: ")]
    if not torch.cuda.is_available():
        cases.append((["--device", "cuda"], "--device cuda: no CUDA device is available here"))
    for argv, message in cases:
        with pytest.raises(SystemExit) as done:
            cifar10_demo.main([*argv, "--out", str(tmp_path / "out")])
        assert done.value.code == 2
        last = capsys.readouterr().err.strip().splitlines()[-1]
        assert last.startswith(f"python -m reference.cifar10_demo: error: {message}"), last


def test_without_matplotlib_the_demo_trains_and_saves_without_a_plot(tmp_path, capsys, monkeypatch):
    """matplotlib is optional: without it the last line names the weights and nothing else."""
    data = tmp_path / "data"
    cifar10_data.write_cifar10(data, 40, 8, seed=0)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises
    lines = run_demo(capsys, "--data", str(data), "--out", str(tmp_path / "out"), "--epochs", "1")
    assert lines[-1].endswith(f"s; saved {tmp_path / 'out' / 'cifar_net.pth'}"), lines[-1]
    assert not (tmp_path / "out" / "loss.png").exists()


def test_a_cached_set_of_other_sizes_is_written_again_with_the_sizes_asked_for(tmp_path, capsys):
    """--train-size / --test-size / --seed / --difficulty are honoured when OUT/data holds a
    set made with others: it is regenerated, and the demo says so."""
    out = tmp_path / "out"
    small = ["--out", str(out), "--epochs", "1", "--batch-size", "20", "--test-size", "8"]
    lines = run_demo(capsys, *small, "--train-size", "40")
    assert "train: 40, test: 8" in lines[1]
    lines = run_demo(capsys, *small, "--train-size", "60", "--difficulty", "0")
    assert lines[0] == (
        f"regenerating {out / 'data' / 'cifar-10-batches-py'}: it held 40 / 8 images (seed 0, "
        f"difficulty {cifar10_data.DIFFICULTY:g}), asked for 60 / 8 (seed 0, difficulty 0)"
    )
    assert "train: 60, test: 8" in lines[2]
    assert "difficulty 0, easier than the calibrated default" in lines[1]
    held = cifar10_data.read_manifest(out / "data")
    assert (held["n_train"], held["n_test"], held["difficulty"]) == (60, 8, 0)
    lines = run_demo(capsys, *small, "--train-size", "60", "--difficulty", "0")
    assert not lines[0].startswith("regenerating")  # the same arguments: the cache is used
    # a set written before sets had a difficulty is the easy one, and is named so
    manifest_path = out / "data" / "cifar-10-batches-py" / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text())
    del manifest["difficulty"]
    manifest_path.write_text(json.dumps(manifest))
    lines = run_demo(capsys, *small, "--train-size", "40")
    assert lines[0].endswith("it held 60 / 8 images (seed 0, difficulty 0), asked for 40 / 8 "
                             f"(seed 0, difficulty {cifar10_data.DIFFICULTY:g})")  # fmt: skip


def test_the_demo_refuses_sizes_beside_data_and_a_cache_it_did_not_write(tmp_path, capsys):
    """Sizes and difficulty make a generated set: beside --data DIR they are refused; a
    CIFAR-10 folder under OUT/data without the generator's manifest is never deleted."""
    data = tmp_path / "data"
    cifar10_data.write_cifar10(data, 10, 4, seed=0)
    foreign = tmp_path / "out" / "data" / "cifar-10-batches-py"
    foreign.mkdir(parents=True)
    (foreign / "data_batch_1").write_bytes(b"someone's")
    cases = [
        (["--data", str(data), "--train-size", "20", "--difficulty", "1"],
         f"--train-size, --difficulty: for a generated set; --data {data} trains on what it holds"),
        ([], f"{foreign} was not written by the generator: pass --data {foreign.parent} to train "
             "on it, or choose another --out"),
    ]  # fmt: skip
    for argv, message in cases:
        with pytest.raises(SystemExit) as done:
            cifar10_demo.main([*argv, "--out", str(tmp_path / "out")])
        assert done.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1] == (
            f"python -m reference.cifar10_demo: error: {message}"
        )
    assert (foreign / "data_batch_1").read_bytes() == b"someone's"


def test_lr_and_momentum_reach_the_optimizer(tmp_path, capsys, monkeypatch):
    made = []

    def recording(net, **kwargs):
        criterion, optimizer = cifar10.make_criterion_and_optimizer(net, **kwargs)
        made.append(optimizer)
        return criterion, optimizer

    monkeypatch.setattr(cifar10_demo, "make_criterion_and_optimizer", recording)
    data = tmp_path / "data"
    cifar10_data.write_cifar10(data, 10, 4, seed=0)
    lines = run_demo(capsys, "--data", str(data), "--out", str(tmp_path / "out"), "--epochs", "1",
                     "--lr", "0.05", "--momentum", "0.5")  # fmt: skip
    (optimizer,) = made
    assert (optimizer.param_groups[0]["lr"], optimizer.param_groups[0]["momentum"]) == (0.05, 0.5)
    assert "SGD lr 0.05 momentum 0.5, 1 epoch(s)" in lines[1]


def test_a_run_too_short_to_learn_says_so_and_a_longer_one_does_not(tmp_path, capsys):
    """Under 5,000 images seen (epochs x set) the net is near chance on the calibrated set."""
    out = ["--out", str(tmp_path / "out"), "--test-size", "8", "--batch-size", "100"]
    short = run_demo(capsys, *out, "--train-size", "1000", "--epochs", "1")
    assert short[2] == ("note: 1 epoch(s) on 1,000 images is too short for the net to learn "
                        "much: expect 10-20% (chance: 10%); the note's recipe is 2 epochs on "
                        "50,000")  # fmt: skip
    enough = run_demo(capsys, *out, "--train-size", "2500", "--epochs", "2")
    assert not any(line.startswith("note:") for line in enough)


@pytest.mark.parametrize(("images", "every"), [(20, 1), (40, 2), (48, 2)])
def test_by_default_a_short_epoch_prints_a_loss_line_every_fifth_of_it(tmp_path, capsys, images,
                                                                      every):  # fmt: skip
    """The note's print_every of 2000 would print nothing on a small set: a fifth of an
    epoch, in whole batches, at least one (5, 10 and 12 batches of 4 here)."""
    data = tmp_path / "data"
    cifar10_data.write_cifar10(data, images, 4, seed=0)
    lines = run_demo(capsys, "--data", str(data), "--out", str(tmp_path / "out"), "--epochs", "1")
    batches = images // 4
    assert [line.split("]")[0] for line in lines if line.startswith("[1,")] == [
        f"[1, {i:5d}" for i in range(every, batches + 1, every)
    ]
    assert "given with --data" in lines[0]


def test_a_folder_without_the_generators_manifest_is_named_as_real_cifar10(tmp_path):
    assert cifar10_demo.describe_data(tmp_path, generated=False) == (
        f"data: {tmp_path} (CIFAR-10 files, checked against the real set's MD5s)"
    )
