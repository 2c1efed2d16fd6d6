"""Every "did you ...?" of the note's chapters, proved on the mistake it names.

Each classic mistake — where learners make it is cited beside it — is made in the
second implementation (spec/exercises/tutorial_style, correct as it stands): the tests
that should catch it must fail, and each must say "did you ...?" with that mistake's
hint. A hint that never fires, or fires for another mistake, fails here.
"""

import shutil
from dataclasses import dataclass

import pytest

from spec.exercises.nested import TUTORIAL_STYLE, only_in_the_reference_s_run, run_spec
from spec.helpers import releases, teach


@dataclass(frozen=True)
class Mistake:
    """A classic mistake, made in tutorial_style: ``module``'s text with each (right,
    wrong) pair replaced. ``tests`` must then fail, each message carrying ``hint``."""

    name: str
    module: str
    edits: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]
    hint: str | tuple[str, ...]  # one for all its tests, or one per test
    seen: str  # where learners make it


NOTE = "spec/note/"
#: Each "did you ...?" of the note's chapters, on the mistake it names.
MISTAKES = (
    Mistake("noise without dtype=torch.float", "tensors",
            (("torch.randn_like(x, dtype=torch.float)", "torch.randn_like(x)"),),
            (f"{NOTE}01_tensors.py::test_randn_like_keeps_size_and_device_and_takes_the_new_dtype",),
            "leave out dtype=torch.float? randn_like then reuses the input's float64",
            "the note's own line, torch.randn_like(x, dtype=torch.float), without its dtype"),
    Mistake("a row for the second column", "operations",
            (("return x[:, 1]", "return x[1]"),),
            (f"{NOTE}02_operations.py::test_column_indexing_matches_numpy",),
            teach.ROW_NOT_COLUMN, "https://e-com-net.com/article/1644921775101894656.htm"),
    Mistake("the second column counted from 1", "operations",
            (("return x[:, 1]", "return x[:, 2]"),),
            (f"{NOTE}02_operations.py::test_column_indexing_matches_numpy",),
            teach.COUNT_FROM_ONE, "the note's 'second column' read as index 2"),
    Mistake("a copy for a view", "operations",
            (("return x[:, 1]", "return x[:, 1].clone()"),),
            (f"{NOTE}02_operations.py::test_column_indexing_is_a_view_that_shares_storage",),
            teach.COPY_NOT_VIEW, "the note's 'resize/reshape' line, done by copying"),
    Mistake("torch.tensor where the note shares memory", "numpy_bridge",
            (("torch.as_tensor(a)", "torch.tensor(a)"),),
            (f"{NOTE}03_numpy_bridge.py::test_from_numpy_shares_memory_both_ways",),
            "use torch.tensor(a)? It copies; torch.from_numpy(a) shares",
            "the NumPy bridge written with the constructor the note's first section uses"),
    Mistake("the target not viewed as the output", "loss_function",
            (("target.reshape(1, -1)", "target"),),
            (f"{NOTE}07_loss_function.py::test_loss_for_shapes_the_target_like_the_output_so_mse_loss_does_not_warn",),
            teach.NO_TARGET_VIEW, "MSELoss's UserWarning 'Using a target size ... different to the input size'"),
    Mistake("Normalize before ToTensor", "transforms",
            (("        v2.RandomHorizontalFlip(),\n        v2.ToImage(),\n        v2.ToDtype(torch.float32, scale=True),\n        v2.Normalize(mean=MEAN, std=STD),\n",
              "        v2.RandomHorizontalFlip(),\n        v2.Normalize(mean=MEAN, std=STD),\n        v2.ToImage(),\n        v2.ToDtype(torch.float32, scale=True),\n"),),
            (f"{NOTE}15_transforms.py::test_each_transform_is_the_notes_pipeline",),
            teach.NORMALIZE_BEFORE_TO_TENSOR, "torchvision's 'img should be Tensor Image' errors, pasted pipelines reordered"),
    Mistake("the gradient read before zero_grad", "backprop",
            (('    net.zero_grad()\n    print("conv1.bias.grad before backward")\n    before = net.conv1.bias.grad\n',
              '    before = net.conv1.bias.grad\n    net.zero_grad()\n    print("conv1.bias.grad before backward")\n'),),
            (f"{NOTE}08_backprop.py::test_conv1_bias_grad_before_backward_is_none_not_zeros",),
            "read conv1.bias.grad before calling net.zero_grad()?",
            "the note's cell reordered: its print comes between zero_grad() and backward()"),
    Mistake("chapter 10's momentum in chapter 9's SGD", "update_weights",
            (("optim.SGD(net.parameters(), lr=learning_rate)", "optim.SGD(net.parameters(), lr=learning_rate, momentum=0.9)"),),
            (f"{NOTE}09_update_weights.py::test_add_with_alpha_is_what_sgd_does_bit_for_bit",),
            "give SGD momentum=0.9?", "the CIFAR-10 section's optimizer line, copied a chapter early"),
    Mistake("no zero_grad in the CIFAR loop", "cifar10",
            (("            optimizer.zero_grad()\n            outputs", "            outputs"),),
            (f"{NOTE}10_training_a_classifier.py::test_the_loop_trains_exactly_as_the_notes_loop_does",),
            teach.ZERO_GRAD, "https://flisks.com/python-why-do-we-need-to-call-zero-grad-in-pytorch"),
    Mistake("no zero_grad in training_step", "update_weights",
            (("    optimizer.zero_grad()\n    output", "    output"),),
            (f"{NOTE}09_update_weights.py::test_training_step_is_the_notes_five_lines",),
            teach.ZERO_GRAD, "https://preproom.ai/learn/model-training-pytorch.html"),
    Mistake("no zero_grad in the two-layer loops", "examples",
            (("        optimizer.zero_grad()\n", ""),),
            (f"{NOTE}11_learning_pytorch_with_examples.py::test_each_example_trains_exactly_as_the_notes_loop",),
            teach.ZERO_GRAD, "https://apxml.com/courses/getting-started-with-pytorch/chapter-6-implementing-training-loop/zeroing-gradients"),
    Mistake("the mean squared error where the note sums", "examples",
            (('MSELoss(reduction="sum")', "MSELoss()"),),
            (f"{NOTE}11_learning_pytorch_with_examples.py::test_each_example_trains_exactly_as_the_notes_loop",),
            teach.MEAN_NOT_SUM, "the note's own loss_fn line against MSELoss's default"),
    Mistake("a softmax before CrossEntropyLoss", "cifar10",
            (("        x = self.fc3(x)\n", "        x = F.softmax(self.fc3(x), dim=1)\n"),),
            (f"{NOTE}10_training_a_classifier.py::test_a_batch_of_any_size_gives_one_row_of_10_scores_per_image",),
            teach.SOFTMAX, "https://imaddabbura.github.io/posts/dl/why-not-softmax.html"),
    Mistake("a running loss of tensors", "cifar10",
            (("running_loss += loss.item()", "running_loss += loss"),),
            (f"{NOTE}10_training_a_classifier.py::test_the_loop_trains_exactly_as_the_notes_loop_does",),
            teach.ITEM, "the blitz's own loop before it added .item() (PyTorch 0.4)"),
    Mistake("the batch size in view", "cifar10",
            (("x = torch.flatten(x, 1)", "x = x.view(4, -1)"),),
            (f"{NOTE}10_training_a_classifier.py::test_a_batch_of_any_size_gives_one_row_of_10_scores_per_image",),
            teach.BATCH_IN_VIEW, "the blitz's x.view(-1, 16 * 5 * 5) copied with the batch"),
    Mistake("the max over the batch", "cifar10",
            (("_, predicted = torch.max(outputs, 1)", "_, predicted = torch.max(outputs, 0)"),),
            (f"{NOTE}10_training_a_classifier.py::test_predictions_on_a_test_batch_name_four_classes",),
            teach.MAX_OVER_BATCH, "https://e-com-net.com/article/1644921775101894656.htm"),
    Mistake("the blitz's other LeNet", "neural_networks",
            (("nn.Conv2d(1, 6, 3)", "nn.Conv2d(1, 6, 5)"),
             ("nn.Conv2d(6, 16, 3)", "nn.Conv2d(6, 16, 5)"), ("16 * 6 * 6", "16 * 5 * 5")),
            (f"{NOTE}06_neural_networks.py::test_print_net_shows_the_notes_output_exactly",),
            teach.OTHER_LENET, "the 60-minute blitz's later versions (5x5 kernels)"),
    Mistake("a by-hand step that rebinds the name", "update_weights",
            (("f.data.sub_(f.grad.data * learning_rate)", "f = f - f.grad * learning_rate"),),
            (f"{NOTE}09_update_weights.py::test_the_manual_rule_equals_optim_sgd_to_within_one_rounding",),
            teach.REBIND, "https://mlkatas.com/kata/23"),
    Mistake("a by-hand step uphill", "update_weights",
            (("f.data.sub_(", "f.data.add_("),),
            (f"{NOTE}09_update_weights.py::test_the_manual_rule_equals_optim_sgd_to_within_one_rounding",),
            teach.UPHILL, "the note's rule, weight - learning_rate * gradient, with its sign lost"),
    Mistake("evaluation that records a graph", "autograd",
            (("@torch.no_grad()\n", ""),),
            (f"{NOTE}05_autograd.py::test_evaluating_a_model_under_no_grad",),
            teach.NO_GRAD, "the note's own tip: wrap evaluation in torch.no_grad()"),
    Mistake("an extractor left in training mode", "pretrained_models",
            (("    return model.eval()", "    return model"),),
            (f"{NOTE}13_pretrained_models.py::test_vgg16_up_to_fc7_gives_4096_features",),
            teach.EVAL, "the article's extractor used with dropout on"),
    Mistake("raw scores to nll_loss", "lightning_mnist",
            (("return F.log_softmax(self.l3(x), dim=1)", "return self.l3(x)"),),
            (f"{NOTE}16_lightning_mnist.py::test_the_model_maps_images_to_log_probabilities",),
            teach.NLL_RAW_SCORES, "https://runebook.dev/en/docs/pytorch/generated/torch.nn.softmax"),
    Mistake("the TensorBoard tutorial's two errata", "tensorboard_tutorial",
            (('writer.add_image("four_cifar10_images", img_grid / 2 + 0.5)',
              'writer.add_image("four_cifar10_images", img_grid)'),
             ("label_img=images / 255)", "label_img=images)")),
            (f"{NOTE}12_tensorboard.py::test_the_image_grid_shows_the_batch_s_four_images",
             f"{NOTE}12_tensorboard.py::test_the_projector_shows_each_image_with_its_class"),
            (teach.GRID_STILL_NORMALISED, teach.SPRITE_FROM_UINT8),
            "the official TensorBoard tutorial's add_image and add_embedding lines (one run: "
            "each test sees only its own)"),
)  # fmt: skip


def _params(mistakes):
    """Each mistake a case; those made in tutorial_style's transforms (written with
    torchvision 0.16's transforms.v2, as today's tutorials are) need that release."""
    for m in mistakes:
        marks = releases.needs("transforms v2") if m.module == "transforms" else ()
        yield pytest.param(m, id=m.name, marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("mistake", list(_params(MISTAKES)))
def test_each_hint_names_the_mistake_it_is_for(mistake, tmp_path):
    """tutorial_style with one classic mistake made: the tests that should catch it fail,
    and each says "did you ...?" with that mistake's hint."""
    only_in_the_reference_s_run()
    folder = tmp_path / "mistaken"
    shutil.copytree(TUTORIAL_STYLE, folder, ignore=shutil.ignore_patterns("__pycache__"))
    module = folder / f"{mistake.module}.py"
    source = module.read_text(encoding="utf-8")
    for right, wrong in mistake.edits:
        assert right in source, f"{right!r} is no longer in tutorial_style/{module.name}"
        source = source.replace(right, wrong)
    module.write_text(source, encoding="utf-8")
    report = run_spec(folder, list(mistake.tests), tmp_path / "run.json", "-m", "not fact")
    hints = (
        mistake.hint if isinstance(mistake.hint, tuple) else (mistake.hint,) * len(mistake.tests)
    )
    asks = {t: "did you " + h.split("?")[0] for t, h in zip(mistake.tests, hints, strict=True)}
    caught = set()
    for test_id, test in report["tests"].items():
        message = test.get("message") or test["reason"]
        if test["outcome"] == "skipped" and test["reason"].startswith("needs CUDA"):
            continue  # the test's CUDA case, on a machine without one
        assert test["outcome"] in ("passed", "failed"), f"{test_id}: {test['outcome']}"
        if test["outcome"] == "failed":  # a parameter the mistake does not touch may pass
            asked = asks[test_id.split("[")[0]]
            assert asked in message, f"{test_id} does not ask {asked!r}:\n{message}"
            caught.add(test_id.split("[")[0])
    assert caught == set(mistake.tests), f"not caught by {set(mistake.tests) - caught}"
