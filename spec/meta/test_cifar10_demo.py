"""The CIFAR-10 demo (``python -m reference.cifar10_demo``): it trains, reports and saves.

Plumbing of the project, not a lesson of the note; its bad flags are checked with every
other command line in spec/guarantees/03_bad_input.py.
"""

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
    assert "batch" not in captured.out  # no bar among the log lines
    assert captured.err.count(" 0/20 [") >= 2  # a bar per epoch, over 20 batches of 4
    assert "batch/s" in captured.err or "s/batch" in captured.err
    assert "\n" not in captured.err  # each bar erased when its epoch ends (leave=False)


def test_the_demos_flags_default_to_the_tutorials_recipe_on_5000_generated_images(monkeypatch):
    """Defaults: 2 epochs, batches of 4, 5,000 generated images (1,000 to test), seed 0."""
    monkeypatch.delenv("CIFAR10_ROOT", raising=False)
    args = vars(cifar10_demo.build_parser().parse_args([]))
    assert args == {
        "epochs": 2, "batch_size": 4, "device": "auto", "data": None, "train_size": 5000,
        "test_size": 1000, "print_every": 250, "out": "reports/cifar10", "seed": 0,
        "threads": 1, "no_progress": False,
    }  # fmt: skip
    monkeypatch.setenv("CIFAR10_ROOT", "/data/cifar")
    assert cifar10_demo.build_parser().parse_args([]).data == "/data/cifar"
    assert cifar10_demo.build_parser().parse_args(["--seed", "3"]).seed == 3
    for device in ("auto", "cpu", "cuda"):
        assert cifar10_demo.build_parser().parse_args(["--device", device]).device == device


def test_the_demos_help_says_what_each_flag_does(capsys):
    """--help describes the demo and each flag that needs words."""
    with pytest.raises(SystemExit):
        cifar10_demo.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python -m reference.cifar10_demo [-h]"), text
    assert text.endswith(
        "[--no-progress] Train the note's CIFAR-10 CNN (generated data unless --data is given). "
        "options: -h, --help show this help message and exit --epochs EPOCHS --batch-size "
        "BATCH_SIZE --device {auto,cpu,cuda} --data DATA directory holding cifar-10-batches-py/ "
        "(real or generated); default: generate one under OUT/data (or $CIFAR10_ROOT) "
        "--train-size TRAIN_SIZE generated training images --test-size TEST_SIZE generated test "
        "images --print-every PRINT_EVERY the note's 2000 --out OUT where weights and the plot go "
        "--seed SEED --threads THREADS torch CPU threads --no-progress no progress bar"
    ), text


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
    assert lines[0] == "device: cpu, train: 64, test: 40"
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
