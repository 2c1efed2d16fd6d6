"""Failure messages that teach: what the note expects, what the code did, and for the
mistakes learners make most, which one it probably is.

One format for every chapter (after array-api-tests' uniform assertion messages)::

    cifar10.train(...): the note expects the loss to fall over 2 epochs (from about
    ln 10 = 2.30); your code: it went 2.30 -> 2.31
      did you forget optimizer.zero_grad()? Without it every step adds this batch's
      gradient to all the earlier ones, ...

``say`` builds the message for an ``assert``; ``close`` is ``torch.testing.assert_close``
with that message and the diagnoses that run only when the comparison fails. The
``did_you_*`` probes each recognise one classic mistake by running the implementation
once more the way that mistake would show, and return the hint or None.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

Diagnosis = Callable[[], str | None]


def say(
    call: str,
    expects: str,
    got: Any,
    did_you: str | Iterable[str | None] | None = None,
    *,
    by: str = "the note",
) -> str:
    """'call: the note expects ...; your code: ...' (+ one 'did you ...?' line per hint).

    ``by`` names who expects it where the note only links a tutorial ("the tutorial the
    note links")."""
    text = f"{call}: {by} expects {expects}; your code: {got}"
    hints = [did_you] if isinstance(did_you, str) else list(did_you or [])
    for hint in hints:
        if hint:
            text += f"\n  did you {hint.removeprefix('did you ')}"
    return text


def assert_equal(
    got: Any,
    expected: Any,
    *,
    call: str,
    expects: str | None = None,
    did_you: str | Iterable[str | None] | None = None,
    by: str = "the note",
) -> None:
    """``assert got == expected``, failing with ``say``'s message: what ``call`` gave, what
    is expected (``expects``, or ``expected`` itself), and the hints."""
    if got != expected:
        raise AssertionError(
            say(call, expected if expects is None else expects, got, did_you, by=by)
        )


def diagnose(diagnoses: Iterable[Diagnosis]) -> list[str]:
    """The hints of the diagnoses that recognise their mistake (each run once; one that
    itself fails says nothing rather than hiding the real failure)."""
    hints = []
    for d in diagnoses:
        try:
            hint = d()
        except Exception:  # a probe of broken code may break too: it then has nothing to say
            hint = None
        if hint:
            hints.append(hint)
    return hints


def close(
    actual: Any,
    expected: Any,
    *,
    call: str,
    expects: str,
    rtol: float,
    atol: float,
    diagnoses: Iterable[Diagnosis] = (),
) -> None:
    """``assert_close(actual, expected)``, failing with ``say``'s message: the comparison's
    own words for what differs, then the hints of the diagnoses."""
    try:
        torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)
    except AssertionError as error:
        detail = " ".join(str(error).split())
        raise AssertionError(say(call, expects, detail, diagnose(diagnoses))) from None


@contextlib.contextmanager
def raises(
    kind: type[BaseException] | tuple[type[BaseException], ...],
    match: str,
    *,
    call: str,
    expects: str,
    did_you: str | None = None,
    by: str = "the note",
) -> Iterator[None]:
    """``pytest.raises(kind, match=...)`` failing with ``say``'s message — "your code: it
    raised nothing" or the other error — instead of pytest's bare "DID NOT RAISE". A
    ``NotImplementedError`` (unwritten code, itself a RuntimeError) is never caught: it
    stays a to-do."""
    try:
        yield
    except NotImplementedError:
        raise
    except kind as error:
        if not re.search(match, str(error)):
            got = f"{type(error).__name__}: {error}"
            raise AssertionError(say(call, expects, got, did_you, by=by)) from None
        return
    raise AssertionError(say(call, expects, "it raised nothing", did_you, by=by))


def golden_rows(
    names: list[str], numel: list | None, recorded_numel: list[float] | None
) -> list[str]:
    """What each row of a golden's parameter columns is in the implementation's model —
    its parameter's name and size — and, where the reference's row holds another number
    of values, that the layer has another shape: a golden mismatch then names
    ``conv1.weight``, not "row 0"."""
    lines = [
        "Rows of the parameter columns (sum, abs_sum, first, last, numel), by your model's "
        "parameters:"
    ]
    for i, name in enumerate(names):
        line = f"  {i}: {name}"
        n = int(numel[i]) if numel is not None and i < len(numel) else None
        if n is not None:
            line += f", {n:,} numbers"
        if n is not None and recorded_numel and i < len(recorded_numel):
            expected = int(recorded_numel[i])
            if expected != n:
                line += f" (the reference's row {i} has {expected:,}: another shape)"
        lines.append(line)
    if recorded_numel and len(recorded_numel) != len(names):
        lines.append(
            f"  your model has {len(names)} parameter tensors, the reference's "
            f"{len(recorded_numel)}: another set of layers"
        )
    return lines


# ----------------------------------------------------------------------------- the classic mistakes
ZERO_GRAD = (
    "forget optimizer.zero_grad()? Without it each backward() adds this batch's gradient "
    "to every earlier one (.grad accumulates), so each step uses the sum of all gradients "
    "so far"
)
SOFTMAX = (
    "end forward with a softmax? nn.CrossEntropyLoss applies log_softmax itself: give it "
    "the raw scores (logits) of the last Linear layer"
)
ITEM = (
    "forget .item()? running_loss += loss keeps a tensor — and with it every step's graph "
    "— alive; running_loss += loss.item() adds a Python float"
)
NO_GRAD = (
    "forget torch.no_grad()? Evaluating without it records a graph for a backward pass "
    "that never comes (memory and time for nothing)"
)
EVAL = (
    "forget model.eval()? In training mode dropout drops activations at random (and "
    "batch norm uses the batch's statistics): features change from call to call"
)
#: The official TensorBoard tutorial's two errata (spec/note/12_tensorboard.py shows each
#: as a fact): pictures it logs that TensorBoard cannot show as they are.
GRID_STILL_NORMALISED = (
    "log the grid still normalised? TensorBoard stores an image's values times 255, "
    "clipped to [0, 255], so every pixel darker than mid-grey comes out black. The official "
    "tutorial's add_image line does this too (its erratum): log "
    "make_grid(images / 2 + 0.5)"
)
SPRITE_FROM_UINT8 = (
    "pass label_img as uint8 pixels (0-255)? add_embedding multiplies the thumbnails by "
    "255 as if they were in [0, 1], so the sprite comes out white. The official tutorial "
    "passes trainset.data so (its erratum): pass floats in [0, 1] (pixels / 255, or the "
    "images un-normalised)"
)
BATCH_IN_VIEW = (
    "hard-code the batch size in view? x.view(4, ...) only fits batches of 4: "
    "x.view(-1, 16 * 5 * 5) infers it (torch.flatten(x, 1) too)"
)


REBIND = (
    "rebind the loop variable (f = f - learning_rate * f.grad)? That makes a new tensor "
    "and leaves the parameter as it was: update it in place, f.data.sub_(f.grad.data * "
    "learning_rate) (or f -= learning_rate * f.grad under torch.no_grad())"
)
UPHILL = (
    "add the gradient instead of subtracting it? The gradient points uphill: weight = "
    "weight - learning_rate * gradient steps down the loss, + climbs it"
)
MAX_OVER_BATCH = (
    "take the max over dim 0? outputs is (images, classes): torch.max(outputs, 0) picks, "
    "for each class, the image that scores it highest; torch.max(outputs, 1) picks each "
    "image's class"
)
MEAN_NOT_SUM = (
    "leave MSELoss at its default, the mean? The note's loss_fn is "
    "MSELoss(reduction='sum'): the mean divides the loss (and its gradient) by N x D_out "
    "= 640, so the same learning rate takes steps 640 times smaller"
)


ROW_NOT_COLUMN = "take a row (x[1])? x[:, 1] is the second column: every row (:), index 1 of each"
COUNT_FROM_ONE = (
    "count from 1? Python indexes from 0: the second column is x[:, 1], x[:, 2] the third"
)
COPY_NOT_VIEW = (
    "copy it (.clone(), torch.tensor(...), .contiguous())? Indexing and view() return views "
    "of the same memory; a copy no longer follows x"
)
NO_TARGET_VIEW = (
    "skip target.view(1, -1)? MSELoss then broadcasts the (10,) target against the "
    "(1, 10) output and warns that the sizes differ"
)
NORMALIZE_BEFORE_TO_TENSOR = (
    "put Normalize before ToTensor? Normalize works on tensors: the PIL image has to go "
    "through ToTensor first (the note's order: crop, flip, ToTensor, Normalize)"
)


def did_you_index_another_column(x: torch.Tensor, got: Any) -> str | None:
    """``second_column(x)`` that returned a row, or the third column."""
    if not isinstance(got, torch.Tensor):
        return None
    if got.shape == x[1].shape and torch.equal(got, x[1]):
        return ROW_NOT_COLUMN
    if got.shape == x[:, 2].shape and torch.equal(got, x[:, 2]):
        return COUNT_FROM_ONE
    return None


def did_you_configure_sgd_otherwise(optimizer: Any, lr: float, momentum: float = 0.0):
    """An optimizer that is not the SGD the note builds here: another class, learning rate
    or momentum (chapter 10's ``lr=0.001, momentum=0.9`` copied into chapter 9, say)."""
    if not isinstance(optimizer, torch.optim.SGD):
        return f"build {type(optimizer).__name__}? The note's optimizer here is optim.SGD"
    group = optimizer.param_groups[0]
    if group.get("momentum", 0) != momentum:
        return (
            f"give SGD momentum={group['momentum']}? Chapter 10's SGD has momentum 0.9; "
            f"this one is plain: each step moves by lr * grad alone"
        )
    if group["lr"] != lr:
        return f"give SGD lr={group['lr']}? The note's is lr={lr}"
    return None


def did_you_step_the_wrong_way(
    before: torch.Tensor, after: torch.Tensor, grad: torch.Tensor, lr: float
) -> str | None:
    """A by-hand SGD step that left the weight unchanged (a rebound name) or moved it up
    the gradient (a + for the -)."""
    if torch.equal(after, before):
        return REBIND
    if torch.allclose(after, before + lr * grad, rtol=0, atol=1e-6):
        return UPHILL
    return None


def are_probabilities(outputs: torch.Tensor) -> bool:
    """Rows that are non-negative and sum to 1: a softmax's output, not logits."""
    if not isinstance(outputs, torch.Tensor) or outputs.dim() != 2 or not outputs.numel():
        return False
    rows = outputs.detach().double()
    return bool((rows >= 0).all()) and bool(
        torch.allclose(rows.sum(1), torch.ones(len(rows)).double(), atol=1e-4)
    )


OTHER_LENET = (
    "write the official tutorial's other LeNet? Later versions of the 60-minute blitz "
    "build it with 5x5 kernels, Conv2d(1, 6, 5) and Conv2d(6, 16, 5), and fc1 = "
    "nn.Linear(16 * 5 * 5, 120); the note's has 3x3 kernels and nn.Linear(16 * 6 * 6, 120). "
    "The same network idea, other shapes: this chapter checks the note's"
)


def did_you_write_the_other_lenet(net: Any) -> str | None:
    """The blitz's 5x5 LeNet in place of the note's 3x3 one (its conv1 or its fc1 shows it)."""
    kernel = getattr(getattr(net, "conv1", None), "kernel_size", None)
    fc1_inputs = getattr(getattr(net, "fc1", None), "in_features", None)
    if kernel == (5, 5) or fc1_inputs == 16 * 5 * 5:
        return OTHER_LENET
    return None


def did_you_softmax(outputs: torch.Tensor) -> str | None:
    return SOFTMAX if are_probabilities(outputs) else None


NLL_RAW_SCORES = (
    "end forward without F.log_softmax(x, dim=1)? F.nll_loss takes log-probabilities: on raw "
    "scores it still runs, but what it computes is not the cross-entropy (it can fall below "
    "0), and the net learns badly or not at all"
)
NLL_PROBABILITIES = (
    "end forward with F.softmax instead of F.log_softmax? F.nll_loss takes the log of the "
    "probabilities: on the probabilities themselves it rewards them only linearly"
)


def did_you_feed_nll_loss_other_than_log_probabilities(outputs: torch.Tensor) -> str | None:
    """A forward meant for F.nll_loss (the note's LitMNIST) whose rows are not
    log-probabilities: raw scores, or probabilities."""
    outputs = outputs.detach().float()
    if are_probabilities(outputs):
        return NLL_PROBABILITIES
    total = outputs.exp().sum(dim=-1)
    if not torch.allclose(total, torch.ones_like(total), atol=1e-4):
        return NLL_RAW_SCORES
    return None


def did_you_forget_item(values: Iterable[Any]) -> str | None:
    """Logged losses that are tensors instead of floats."""
    return ITEM if any(isinstance(v, torch.Tensor) for v in values) else None


class GradModeSpy(torch.nn.Module):
    """Wraps a model; records whether autograd was recording, and the mode the model was
    in, at each forward."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model
        self.grad_enabled: list[bool] = []
        self.training_mode: list[bool] = []

    def forward(self, *args, **kwargs):
        self.grad_enabled.append(torch.is_grad_enabled())
        self.training_mode.append(self.training)
        return self.model(*args, **kwargs)


def did_you_forget_no_grad(
    run_with: Callable[[torch.nn.Module], Any], model: torch.nn.Module
) -> str | None:
    """Run ``run_with(spy)`` and say NO_GRAD if any forward recorded a graph."""
    spy = GradModeSpy(model)
    run_with(spy)
    return NO_GRAD if any(spy.grad_enabled) else None


def did_you_hard_code_the_batch(
    forward: Callable[[torch.Tensor], torch.Tensor], image_shape: tuple[int, ...]
) -> str | None:
    """Run ``forward`` on batches of 1, 3 and 8: a net that only fits 4 is the mistake."""
    for n in (1, 3, 8):
        try:
            out = forward(torch.randn(n, *image_shape))
        except RuntimeError:
            return BATCH_IN_VIEW
        if out.shape[0] != n:
            return BATCH_IN_VIEW
    return None
