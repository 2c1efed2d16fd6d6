"""The CIFAR-10 demo (``python -m reference.cifar10_demo``): it trains, reports and saves.

Plumbing of the project, not a lesson of the note; its bad flags are checked with every
other command line in spec/guarantees/03_bad_input.py.
"""

import pytest

from reference import cifar10, cifar10_demo


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
