"""Visualizing Models, Data, and Training with TensorBoard — written with SummaryWriter, read back with TensorBoard's own reader."""

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from spec.helpers import releases
from spec.helpers.data import write_cifar
from spec.helpers.implementation import impl

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="needs the tensorboard package (its event-file reader)",
)
from tensorboard.util import tensor_util  # noqa: E402

tb = impl.tensorboard_tutorial
CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def read(logdir):
    """TensorBoard's EventAccumulator, keeping every event (size_guidance 0 = all)."""
    acc = event_accumulator.EventAccumulator(
        str(logdir), size_guidance={k: 0 for k in ("images", "scalars", "tensors", "graph")}
    )
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tb")
    write_cifar(root / "data", n_train=200, n_test=40)
    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace: pinned below
        torch.manual_seed(0)
        written = tb.write_run(root / "run", root / "data", steps=40, log_every=10)
    return written, read(root / "run")


def test_the_run_has_images_scalars_pr_curves_and_a_graph(run):
    """The event file holds the tutorial's images, the loss scalar, ten PR curves and the graph.

    Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
    the linked tutorial writes.
    """
    written, acc = run
    tags = acc.Tags()
    assert set(tags["images"]) == {tb.IMAGE_GRID_TAG, tb.FIGURE_TAG}
    assert tags["scalars"] == [tb.LOSS_TAG]
    assert sorted(tags["tensors"]) == sorted(written.pr_curve_tags)
    assert tags["graph"] is True


def test_the_image_grid_decodes_to_the_grid_size(run):
    """add_image of make_grid(4 images) stores a PNG of 2 + 4 x (32 + 2) by 36 pixels.

    Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
    the linked tutorial writes.

    make_grid puts a 2-pixel border around every image: width 2 + 4 * 34 = 138,
    height 2 + 34 = 36. The PNG is decoded to check, not just its header fields.
    """
    written, acc = run
    event = acc.Images(tb.IMAGE_GRID_TAG)[0]
    png = Image.open(io.BytesIO(event.encoded_image_string))
    assert png.format == "PNG"
    assert (png.width, png.height) == (138, 36) == (event.width, event.height)
    assert written.grid_shape == (3, 36, 138)
    assert np.asarray(png.convert("RGB")).std() > 0  # real pixels, not a blank image


def test_the_training_loss_has_one_value_per_logging_step(run):
    """add_scalar('training loss', running_loss / N, step) reads back with the same steps and values.

    Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
    the linked tutorial writes.

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


def test_the_predictions_figure_is_an_image_per_logging_step(run):
    """add_figure('predictions vs. actuals', fig, step) stores a rendered PNG at each step.

    Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
    the linked tutorial writes.
    """
    written, acc = run
    events = acc.Images(tb.FIGURE_TAG)
    assert [e.step for e in events] == written.figure_steps
    png = Image.open(io.BytesIO(events[0].encoded_image_string))
    assert png.width == 1200  # figsize 12 inches at matplotlib's default 100 dpi
    assert png.height == 300


def test_each_pr_curve_is_six_rows_of_127_thresholds(run):
    """add_pr_curve stores a (6, 127) tensor per class: TP, FP, TN, FN, precision, recall.

    Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
    the linked tutorial writes.

    At the lowest threshold everything is predicted positive: TP + FN = positives and
    TP + FP = all 40 test images; recall there is 1.
    """
    _, acc = run
    for tag in acc.Tags()["tensors"]:
        assert acc.SummaryMetadata(tag).plugin_data.plugin_name == "pr_curves"
        data = tensor_util.make_ndarray(acc.Tensors(tag)[0].tensor_proto)
        assert data.shape == (6, 127)
        tp, fp, tn, fn, precision, recall = data
        assert tp[0] + fp[0] == 40
        assert tn[0] == 0
        assert recall[0] == pytest.approx(1.0) or tp[0] + fn[0] == 0
        assert np.all((precision >= 0) & (precision <= 1))


def test_the_embedding_writes_tensors_metadata_sprite_and_config(run):
    """add_embedding writes tensors.tsv, metadata.tsv, a sprite and projector_config.pbtxt.

    Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
    the linked tutorial writes.

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
    config = (written.logdir / "projector_config.pbtxt").read_text()
    assert 'tensor_path: "00000/default/tensors.tsv"' in config
    assert 'metadata_path: "00000/default/metadata.tsv"' in config
    assert "single_image_dim: 32" in config


def test_add_scalars_writes_one_subdirectory_per_key(run):
    """add_scalars('loss', {'train': ..., 'val': ...}, step) writes logdir/loss_train and logdir/loss_val.

    Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
    the linked tutorial writes.

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

    Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
    the linked tutorial writes.

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

    Beyond the note: its TensorBoard section is only a link to the tutorial; this checks what
    the linked tutorial writes.

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
