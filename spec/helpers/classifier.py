"""What chapter 10 compares the implementation with, made without its help.

The note's training loop run on batches the spec makes (spec/helpers/oracles.py writes
it out); predictions computed here; and the checks of one concept bundled in one call
(``check_trains_as_the_note``: weights, logged losses, printed lines, and the classic
mistakes behind a difference), so that the chapter reads as the tutorial's steps.
"""

from __future__ import annotations

import copy
import inspect
import re
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Subset

from spec.helpers import teach
from spec.helpers.data import load_cifar10
from spec.helpers.oracles import the_notes_training_loop
from spec.helpers.teach import say


def tutorial_testset(root):
    """The test set with the tutorial's transform, made here (not by the implementation):
    for the tests that run the note's own code."""
    from torchvision.transforms import Compose, Normalize, ToTensor

    transform = Compose([ToTensor(), Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    return load_cifar10(root, train=False, transform=transform)


def flattening_forward(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The note's forward with ``torch.flatten(x, 1)`` where it has ``x.view(-1, 400)``:
    the same numbers for any memory layout."""
    relu = nn.functional.relu
    x = net.pool(relu(net.conv1(x)))
    x = torch.flatten(net.pool(relu(net.conv2(x))), 1)
    return net.fc3(relu(net.fc2(relu(net.fc1(x)))))


def the_notes_batches(steps: int, batch_size: int = 4, seed: int = 0):
    """``steps`` CIFAR-shaped batches, made by the spec: what a trainloader yields."""
    g = torch.Generator().manual_seed(seed)
    return [
        (
            torch.randn(batch_size, 3, 32, 32, generator=g),
            torch.randint(0, 10, (batch_size,), generator=g),
        )
        for _ in range(steps)
    ]


def tiny_batches(n: int, seed: int = 0):
    """``n`` batches of one 4-feature example: enough to run a loop 2,000 steps fast."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(1, 4, generator=g), torch.randint(0, 10, (1,), generator=g))
            for _ in range(n)]  # fmt: skip


def first_n_in_batches(dataset, n: int, batch_size: int) -> DataLoader:
    """The first ``n`` items of ``dataset``, in order, in batches of ``batch_size``."""
    return DataLoader(Subset(dataset, range(n)), batch_size=batch_size, shuffle=False)


def predicted_and_true(net: nn.Module, loader) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted, labels) over a loader, computed here: argmax of the net's outputs."""
    predicted, truth = [], []
    with torch.no_grad():
        for images, labels in loader:
            predicted.append(net(images).argmax(1))
            truth.append(labels)
    return torch.cat(predicted), torch.cat(truth)


def assert_evaluated_without_grad(spy: teach.GradModeSpy, call: str) -> None:
    """The spied net was called, and never while autograd was recording."""
    assert spy.grad_enabled, say(call, "to call the net", "it never did")
    assert not any(spy.grad_enabled), say(
        call, "the forward passes under torch.no_grad()", "autograd was recording",
        teach.NO_GRAD,
    )  # fmt: skip


@dataclass(frozen=True)
class NotesRun:
    """What the note's loop, run here, ends with."""

    weights: dict[str, torch.Tensor]
    logged: list[float]
    lines: list[str]


def _sgd(net: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)


def the_notes_run(
    untrained: nn.Module, batches, epochs: int, print_every: int, **mistake
) -> NotesRun:
    """The note's loop (spec/helpers/oracles.py) on a copy of ``untrained``, with the note's
    criterion and optimizer: its weights, its logged losses and the lines it prints.
    ``zero_grad=False`` runs the classic mistake instead."""
    net = copy.deepcopy(untrained)
    logged = the_notes_training_loop(
        net, batches, nn.CrossEntropyLoss(), _sgd(net), epochs, print_every, **mistake
    )
    steps = [(e, i) for e in range(1, epochs + 1)
             for i in range(print_every, len(batches) + 1, print_every)]  # fmt: skip
    lines = ["[%d, %5d] loss: %.3f" % (e, i, v) for (e, i), v in zip(steps, logged, strict=True)]
    return NotesRun(dict(net.state_dict()), logged, [*lines, "Finished Training"])


def check_trains_as_the_note(
    net: nn.Module, logged, lines: list[str], untrained: nn.Module, batches, epochs: int,
    print_every: int,
) -> None:  # fmt: skip
    """``train`` left ``net`` where the note's loop leaves a copy of ``untrained``, logged
    the same running losses (as floats) and printed the same lines — bit for bit, the
    same float32 operations in the same order. A difference names the classic mistake
    that explains it (no zero_grad, a softmax in forward, no .item())."""
    call = f"train(net, {len(batches)} batches, epochs={epochs}, print_every={print_every})"
    expected = the_notes_run(untrained, batches, epochs, print_every)

    def forgot_zero_grad():
        probe = the_notes_run(untrained, batches, epochs, print_every, zero_grad=False)
        same = all(torch.equal(v, net.state_dict()[k]) for k, v in probe.weights.items())
        return teach.ZERO_GRAD if same else None

    teach.close(
        dict(net.state_dict()), expected.weights, call=call,
        expects="the weights the note's loop ends with", rtol=0, atol=0,
        diagnoses=[forgot_zero_grad, lambda: teach.did_you_softmax(net(batches[0][0]))],
    )  # fmt: skip
    logged = list(logged)
    assert all(isinstance(v, float) for v in logged), say(
        f"{call}'s logged losses", "floats: running_loss / print_every",
        [type(v).__name__ for v in logged], teach.did_you_forget_item(logged),
    )  # fmt: skip
    teach.close(
        torch.tensor(logged), torch.tensor(expected.logged), call=f"{call}'s logged losses",
        expects="the running loss every print_every mini-batches, reset after each print",
        rtol=0, atol=0,
    )  # fmt: skip
    assert lines == expected.lines, say(
        f"{call}'s printed lines", expected.lines, lines, teach.did_you_forget_item(logged)
    )


# ---------------------------------------------------------------- one call per concept
def check_layer_shapes(net: nn.Module, x: torch.Tensor, expected: list[tuple]) -> None:
    """Each child layer's output shape on ``x``, recorded with forward hooks, is
    ``expected``: [(layer name, shape), ...] in the order they ran."""
    shapes = []
    hooks = [
        m.register_forward_hook(lambda m, i, o, name=name: shapes.append((name, tuple(o.shape))))
        for name, m in net.named_children()
    ]
    try:
        net(x)
    finally:
        for h in hooks:
            h.remove()
    assert shapes == expected, say("Net()(x), each layer's output", expected, shapes)


def check_the_log(losses, lines: list[str], *, epochs: int, steps_per_epoch: int, every: int,
                  starts_above: float, falls_by: float) -> None:  # fmt: skip
    """``train`` logged a loss every ``every`` mini-batches, printed each as the note does
    ('[1,   100] loss: 2.213') and 'Finished Training' last; the first loss is above
    ``starts_above`` and the last ``falls_by`` lower."""
    call = f"train(net, ..., epochs={epochs}, print_every={every})"
    count = epochs * (steps_per_epoch // every)
    assert len(losses) == count, say(
        call, f"{count} logged losses ({epochs} x {steps_per_epoch} / {every})", len(losses)
    )
    assert lines[-1] == "Finished Training", say(
        call, "'Finished Training' as its last line", lines[-1:]
    )
    pattern = re.compile(r"^\[\d+, +\d+\] loss: \d+\.\d{3}$")
    odd = [line for line in lines[:-1] if not pattern.match(line)]
    assert not odd, say(call, "lines like '[1,   100] loss: 2.213'", odd)
    assert lines[0] == "[1, %5d] loss: %.3f" % (every, losses[0]), say(
        call, f"the note's format, '[1, %5d] loss: %.3f' % ({every}, loss)", lines[0]
    )
    assert losses[0] > starts_above, say(
        call, f"a first logged loss near ln 10 = 2.30 (above {starts_above})", round(losses[0], 3)
    )
    assert losses[-1] < losses[0] - falls_by, say(
        call, f"the loss to fall by {falls_by} or more", [round(v, 3) for v in losses],
        teach.did_you_forget_item(losses),
    )  # fmt: skip


def check_the_defaults(train, *, epochs: int, print_every: int) -> None:
    """``train``'s signature defaults to ``epochs`` and ``print_every``, and running it
    with them on ``print_every`` tiny mini-batches makes ``epochs`` passes, logging one
    line at the end of each."""
    defaults = {
        name: p.default for name, p in inspect.signature(train).parameters.items()
        if p.default is not p.empty
    }  # fmt: skip
    for name, value in (("epochs", epochs), ("print_every", print_every)):
        assert defaults.get(name) == value, say(f"train's {name}=", value, defaults.get(name))
    tiny = nn.Linear(4, 10)
    steps, lines = [], []
    optimizer = torch.optim.SGD(tiny.parameters(), lr=0.001)
    optimizer.register_step_post_hook(lambda *args: steps.append(1))
    logged = train(tiny, tiny_batches(print_every), nn.CrossEntropyLoss(), optimizer,
                   log=lines.append)  # fmt: skip
    call = "train(...) with its defaults"
    assert len(steps) == epochs * print_every, say(call, f"{epochs} epochs", f"{len(steps)} steps")
    expected = ["[%d, %5d] l" % (e, print_every) for e in range(1, epochs + 1)]
    assert [line[:12] for line in lines[:-1]] == expected, say(call, expected, lines)
    assert len(logged) == epochs, say(call, f"{epochs} logged losses", len(logged))


def check_per_class_accuracy(accuracy, confusion, predicted, labels, expected_accuracy) -> None:
    """``per_class_accuracy``'s share per class equals ``expected_accuracy`` (torchmetrics),
    and its confusion matrix is the one counted here, a row per true class."""
    teach.close(
        accuracy.float(), expected_accuracy, call="per_class_accuracy(predicted, labels)[0]",
        expects="each class's share of its images predicted right (torchmetrics)", rtol=0,
        atol=1e-6,
    )  # fmt: skip
    assert confusion.sum() == len(labels), say(
        "per_class_accuracy(...)[1]", f"{len(labels)} images counted once each",
        int(confusion.sum()),
    )  # fmt: skip
    counted = torch.zeros(10, 10, dtype=torch.int64)
    for t, p in zip(labels.tolist(), predicted.tolist(), strict=True):
        counted[t, p] += 1  # rows: the truth, columns: the prediction
    teach.close(
        confusion.long(), counted, call="per_class_accuracy(...)[1]",
        expects="the confusion matrix, a row per true class", rtol=0, atol=0,
    )  # fmt: skip


def check_normalized_images(x, call: str, shape: tuple) -> None:
    """``x`` is what ToTensor then Normalize((0.5,)*3, (0.5,)*3) give: a float32 tensor of
    ``shape`` with values in [-1, 1], some below 0 (ToTensor alone stops at [0, 1])."""
    assert isinstance(x, torch.Tensor), say(call, "a tensor (ToTensor)", type(x).__name__)
    assert tuple(x.shape) == shape, say(call, f"shape {shape}", tuple(x.shape))
    assert x.dtype == torch.float32, say(call, "float32 (ToTensor)", x.dtype)
    low, high = x.min().item(), x.max().item()
    assert -1 <= min(low, high) <= max(low, high) <= 1, say(call, "values in [-1, 1]", (low, high))
    assert low < 0, say(call, "values in [-1, 1], not [0, 1]", low,
                        "leave out Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))?")  # fmt: skip


def check_scores_per_image(net: nn.Module, n: int, image: tuple = (3, 32, 32)) -> None:
    """``net`` takes ``n`` images of shape ``image`` and returns ``n`` rows of 10 raw class
    scores (logits, not probabilities). A failure says whether the batch size is written
    into the forward (``view(4, ...)`` instead of ``view(-1, ...)``)."""
    call = f"Net() on {n} images"
    forward = lambda x: net(x)  # noqa: E731  (the probe calls it with other batch sizes)
    with torch.no_grad():
        try:
            out = forward(torch.randn(n, *image))
        except RuntimeError as error:
            hint = teach.did_you_hard_code_the_batch(forward, image)
            raise AssertionError(say(call, f"({n}, 10)", error, hint)) from None
    hint = teach.did_you_hard_code_the_batch(forward, image) if out.shape != (n, 10) else None
    teach.assert_equal(tuple(out.shape), (n, 10), call=call, did_you=hint)
    if n > 1:
        assert not teach.are_probabilities(out), say(
            call, "raw scores (logits)", "rows that sum to 1", teach.SOFTMAX
        )
