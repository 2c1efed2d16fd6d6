"""What chapter 10 compares the implementation with, made without its help.

The note's training loop run on batches the spec makes (spec/helpers/oracles.py writes
it out); predictions computed here; and the checks of one concept bundled in one call
(``check_trains_as_the_note``: weights, logged losses, printed lines, and the classic
mistakes behind a difference), so that the chapter reads as the tutorial's steps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Subset

from spec.helpers import teach
from spec.helpers.oracles import the_notes_training_loop
from spec.helpers.teach import say


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


def loader_of(dataset, n: int, batch_size: int) -> DataLoader:
    """The first ``n`` items of ``dataset``, in order, in batches of ``batch_size``."""
    return DataLoader(Subset(dataset, range(n)), batch_size=batch_size, shuffle=False)


def predictions(net: nn.Module, loader) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted, labels) over a loader, computed here: argmax of the net's outputs."""
    predicted, truth = [], []
    with torch.no_grad():
        for images, labels in loader:
            predicted.append(net(images).argmax(1))
            truth.append(labels)
    return torch.cat(predicted), torch.cat(truth)


class NotATensor:
    """An arbitrary pickled object: what ``weights_only`` loading refuses."""

    def __init__(self):
        self.payload = "arbitrary Python object"


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
