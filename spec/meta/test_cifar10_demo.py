"""The CIFAR-10 demo (``python -m reference.cifar10_demo``): it trains, reports and saves.

Plumbing of the project, not a lesson of the note; its bad flags are checked with every
other command line in spec/guarantees/03_bad_input.py.
"""

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
