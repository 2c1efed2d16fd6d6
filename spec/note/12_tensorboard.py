"""Visualizing Models, Data, and Training with TensorBoard — graded on what TensorBoard shows.

Beyond the note: its section is one link (line 504) to the official tutorial, so what
an implementation must do here is what that tutorial does, in its order:

1. ``matplotlib_imshow(img, one_channel=False)`` un-normalises an image and draws it;
2. ``add_image`` logs a grid of one batch's four images;
3. ``add_graph`` logs the model's graph;
4. ``add_embedding`` logs images for the projector: features, class names, thumbnails;
5. the training loop logs the running loss as "training loss" and, at the same steps,
   ``plot_classes_preds``' figure as "predictions vs. actuals";
6. ``add_pr_curve`` logs one precision-recall curve per class.

``write_run(logdir, data_root)`` does all of it on the CIFAR ``Net`` and a generated
CIFAR-10 (the tutorial uses Fashion-MNIST), and each test reads the run back with
TensorBoard's own reader: a run is graded on what a user would see, not on what the code
returns or how it names things the tutorial leaves open (the grid's tag, the figure's
size). Two lines of the tutorial log pictures TensorBoard cannot show as they are — the
grid still normalised, the thumbnails as uint8 pixels — and the facts at the end show
both; code that repeats them is told it met the tutorial's erratum.
"""

import warnings

import numpy as np
import pytest
import torch
from scipy.special import softmax

from spec.helpers import pictures, releases, teach
from spec.helpers.data import CLASSES, load_cifar10, write_cifar
from spec.helpers.implementation import impl
from spec.helpers.tensorboard_files import (
    decoded_pixels,
    grid_tiles,
    logged_embeddings,
    logged_still_normalised,
    nearest_image,
    read_events,
)

pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="needs the tensorboard package (its event-file reader)",
)
plt = pytest.importorskip("matplotlib.pyplot", reason="the tutorial draws with matplotlib")

tb = impl.tensorboard_tutorial
#: Who expects what this chapter checks: the note only links the tutorial.
TUTORIAL = "the tutorial the note links"
#: The tutorial's tags for the training loss and the predictions figure.
LOSS, FIGURE = "training loss", "predictions vs. actuals"


def say(call, expects, got, did_you=None):
    return teach.say(call, expects, got, did_you, by=TUTORIAL)


# ----------------------------------------------------------------------------- 1. showing an image
def test_matplotlib_imshow_draws_the_image_un_normalised():
    """``matplotlib_imshow(img)`` draws ``img / 2 + 0.5`` as an (H, W, 3) picture.

    ``x / 2 + 0.5`` inverts ``Normalize((0.5,) * 3, (0.5,) * 3)``; matplotlib wants the
    channels last. Graded on what is drawn on the current axes, read back from matplotlib.
    """
    img = torch.linspace(-1, 1, 3 * 4 * 5).reshape(3, 4, 5)
    drawn = drawing(lambda: tb.matplotlib_imshow(img))
    expected = (img.numpy() / 2 + 0.5).transpose(1, 2, 0)
    assert len(drawn) == 1, say("matplotlib_imshow(img)", "one picture drawn", f"{len(drawn)}")
    teach.close(
        np.asarray(drawn[0].get_array(), dtype=np.float64), expected.astype(np.float64),
        call="matplotlib_imshow(img)", rtol=0, atol=1e-6,
        expects="the picture img / 2 + 0.5, channels last: (H, W, 3) = (4, 5, 3)",
    )  # fmt: skip


def test_matplotlib_imshow_one_channel_draws_the_mean_in_greys():
    """``matplotlib_imshow(img, one_channel=True)`` draws the channels' mean, in greys.

    The tutorial's images are Fashion-MNIST's, one channel: it shows them with
    ``cmap="Greys"``.
    """
    img = torch.linspace(-1, 1, 3 * 4 * 5).reshape(3, 4, 5)
    drawn = drawing(lambda: tb.matplotlib_imshow(img, one_channel=True))
    assert len(drawn) == 1, say("matplotlib_imshow(img, one_channel=True)", "one picture",
                                f"{len(drawn)} drawn")  # fmt: skip
    teach.close(
        np.asarray(drawn[0].get_array(), dtype=np.float64),
        (img.numpy() / 2 + 0.5).mean(axis=0).astype(np.float64),
        call="matplotlib_imshow(img, one_channel=True)", rtol=0, atol=1e-6,
        expects="the mean over channels of img / 2 + 0.5: (H, W) = (4, 5)",
    )  # fmt: skip
    cmap = drawn[0].get_cmap().name
    assert cmap == "Greys", say("matplotlib_imshow(img, one_channel=True)",
                                'cmap="Greys"', f"cmap {cmap!r}")  # fmt: skip


# ----------------------------------------------------------------------------- 2. the image grid
def test_the_run_logs_the_tutorials_images_loss_pr_curves_and_graph(run):
    """One image grid (any tag), "training loss", "predictions vs. actuals", a PR curve per
    class named after it, and the graph."""
    tags = run.acc.Tags()
    images = set(tags["images"])
    assert (FIGURE in images, len(images)) == (True, 2), say(
        "write_run: add_image and add_figure",
        f"two image tags: the grid's (the tutorial's is four_fashion_mnist_images) and {FIGURE!r}",
        sorted(images),
    )
    assert LOSS in tags["scalars"], say(
        "write_run: add_scalar", f"the loss under {LOSS!r}", tags["scalars"]
    )
    assert sorted(tags["tensors"]) == sorted(CLASSES), say(
        "write_run: add_pr_curve(classes[i], ...)", "one PR curve per class, named after it",
        sorted(tags["tensors"]),
    )  # fmt: skip
    assert tags["graph"], say("write_run: add_graph(net, images)", "a graph", "none logged")


def test_the_image_grid_shows_the_batch_s_four_images(run, data_root, record_property):
    """``add_image(tag, make_grid(images))``: a PNG of four training images side by side.

    ``make_grid`` puts 2 pixels around each 32 x 32 image: 2 + 4 x 34 = 138 wide, 36 high.
    Each tile must be one of the training images, un-normalised to its own pixels (within
    one grey level of rounding).
    """
    (tag,) = set(run.acc.Tags()["images"]) - {FIGURE}
    grid = decoded_pixels(run.acc.Images(tag)[0])
    pictures.show(record_property, f"what TensorBoard shows under {tag!r}", pictures.png_of(grid))
    call = f"write_run: add_image({tag!r}, make_grid(images))"
    assert grid.shape == (36, 138, 3), say(call, "36 x 138 pixels: four 32 x 32 images",
                                           f"{grid.shape[0]} x {grid.shape[1]}")  # fmt: skip
    training = np.stack([np.asarray(image) for image, _ in load_cifar10(data_root)])
    for k, tile in enumerate(grid_tiles(grid)):
        _, off = nearest_image(tile, training)
        if off > 1:
            _, off_normalised = nearest_image(tile, logged_still_normalised(training))
            hint = teach.GRID_STILL_NORMALISED if off_normalised <= 1 else None
            pytest.fail(say(call, "each tile a training image, its own pixels",
                            f"tile {k} differs from every one by {off} grey levels or more",
                            hint))  # fmt: skip


# ----------------------------------------------------------------------------- 3. the graph
def test_the_graph_is_the_net_s_two_convolutions_and_three_linear_layers(run):
    """``add_graph(net, images)`` traces the CIFAR ``Net``: two convolutions, three linears."""
    ops = [node.op for node in run.acc.Graph().node]
    found = (sum("convolution" in op for op in ops), sum(op == "aten::linear" for op in ops))
    assert found == (2, 3), say("write_run: add_graph(net, images)",
                                "the Net's 2 convolutions and 3 linear layers",
                                f"{found[0]} convolutions, {found[1]} linear")  # fmt: skip


# ----------------------------------------------------------------------------- 4. the projector
def test_the_projector_shows_each_image_with_its_class(run, data_root):
    """``add_embedding(features, metadata=class_labels, label_img=images)`` with 32 images.

    The projector reads ``projector_config.pbtxt``: a row of 3 x 32 x 32 = 3072 features per
    image, its class name, and a sprite of the thumbnails, ceil(sqrt(32)) = 6 to a side
    (192 x 192 pixels). Each thumbnail must be an image of the data set (train or test,
    within one grey level) and its line of metadata that image's class.
    """
    call = "write_run: add_embedding(features, metadata=class_labels, label_img=images)"
    found = logged_embeddings(run.logdir)
    assert len(found) == 1, say(call, "one embedding", f"{len(found)}")
    (emb,) = found
    widths = {len(row) for row in emb.tensors}
    assert (len(emb.tensors), widths) == (32, {3072}), say(
        call, "32 rows of 3072 features", f"{len(emb.tensors)} rows of {sorted(widths)}"
    )
    assert (len(emb.metadata), set(emb.metadata) <= set(CLASSES)) == (32, True), say(
        call, "32 class names, one per row", emb.metadata
    )
    sprite = None if emb.sprite is None else emb.sprite.shape[:2]
    assert sprite == (192, 192), say(call, "a 192 x 192 sprite of the thumbnails", sprite)
    sets = [load_cifar10(data_root), load_cifar10(data_root, train=False)]
    pixels = np.stack([np.asarray(image) for s in sets for image, _ in s])
    labels = [CLASSES[label] for s in sets for _, label in s]
    for k, tile in enumerate(grid_tiles(emb.sprite, padding=0)[:32]):
        index, off = nearest_image(tile, pixels)
        if off > 1:
            hint = teach.SPRITE_FROM_UINT8 if (tile == 255).mean() > 0.9 else None
            pytest.fail(say(call, "each thumbnail an image of the data set",
                            f"thumbnail {k} differs from every one by {off} levels or more",
                            hint))  # fmt: skip
        assert emb.metadata[k] == labels[index], say(
            call, f"thumbnail {k}'s class, {labels[index]!r}", repr(emb.metadata[k])
        )


# ----------------------------------------------------------------------------- 5. training
def test_the_training_loss_is_the_mean_of_each_ten_mini_batches(run):
    """``add_scalar("training loss", running_loss / 10, i)`` after mini-batches 9, 19, 29, 39.

    40 optimizer steps, one per mini-batch. An untrained net's cross-entropy is about
    ln 10 = 2.303, and 40 steps at lr 0.001 barely move it: a sum instead of a mean, or a
    running loss never reset to 0, is far off.
    """
    events = run.acc.Scalars(LOSS)
    steps = [e.step for e in events]
    call = "write_run: writer.add_scalar('training loss', running_loss / 10, i)"
    assert steps == [9, 19, 29, 39], say(call, "steps 9, 19, 29, 39", steps)
    values = [round(e.value, 3) for e in events]
    assert all(abs(v - np.log(10)) < 0.06 for v in values), say(
        call, "each value the mean of 10 losses, about ln 10 = 2.30", values,
        [teach.ITEM if len(set(values)) == 1 else None],
    )  # fmt: skip
    assert run.steps == 40, say(call, "40 optimizer steps", run.steps)


def test_the_predictions_figure_is_logged_at_each_loss_step(run, record_property):
    """``add_figure("predictions vs. actuals", plot_classes_preds(...), i)`` at the loss's steps."""
    events = run.acc.Images(FIGURE)
    steps = [e.step for e in events]
    call = "write_run: writer.add_figure('predictions vs. actuals', ...)"
    assert steps == [e.step for e in run.acc.Scalars(LOSS)], say(
        call, "a figure at each step the loss is logged", steps
    )
    picture = decoded_pixels(events[0])
    caption = f"'predictions vs. actuals' at step {steps[0]}, as TensorBoard shows it"
    pictures.show(record_property, caption, pictures.png_of(picture))
    assert picture.std() > 0, say(call, "a drawn figure", "a blank picture")


def test_plot_classes_preds_titles_each_image_with_its_prediction_and_truth():
    """Each of the four images titled "<predicted>, <probability>%\\n(label: <truth>)",
    green when right, red when wrong; one row, no ticks, the image drawn in each.

    The "net"'s scores are fixed, so the probabilities are known (SciPy's softmax): image 0
    is predicted "car", rightly; image 1 "bird", but it is a "cat".
    """
    scores = torch.full((4, 10), -10.0)
    scores[0, 1], scores[0, 0], scores[1, 2], scores[2, 5], scores[3, 9] = 2.0, 1.5, 3, 1, 1
    labels = torch.tensor([1, 3, 5, 0])
    probs = softmax(scores.numpy().astype(np.float64), axis=1)
    images = torch.linspace(-1, 1, 4 * 3 * 32 * 32).reshape(4, 3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a softmax without dim= would warn
        fig = tb.plot_classes_preds(FixedScores(scores), images, labels)
    try:
        axes = fig.get_axes()
        call = "plot_classes_preds(net, images, labels)"
        assert len(axes) == 4, say(call, "one subplot per image: 4", len(axes))
        titles = [ax.get_title() for ax in axes]
        predicted = probs.argmax(axis=1)
        expected = [
            f"{CLASSES[p]}, {100 * probs[i, p]:.1f}%\n(label: {CLASSES[labels[i]]})"
            for i, p in enumerate(predicted)
        ]
        assert titles == expected, say(call, f"the titles {expected}", titles)
        colors = [ax.title.get_color() for ax in axes]
        assert colors == ["green", "red", "green", "red"], say(
            call, "green when right, red when wrong", colors
        )
        ticks = [(len(ax.get_xticks()), len(ax.get_yticks())) for ax in axes]
        assert set(ticks) == {(0, 0)}, say(call, "no ticks (xticks=[], yticks=[])", ticks)
        grids = {ax.get_subplotspec().get_gridspec().get_geometry() for ax in axes}
        assert grids == {(1, 4)}, say(call, "one row of 4 subplots", grids)
        for k, ax in enumerate(axes):
            shown = [np.asarray(i.get_array(), dtype=np.float64) for i in ax.get_images()]
            colour = (images[k].numpy() / 2 + 0.5).transpose(1, 2, 0)
            assert any(
                np.allclose(s, colour, atol=1e-6) or np.allclose(s, colour.mean(axis=2), atol=1e-6)
                for s in shown
            ), say(call, f"image {k} drawn un-normalised in its subplot (colour or grey)",
                   f"{len(shown)} pictures, none of them image {k}")  # fmt: skip
    finally:
        plt.close(fig)


# ----------------------------------------------------------------------------- 6. PR curves
def test_each_pr_curve_counts_the_test_set_s_positives(run, data_root):
    """``add_pr_curve(classes[i], labels == i, probs[:, i], global_step=0)`` for each class.

    TensorBoard stores a (6, 127) tensor per class: TP, FP, TN, FN, precision, recall at
    127 thresholds. At the lowest everything is predicted positive: TP + FN = the class's
    test images (counted here from the data set), TP + FP = all 40, recall 1.
    """
    labels = [label for _, label in load_cifar10(data_root, train=False)]
    for tag in run.acc.Tags()["tensors"]:
        call = f"write_run: add_pr_curve({tag!r}, ...)"
        (event,) = run.acc.Tensors(tag)
        data = tensor_util().make_ndarray(event.tensor_proto)
        assert (event.step, data.shape) == (0, (6, 127)), say(
            call, "step 0, a (6, 127) curve", (event.step, data.shape)
        )
        tp, fp, tn, fn, precision, _recall = data
        positives = labels.count(CLASSES.index(tag))
        got = {"TP+FP": tp[0] + fp[0], "TN": tn[0], "TP+FN": tp[0] + fn[0]}
        assert got == {"TP+FP": 40, "TN": 0, "TP+FN": positives}, say(
            call, f"at the lowest threshold TP+FP = 40, TN = 0, TP+FN = {positives}", got
        )
        assert np.all((precision >= 0) & (precision <= 1)), say(call, "precision in [0, 1]",
                                                               precision)  # fmt: skip


# ----------------------------------------------------------------------------- the reference's own
@pytest.mark.extra
def test_matplotlib_imshow_returns_what_it_drew_clipped_to_0_1():
    """The reference's ``matplotlib_imshow`` also returns the array it drew, values outside
    [-1, 1] (an augmentation's overshoot) clipped; the tutorial's returns nothing."""
    img = torch.linspace(-1.5, 1.5, 3 * 4 * 5).reshape(3, 4, 5)
    out = None

    def draw():
        nonlocal out
        out = tb.matplotlib_imshow(img)

    drawing(draw)
    expected = np.clip(img.numpy() / 2 + 0.5, 0, 1).transpose(1, 2, 0)
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-7)
    # in greys too: the channels' mean, clipped (the same ramp in every channel, from -3
    # to 3: its ends overshoot)
    ramp = torch.linspace(-3, 3, 4 * 5).reshape(1, 4, 5).expand(3, 4, 5)
    grey = drawing(lambda: tb.matplotlib_imshow(ramp, one_channel=True))[0].get_array()
    expected = np.clip(ramp.numpy().mean(axis=0) / 2 + 0.5, 0, 1)
    np.testing.assert_allclose(np.asarray(grey), expected, rtol=0, atol=1e-7)
    assert (expected.min(), expected.max()) == (0, 1)  # the overshoot is there to clip


@pytest.mark.extra
def test_the_reference_s_figure_is_12_by_3_inches():
    """The reference's figure is one 12 x 3 inch row whatever the number of images."""
    fig = tb.plot_classes_preds(FixedScores(torch.zeros(2, 10)), torch.zeros(2, 3, 32, 32),
                                torch.tensor([0, 1]))  # fmt: skip
    try:
        assert tuple(fig.get_size_inches()) == (12, 3)
    finally:
        plt.close(fig)


@pytest.mark.extra
def test_the_reference_names_its_grid_after_its_data(run):
    """The reference logs its grid as "four_cifar10_images" (the tutorial's is
    "four_fashion_mnist_images": each names its data set) and keeps its three tags in
    constants."""
    assert (tb.IMAGE_GRID_TAG, tb.LOSS_TAG, tb.FIGURE_TAG) == ("four_cifar10_images", LOSS, FIGURE)
    assert set(run.acc.Tags()["images"]) == {"four_cifar10_images", FIGURE}


@pytest.mark.extra
def test_add_scalars_writes_one_subdirectory_per_key(run):
    """``add_scalars("loss", {"train": ..., "val": ...}, step)`` writes logdir/loss_train and
    logdir/loss_val, each a run holding the main tag."""
    for key, scale in (("train", 1.0), ("val", 1.5)):
        events = read_events(run.logdir / f"loss_{key}").Scalars("loss")
        assert [e.step for e in events] == [0, 1, 2]
        torch.testing.assert_close(
            torch.tensor([e.value for e in events]),
            torch.tensor([scale / (s + 1) for s in range(3)]),
            rtol=1.2e-7,  # scalars are stored as float32
            atol=0,
        )


@pytest.mark.extra
def test_add_hparams_writes_a_subdirectory_with_the_metric(run):
    """``add_hparams(hparams, {"hparam/final_loss": ...}, run_name="hparams")`` writes
    logdir/hparams: the hyperparameters and the last logged training loss.

    The hparams plugin's summaries carry no tensor, so EventAccumulator skips them: they
    are read from the raw events with TensorBoard's EventFileLoader and the plugin's protobuf.
    """
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    from tensorboard.plugins.hparams import plugin_data_pb2

    sub = run.logdir / "hparams"
    (final,) = read_events(sub).Scalars("hparam/final_loss")
    assert final.value == pytest.approx(run.acc.Scalars(LOSS)[-1].value, rel=1e-6)
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


# ----------------------------------------------------------------------------- PyTorch and the tutorial
@pytest.mark.fact
def test_a_grid_logged_still_normalised_turns_every_pixel_below_mid_grey_black(tmp_path,
                                                                               data_root):  # fmt: skip
    """The tutorial's erratum: ``add_image(tag, make_grid(images))`` on images normalised to
    [-1, 1] stores each value times 255, clipped — the pixels below mid-grey come out black.

    Its line ``writer.add_image('four_fashion_mnist_images', img_grid)`` logs the grid it
    just drew with ``matplotlib_imshow`` (which un-normalises) without un-normalising it.
    """
    import torchvision
    from torch.utils.tensorboard import SummaryWriter
    from torchvision import transforms

    normalise = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    first_four = [image for image, _ in load_cifar10(data_root)][:4]
    with SummaryWriter(tmp_path) as writer:
        grid = torchvision.utils.make_grid(torch.stack([normalise(i) for i in first_four]))
        writer.add_image("grid", grid)
    stored = decoded_pixels(read_events(tmp_path).Images("grid")[0])
    for tile, image in zip(grid_tiles(stored), first_four, strict=True):
        pixels = np.asarray(image)
        assert np.abs(tile.astype(int) - logged_still_normalised(pixels).astype(int)).max() <= 1
        assert ((tile == 0) == (pixels < 128)).all()  # black exactly where darker than 128


@pytest.mark.fact
def test_uint8_thumbnails_come_out_white_in_the_sprite(tmp_path):
    """The tutorial's second erratum: ``add_embedding(..., label_img=images.unsqueeze(1))``
    with ``trainset.data``'s uint8 pixels — add_embedding scales thumbnails by 255 as if
    they were in [0, 1], so every pixel above 0 saturates to white."""
    from torch.utils.tensorboard import SummaryWriter

    gen = torch.Generator().manual_seed(0)
    pixels = torch.randint(1, 256, (4, 1, 8, 8), dtype=torch.uint8, generator=gen)
    with SummaryWriter(tmp_path) as writer:
        writer.add_embedding(pixels.reshape(4, -1).float(), label_img=pixels)
    (emb,) = logged_embeddings(tmp_path)
    assert emb.sprite.shape[:2] == (16, 16)
    assert (emb.sprite == 255).all()


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
    assert read_events(tmp_path).Tags()["graph"] is True


def test_writing_the_run_raises_no_warning_of_its_own(run):
    """write_run warns about nothing but what torch says of add_graph's tracer.

    (A softmax without ``dim=`` would say "Implicit dimension choice"; matplotlib says
    "Clipping input data" of a picture outside [0, 1]. Tracing a model that reads its
    input's shape in Python says TracerWarning: torch's, and harmless here.)
    """
    assert run.own_warnings == [], say("write_run", "no warning", run.own_warnings)
    # ...and it does not hide what torch says of the tracer's future (see the fact above)
    assert releases.add_graph_jit_warning_expected() <= set(run.jit_warnings), say(
        "write_run",
        "torch's own warning about torch.jit.trace to reach its caller",
        "it was silenced",
    )


# ----------------------------------------------------------------------------- plumbing
class FixedScores(torch.nn.Module):
    """A "net" whose scores are given: predictions and probabilities known in advance."""

    def __init__(self, scores):
        super().__init__()
        self.scores = scores

    def forward(self, x):
        return self.scores[: len(x)]


def drawing(draw) -> list:
    """The pictures ``draw()`` put on the current axes of a fresh figure."""
    fig = plt.figure()
    try:
        draw()
        return list(plt.gca().get_images())
    finally:
        plt.close(fig)


def tensor_util():
    from tensorboard.util import tensor_util

    return tensor_util


class Run:
    """A run ``write_run`` wrote, read back; what it warned about, its optimizer steps."""

    def __init__(self, logdir, caught, steps):
        self.logdir, self.acc, self.steps = logdir, read_events(logdir), steps
        self.own_warnings = [
            f"{w.category.__name__}: {w.message}" for w in caught
            if "torch.jit.trace" not in str(w.message)
            and not issubclass(w.category, torch.jit.TracerWarning)
            and not ("site-packages" in w.filename and ("tensorboard" in w.filename
                                                         or "google" in w.filename))
        ]  # fmt: skip
        self.jit_warnings = [w.category for w in caught if "torch.jit.trace" in str(w.message)]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return write_cifar(tmp_path_factory.mktemp("tb-data"), n_train=200, n_test=40)


@pytest.fixture(scope="module")
def run(tmp_path_factory, data_root):
    """``write_run`` with its defaults (40 mini-batches of 4, the loss every 10, 32 images
    embedded), its warnings caught and its ``SGD.step`` calls counted."""
    logdir = tmp_path_factory.mktemp("tb") / "run"
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
        tb.write_run(logdir, data_root)
    plt.close("all")
    return Run(logdir, caught, len(steps))
