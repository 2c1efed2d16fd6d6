"""Visualizing Models, Data, and Training with TensorBoard — written with SummaryWriter, read back with TensorBoard's own reader.

Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
the linked tutorial writes.
"""

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from spec.helpers import releases
from spec.helpers.data import CLASSES, load_cifar10, write_cifar
from spec.helpers.implementation import impl

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="needs the tensorboard package (its event-file reader)",
)
from tensorboard.util import tensor_util  # noqa: E402

tb = impl.tensorboard_tutorial
#: The tutorial's tags: its image grid, the training loss, the predictions figure.
TUTORIAL_TAGS = ("four_cifar10_images", "training loss", "predictions vs. actuals")


def read(logdir):
    """TensorBoard's EventAccumulator, keeping every event (size_guidance 0 = all)."""
    acc = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={k: 0 for k in ("images", "scalars", "tensors", "graph")}
    )
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_cifar(tmp_path_factory.mktemp("tb-data"), n_train=200, n_test=40)


#: What write_run itself warned about (torch.jit.trace's deprecation aside, pinned below),
#: and the categories of that deprecation as it reached write_run's caller.
OWN_WARNINGS: list[str] = []
JIT_WARNINGS: list[type] = []
#: How many optimizer steps write_run took.
STEPS: list[int] = []


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_root):
    root = tmp_path_factory.mktemp("tb")
    steps = []
    real_step = torch.optim.SGD.step

    def counted_step(self, *args, **kwargs):
        steps.append(1)
        return real_step(self, *args, **kwargs)

    with (
        torch.random.fork_rng(),
        warnings.catch_warnings(record=True) as caught,
        pytest.MonkeyPatch.context() as patch,
    ):
        warnings.simplefilter("always")
        patch.setattr(torch.optim.SGD, "step", counted_step)
        torch.manual_seed(0)
        # its defaults: 40 mini-batches of 4, the loss every 10, 32 images embedded
        written = tb.write_run(root / "run", data_root)
    STEPS[:] = [len(steps)]
    OWN_WARNINGS[:] = [
        f"{w.category.__name__}: {w.message}" for w in caught
        if "torch.jit.trace" not in str(w.message)
        and not ("site-packages" in w.filename and ("tensorboard" in w.filename
                                                     or "google" in w.filename))
    ]  # fmt: skip
    JIT_WARNINGS[:] = [w.category for w in caught if "torch.jit.trace" in str(w.message)]
    return written, read(root / "run")


def test_writing_the_run_raises_no_warning_of_its_own(run):
    """write_run warns about nothing but what torch itself says of add_graph's tracer.

    (A softmax without ``dim=`` would say "Implicit dimension choice"; tracing a model
    that reads its input's shape in Python says TracerWarning, which is harmless here.)
    """
    assert OWN_WARNINGS == [], OWN_WARNINGS
    # ...and it does not hide what torch says of the tracer's future (drift chapter)
    assert releases.add_graph_jit_warning_expected() <= set(JIT_WARNINGS)


def test_the_run_has_images_scalars_pr_curves_and_a_graph(run):
    """The event file holds the tutorial's images, the loss scalar, ten PR curves and the graph."""
    written, acc = run
    tags = acc.Tags()
    # the tutorial's tags, by name
    assert (tb.IMAGE_GRID_TAG, tb.LOSS_TAG, tb.FIGURE_TAG) == TUTORIAL_TAGS
    assert set(tags["images"]) == {"four_cifar10_images", "predictions vs. actuals"}
    assert tags["scalars"] == ["training loss"]
    assert sorted(tags["tensors"]) == sorted(written.pr_curve_tags) == sorted(CLASSES)
    assert tags["graph"] is True


def test_matplotlib_imshow_unnormalizes_to_hwc_in_0_1():
    """matplotlib_imshow(img) turns a (3, H, W) image in [-1, 1] into an (H, W, 3) array in [0, 1].

    x / 2 + 0.5 inverts Normalize((0.5,)*3, (0.5,)*3); values outside [-1, 1] (an
    augmentation's overshoot) are clipped. Expected from the formula, in NumPy.
    """
    img = torch.linspace(-1.5, 1.5, 3 * 4 * 5).reshape(3, 4, 5)
    out = tb.matplotlib_imshow(img)
    expected = np.clip(img.numpy() / 2 + 0.5, 0, 1).transpose(1, 2, 0)
    assert out.shape == (4, 5, 3)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-7)


class FixedScores(torch.nn.Module):
    """A "net" whose scores are given: predictions and probabilities known in advance."""

    def __init__(self, scores):
        super().__init__()
        self.scores = scores

    def forward(self, x):
        return self.scores[: len(x)]


def test_the_predictions_figure_titles_each_image_with_its_prediction_and_truth():
    """plot_classes_preds titles each image "<predicted>, <probability>% (label: <truth>)", green when right, red when wrong.

    The scores are fixed, so the softmax probabilities are known: image 0 is predicted
    "car" (right), image 1 "bird" (wrong, it is a "cat").
    """
    scores = torch.full((2, 10), -10.0)
    scores[0, 1], scores[0, 0], scores[1, 2] = 2.0, 1.5, 3.0  # image 0: car at about 62%
    probs = torch.softmax(scores, dim=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a softmax without dim= would warn
        fig = tb.plot_classes_preds(
            FixedScores(scores), torch.zeros(2, 3, 32, 32), torch.tensor([1, 3])
        )
    axes = fig.get_axes()
    assert len(axes) == 2
    assert tuple(fig.get_size_inches()) == (12, 3)
    titles = [ax.get_title() for ax in axes]
    assert titles == [
        f"car, {100 * probs[0, 1]:.1f}%\n(label: car)",
        f"bird, {100 * probs[1, 2]:.1f}%\n(label: cat)",
    ]
    colors = [ax.title.get_color() for ax in axes]
    assert colors == ["green", "red"]
    assert all(not ax.get_xticks().size and not ax.get_yticks().size for ax in axes)
    rows = {round(ax.get_position().y0, 6) for ax in axes}
    assert len(rows) == 1, "the images stand in one row"
    grids = {ax.get_subplotspec().get_gridspec().get_geometry() for ax in axes}
    assert grids == {(1, 2)}, f"one row of 2 subplots, not a grid of (rows, columns) {grids}"
    assert axes[0].get_position().x0 < axes[1].get_position().x0


def test_the_image_grid_decodes_to_the_grid_size(run, data_root):
    """add_image of make_grid(4 images) stores a PNG of 2 + 4 x (32 + 2) by 36 pixels.

    make_grid puts a 2-pixel border around every image: width 2 + 4 * 34 = 138,
    height 2 + 34 = 36. The PNG is decoded to check, not just its header fields: each of
    its four tiles is one of the training images, un-normalized back to its own pixels
    (to within one grey level of rounding).
    """
    written, acc = run
    event = acc.Images(tb.IMAGE_GRID_TAG)[0]
    png = Image.open(io.BytesIO(event.encoded_image_string))
    assert png.format == "PNG"
    assert (png.width, png.height) == (138, 36) == (event.width, event.height)
    assert written.grid_shape == (3, 36, 138)
    grid = np.asarray(png.convert("RGB")).astype(int)
    training = np.stack([np.asarray(image) for image, _ in load_cifar10(data_root)]).astype(int)
    for k in range(4):
        tile = grid[2:34, 2 + 34 * k : 34 + 34 * k]
        closest = np.abs(training - tile).max(axis=(1, 2, 3)).min()
        assert closest <= 1, f"tile {k} is no training image (closest differs by {closest})"


def test_the_training_loss_has_one_value_per_logging_step(run):
    """add_scalar('training loss', running_loss / N, step) reads back with the same steps and values.

    Scalars are stored as float32: compared at float32 precision.
    """
    written, acc = run
    events = acc.Scalars(tb.LOSS_TAG)
    assert [e.step for e in events] == list(written.losses) == [9, 19, 29, 39]
    torch.testing.assert_close(
        torch.tensor([e.value for e in events]),
        torch.tensor(list(written.losses.values())),
        rtol=1.2e-7,
        atol=0,
    )
    # Each value is the mean loss of the 10 mini-batches before it. For an untrained net
    # cross-entropy is about ln 10 = 2.303, and 40 steps at lr 0.001 barely move it: a
    # sum instead of a mean, or a running loss not reset to 0, is far off.
    values = [e.value for e in events]
    assert all(abs(v - np.log(10)) < 0.06 for v in values), values
    assert STEPS == [40]  # 40 mini-batches, no more


def test_the_predictions_figure_is_an_image_per_logging_step(run):
    """add_figure('predictions vs. actuals', fig, step) stores a rendered PNG at each step."""
    written, acc = run
    events = acc.Images(tb.FIGURE_TAG)
    assert [e.step for e in events] == written.figure_steps
    png = Image.open(io.BytesIO(events[0].encoded_image_string))
    assert png.width == 1200  # figsize 12 inches at matplotlib's default 100 dpi
    assert png.height == 300


def test_each_pr_curve_is_six_rows_of_127_thresholds(run, data_root):
    """add_pr_curve stores a (6, 127) tensor per class: TP, FP, TN, FN, precision, recall.

    At the lowest threshold everything is predicted positive: TP + FN = positives and
    TP + FP = all 40 test images; recall there is 1.
    """
    _, acc = run
    labels = [label for _, label in load_cifar10(data_root, train=False)]
    for tag in acc.Tags()["tensors"]:
        assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "pr_curves"
        (event,) = acc.Tensors(tag)
        assert event.step == 0
        data = tensor_util.make_ndarray(event.tensor_proto)
        assert data.shape == (6, 127)
        tp, fp, tn, fn, precision, recall = data
        assert tp[0] + fp[0] == 40
        assert tn[0] == 0
        # the positives of a class are its test images, counted here from the data set
        assert tp[0] + fn[0] == labels.count(CLASSES.index(tag)), tag
        assert recall[0] == pytest.approx(1.0) or tp[0] + fn[0] == 0
        assert np.all((precision >= 0) & (precision <= 1))


def test_the_embedding_writes_tensors_metadata_sprite_and_config(run, data_root):
    """add_embedding writes tensors.tsv, metadata.tsv, a sprite and projector_config.pbtxt.

    32 images of 3x32x32 flatten to 3072 features; the sprite tiles 32 thumbnails
    in a square of ceil(sqrt(32)) = 6 per side: 192 x 192 pixels.
    """
    written, _ = run
    default = written.logdir / "00000" / "default"
    rows = (default / "tensors.tsv").read_text().strip().splitlines()
    assert len(rows) == written.embedding_rows == 32
    assert all(len(r.split("\t")) == 3072 for r in rows)
    labels = (default / "metadata.tsv").read_text().strip().splitlines()
    assert len(labels) == 32
    assert set(labels) <= set(CLASSES)
    with Image.open(default / "sprite.png") as sprite:
        assert sprite.size == (192, 192)
        first_tile = np.asarray(sprite.convert("RGB"))[:32, :32].astype(int)
    # the first thumbnail is the first test image, un-normalized: its own pixels, +-1 level
    first_image = np.asarray(load_cifar10(data_root, train=False)[0][0]).astype(int)
    assert np.abs(first_tile - first_image).max() <= 1
    config = (written.logdir / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "00000/default/tensors.tsv"' in config
    assert 'metadata_path: "00000/default/metadata.tsv"' in config
    assert "single_image_dim: 32" in config


def test_add_scalars_writes_one_subdirectory_per_key(run):
    """add_scalars('loss', {'train': ..., 'val': ...}, step) writes logdir/loss_train and logdir/loss_val.

    Each key becomes its own run (sub-directory) holding a scalar tagged with the main tag.
    """
    written, _ = run
    for key, scale in (("train", 1.0), ("val", 1.5)):
        sub = read(written.logdir / f"loss_{key}")
        events = sub.Scalars("loss")
        assert [e.step for e in events] == [0, 1, 2]
        torch.testing.assert_close(
            torch.tensor([e.value for e in events]),
            torch.tensor([scale / (s + 1) for s in range(3)]),
            rtol=1.2e-7,
            atol=0,
        )


def test_add_hparams_writes_a_subdirectory_with_the_metric(run):
    """add_hparams(hparams, metrics, run_name='hparams') writes logdir/hparams: the hparams and the metric.

    The hparams plugin's summaries carry no tensor, so EventAccumulator skips them;
    they are read from the raw events with TensorBoard's EventFileLoader and decoded
    with the plugin's own protobuf.
    """
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    written, _ = run
    sub = written.logdir / "hparams"
    events = read(sub).Scalars("hparam/final_loss")
    assert len(events) == 1
    assert events[0].value == pytest.approx(list(written.losses.values())[-1], rel=1e-6)
    kinds, hparams = [], {}
    for path in sub.glob("events.out.tfevents.*"):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != "hparams":
                    continue
                data = plugin_data_pb2.HParamsPluginData.FromString(
                    value.metadata.plugin_data.content
                )
                kinds.append(data.WhichOneof("data"))
                if data.HasField("session_start_info"):
                    hparams = {
                        k: v.number_value for k, v in data.session_start_info.hparams.items()
                    }
    assert kinds == ["experiment", "session_start_info", "session_end_info"]
    assert hparams == {"lr": 0.001, "momentum": 0.9, "batch_size": 4.0}


@pytest.mark.fact
def test_add_graph_traces_with_torch_jit_which_is_deprecated(tmp_path):
    """add_graph works by torch.jit.trace, which recent torch marks deprecated (FutureWarning).

    Tracing warns that ``torch.jit.trace`` is deprecated in favour of
    ``torch.compile``/``torch.export`` — today's warning, tomorrow's breakage for
    ``SummaryWriter.add_graph``. Bisected on the CPU: torch 2.9.1 says nothing; 2.10.0
    to 2.13.0 raise a DeprecationWarning, which Python hides outside ``__main__``, so
    users of a module never saw it; from 2.14.0 it is a FutureWarning, shown to all.
    """
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(tmp_path) as writer:
        raised = releases.add_graph_jit_warnings(writer, torch.nn.Linear(3, 2), torch.randn(1, 3))
    assert raised == releases.add_graph_jit_warning_expected()
    assert read(tmp_path).Tags()["graph"] is True
