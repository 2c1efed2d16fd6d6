"""Pretained models — torchvision.models, VGG16 feature extraction, and Cadene's pretrainedmodels.

Real ImageNet weights need the internet: those tests are marked ``network``. Everything
else runs on random weights, or on weights served from a ``file://`` URL through the
real ``torch.hub`` loading path.
"""

import copy
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn as nn
from PIL import Image
from torchvision import models

from spec.helpers import once, teach
from spec.helpers.data import publish_state_dict
from spec.helpers.drift import GATES
from spec.helpers.implementation import impl
from spec.helpers.teach import say

pm = impl.pretrained_models

#: The note's val_transform constants (常用训练和验证数据预处理): ImageNet's mean and std.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def vgg16():
    """torchvision's VGG16 with random weights: the model the extractors are handed."""
    return vgg16_drawn_from_seed_0()


@once.built_once
def vgg16_drawn_from_seed_0():
    """VGG16's weights drawn once per process, a copy of them for each module.

    Drawn once, by torchvision's own initialisation (VGG's ``__init__``): the layers'
    default draws, which it then draws over, are skipped (``torch.nn.utils.skip_init``'s
    idea, for a whole model): 0.6 s instead of 1.0 s on the 2-core machine."""
    with torch.random.fork_rng(), _layers_left_undrawn(nn.Linear, nn.Conv2d):
        torch.manual_seed(0)
        return models.vgg16(weights=None).eval()


class _layers_left_undrawn:
    """Within it, the given layer classes allocate their parameters without drawing them
    (``reset_parameters`` does nothing): for a model whose ``__init__`` draws them again."""

    def __init__(self, *layers: type[nn.Module]):
        self.layers = layers
        self.saved = [layer.reset_parameters for layer in layers]

    def __enter__(self):
        for layer in self.layers:
            layer.reset_parameters = lambda self: None

    def __exit__(self, *exc):
        for layer, reset in zip(self.layers, self.saved, strict=True):
            layer.reset_parameters = reset


@pytest.fixture(scope="module")
def images_224():
    return torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))


# ====================================================================== torchvision.models
def test_vgg16_is_torchvisions_vgg16_built_without_weights():
    """vgg16() is torchvision's VGG16 with 138,357,544 parameters, built without downloading weights.

    Beyond the note: its torchvision.models section is only links; this checks what the
    linked documentation describes.

    Built on the meta device (shapes only, nothing drawn): the count is VGG16's published
    one.
    """
    with torch.device("meta"):
        model = pm.vgg16()
    assert isinstance(model, models.VGG), say(
        "vgg16()", "torchvision.models.VGG", type(model).__name__
    )
    count = sum(p.numel() for p in model.parameters())
    assert count == 138_357_544, say("vgg16()", "VGG16's 138,357,544 parameters", f"{count:,}")


def test_vgg16_features_give_512x7x7_at_224(vgg16, images_224):
    """VGG16's features turn a 224x224 image into a (512, 7, 7) map, under eval() and no_grad.

    Note: "[Pytorch：利用预训练好的VGG16网络提取图片特征]"

    Five 2x2 max-pools: 224 / 2**5 = 7. The model is handed over in training mode: the
    extractor itself must switch it to eval().
    """
    vgg16.train()
    try:
        out = pm.vgg16_conv_features(vgg16, images_224)
        call = "vgg16_conv_features(model, images)"
        assert out.shape == (1, 512, 224 // 2**5, 224 // 2**5), say(
            call, "(1, 512, 7, 7)", tuple(out.shape)
        )
        assert not out.requires_grad, say(
            call, "features without a graph", "out.requires_grad", teach.NO_GRAD
        )
        assert not vgg16.training, say(
            call, "the model in eval() mode", "still in training mode", teach.EVAL
        )
    finally:
        vgg16.eval()


def test_vgg16_up_to_fc7_gives_4096_features(vgg16):
    """The classifier cut after fc7 (and its ReLU) gives 4096-d features equal to the full path.

    Note: "[Pytorch：利用预训练好的VGG16网络提取图片特征]"

    Independent check: the same activations computed step by step from VGG16's own
    modules; ReLU output is non-negative. The images are small: VGG's adaptive average
    pool brings any size to fc6 as 512 x 7 x 7 (the test above has the 224 x 224 map),
    and five passes at 224 took 0.9 s.
    """
    # a copy, handed over in training mode: the extractor must be in eval(); the article
    # cuts the model's own classifier, which may change the model it is given
    fc7 = pm.vgg16_fc7(copy.deepcopy(vgg16).train())
    image = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        out, again = fc7(image), fc7(image)
    assert not fc7.training, say(
        "vgg16_fc7(model)", "an extractor in eval() mode", "training mode", teach.EVAL
    )
    torch.testing.assert_close(
        again,
        out,
        rtol=0,
        atol=0,
        msg=say("vgg16_fc7(model)", "the same features every call", "they changed", teach.EVAL),
    )
    with torch.no_grad():
        x = torch.flatten(vgg16.avgpool(vgg16.features(image)), 1)
        expected = torch.relu(vgg16.classifier[3](torch.relu(vgg16.classifier[0](x))))
    assert out.shape == (1, 4096), say("vgg16_fc7(model)(images)", "(1, 4096)", tuple(out.shape))
    assert bool((out >= 0).all()), say(
        "vgg16_fc7(model)(images)", "fc7's activations after its ReLU: none negative",
        f"{int((out < 0).sum())} negative", "cut one layer too early, before fc7's ReLU?",
    )  # fmt: skip
    teach.close(out, expected, call="vgg16_fc7(model)(images)", rtol=0, atol=0,
                expects="fc6, ReLU, fc7, ReLU of the features (dropout off)")  # fmt: skip
    # any size and any batch: two 32 x 48 images (a 1 x 1 map, pooled up to 7 x 7), each
    # its own row of features
    small = torch.randn(2, 3, 32, 48, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        x = torch.flatten(vgg16.avgpool(vgg16.features(small)), 1)
        expected = torch.relu(vgg16.classifier[3](torch.relu(vgg16.classifier[0](x))))
        teach.close(fc7(small), expected, call="vgg16_fc7(model)(two 32x48 images)", rtol=0,
                    atol=0, expects="a row of fc7 features per image, at any image size")  # fmt: skip


def test_resnet18_builds_without_weights_and_classifies_1000_classes():
    """models.resnet18(weights=None) builds a randomly initialised 1000-class network.

    Beyond the note: its torchvision.models section is only links; this checks what the
    linked documentation describes.

    11,689,512 parameters: ResNet-18's published count.
    """
    net = pm.resnet18()
    assert sum(p.numel() for p in net.parameters()) == 11_689_512, say(
        "resnet18()",
        "11,689,512 parameters, ResNet-18's published count",
        sum(p.numel() for p in net.parameters()),
    )
    assert net.eval()(torch.randn(1, 3, 64, 64)).shape == (1, 1000), say(
        "resnet18()(x)",
        "1000 ImageNet scores per image: (1, 1000)",
        tuple(net.eval()(torch.randn(1, 3, 64, 64)).shape),
    )


@pytest.mark.parametrize("name", ["resnet18", "vgg16"])
def test_the_head_can_be_replaced_for_10_classes(name, vgg16):
    """Replacing the last layer makes a 10-class model; everything before it is unchanged.

    Note: "[pytorch中的pre-train函数模型引用及修改]"
    """
    if name == "resnet18":
        original = pm.resnet18()
        before = {k: v.clone() for k, v in original.state_dict().items()}
    else:  # a copy is handed over; the fixture's own weights are what it must keep
        original, before = copy.deepcopy(vgg16), vgg16.state_dict()
    net = pm.replace_head(original, num_classes=10).eval()
    head_name = "fc" if name == "resnet18" else "classifier.6"
    head = net.get_submodule(head_name)
    assert (head.out_features, head.in_features) == (10, 512 if name == "resnet18" else 4096), say(
        f"replace_head({name}, 10)",
        "a head from the layer's inputs to 10 classes",
        (head.out_features, head.in_features),
    )
    for key, value in net.state_dict().items():
        if not key.startswith(head_name + "."):
            assert torch.equal(value, before[key]), key
    with torch.no_grad():
        assert net(torch.randn(1, 3, 64, 64)).shape == (1, 10), say(
            f"replace_head({name}, 10)(x)", "(1, 10)", tuple(net(torch.randn(1, 3, 64, 64)).shape)
        )


def test_the_head_is_for_the_ten_cifar_classes_unless_told(vgg16):
    """replace_head's default is CIFAR-10's 10 classes; anything but a ResNet or a VGG is refused.

    Note: "[pytorch中的pre-train函数模型引用及修改]"
    """
    net = pm.replace_head(pm.resnet18())
    assert net.fc.out_features == 10, say(
        "replace_head(resnet18())", "10 classes by default (CIFAR-10's)", net.fc.out_features
    )
    assert pm.replace_head(pm.resnet18(), num_classes=3).fc.out_features == 3, say(
        "replace_head(resnet18(), num_classes=3)",
        "3 classes",
        pm.replace_head(pm.resnet18(), num_classes=3).fc.out_features,
    )


def test_a_frozen_vgg_trains_only_its_last_classifier_layer(vgg16):
    """For a VGG, freeze_backbone leaves classifier[6] trainable, and nothing else.

    Note: "[pytorch中的pre-train函数模型引用及修改]"
    """
    try:
        trainable = pm.freeze_backbone(vgg16)
        head = {id(p) for p in vgg16.classifier[6].parameters()}
        assert {id(p) for p in trainable} == head, say(
            "freeze_backbone(vgg16)",
            "the head's parameters, classifier[6]'s, returned",
            f"{len(trainable)} other parameters",
        )
        assert [n for n, p in vgg16.named_parameters() if p.requires_grad] == [
            "classifier.6.weight", "classifier.6.bias"
        ], say("freeze_backbone(vgg16)", "requires_grad only for classifier.6", [n for n, p in vgg16.named_parameters() if p.requires_grad])  # fmt: skip
    finally:
        for p in vgg16.parameters():
            p.requires_grad_(True)


def test_a_frozen_backbone_changes_only_the_head_after_a_step():
    """With the backbone frozen, one optimizer step changes the head and nothing else.

    Note: "[pytorch中的pre-train函数模型引用及修改]"

    BatchNorm running statistics are buffers, not parameters: eval() keeps them fixed.
    """
    net = pm.replace_head(pm.resnet18(), 10)
    trainable = pm.freeze_backbone(net)
    net.eval()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    optimizer = torch.optim.SGD(trainable, lr=0.1)
    loss = nn.CrossEntropyLoss()(net(torch.randn(4, 3, 64, 64)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    optimizer.step()
    changed = {k for k, v in net.state_dict().items() if not torch.equal(v, before[k])}
    assert changed == {"fc.weight", "fc.bias"}, say(
        "freeze_backbone(resnet18) and a step", "only fc to change", sorted(changed)
    )
    assert all(p.grad is None for n, p in net.named_parameters() if not n.startswith("fc.")), say(
        "freeze_backbone(resnet18) and a backward",
        "no gradient for the frozen layers",
        [n for n, p in net.named_parameters() if p.grad is not None and not n.startswith("fc.")],
    )


@pytest.mark.fact
def test_pretrained_false_still_works_with_a_deprecation_warning():
    """models.resnet18(pretrained=False) still builds, warning that 'pretrained' is deprecated.

    Beyond the note: its torchvision.models section is only links; this checks what the
    linked documentation describes.

    Changed in torchvision 0.13: ``pretrained=True`` became
    ``weights=ResNet18_Weights.IMAGENET1K_V1`` (or ``"DEFAULT"``); the old keyword
    warns (it would download with True, so False is what can be pinned offline).
    """
    with pytest.warns(UserWarning, match="'pretrained' is deprecated since 0.13") as record:
        net = models.resnet18(pretrained=False)
    assert any("equivalent to passing `weights=None`" in str(w.message) for w in record)
    assert isinstance(net, models.ResNet)


def test_the_weights_enum_transforms_match_the_notes_val_transform():
    """VGG16_Weights.IMAGENET1K_V1.transforms() is the note's val_transform: Resize 256, CenterCrop 224, ImageNet mean/std.

    Note: "torchvision.transforms.Resize(256),"

    Same parameters, and the same output on a PIL image (up to float rounding in the
    normalization).
    """
    preset = models.VGG16_Weights.IMAGENET1K_V1.transforms()
    assert list(preset.resize_size) == [256], "torchvision itself: VGG16's preset resizes to 256"
    assert list(preset.crop_size) == [224], "torchvision itself: VGG16's preset crops 224"
    assert tuple(preset.mean) == IMAGENET_MEAN, "torchvision itself: ImageNet's mean"
    assert tuple(preset.std) == IMAGENET_STD, "torchvision itself: ImageNet's std"
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))
    torch.testing.assert_close(
        pm.note_val_transform()(image), preset(image), rtol=0, atol=1e-5,
        msg=say("note_val_transform()(image)", "Resize(256), CenterCrop(224), ToTensor, ImageNet Normalize", "other values"),
    )  # fmt: skip


# ====================================================================== weights through torch.hub
@pytest.fixture
def published(tmp_path):
    with torch.random.fork_rng():
        torch.manual_seed(1)
        source = pm.resnet18().eval()
    url = publish_state_dict(source.state_dict(), tmp_path / "server", "resnet18")
    return source, url, tmp_path / "hub"


def test_load_state_dict_from_url_loads_a_file_url_with_the_hash_checked(published):
    """torch.hub.load_state_dict_from_url(file://..., check_hash=True) gives a model with identical outputs.

    Beyond the note: its torchvision.models section is only links; this checks what the
    linked documentation describes.

    The real weights travel this path (download, hash check, cache, torch.load); only
    the URL scheme differs.
    """
    source, url, hub = published
    state = pm.load_weights_from_url(url, hub)
    model = pm.resnet18()
    model.load_state_dict(state)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), source(x), rtol=0, atol=0)
    assert [p.name for p in hub.iterdir()] == [url.rsplit("/", 1)[1]], say(
        "load_weights_from_url(url, model_dir)",
        "the file cached once in model_dir",
        sorted(p.name for p in hub.iterdir()),
    )  # cached once


def test_a_wrong_hash_is_refused_and_nothing_is_cached(published):
    """A file whose name promises another hash is refused; no file is left in the cache.

    Beyond the note: its torchvision.models section is only links; this checks what the
    linked documentation describes.
    """
    _, url, hub = published
    bad_url = url.rsplit("-", 1)[0] + "-deadbeef.pth"
    path = bad_url.removeprefix("file://")
    with open(url.removeprefix("file://"), "rb") as src, open(path, "wb") as dst:
        dst.write(src.read())
    call = "load_weights_from_url(url, model_dir)"
    with teach.raises(
        RuntimeError, r'invalid hash value \(expected "deadbeef"', call=call,
        expects='RuntimeError "invalid hash value (expected "deadbeef" ...": the file\'s '
        "name promises another hash", did_you="leave out check_hash=True?",
    ):  # fmt: skip
        pm.load_weights_from_url(bad_url, hub)
    left = sorted(p.name for p in hub.iterdir()) if hub.exists() else []
    assert not left, say(call, "nothing left in the cache after a refused file", left)


@pytest.mark.network
@pytest.mark.fact
def test_real_imagenet_weights_load(tmp_path):
    """With the internet, ResNet18_Weights.IMAGENET1K_V1 downloads and its hash checks.

    Beyond the note: its torchvision.models section is only links; this checks what the
    linked documentation describes.
    """
    torch.hub.set_dir(str(tmp_path))
    net = models.resnet18(weights=models.ResNet18_Weights.IMAGENET1K_V1)
    assert net.fc.out_features == 1000


# ====================================================================== pretrainedmodels
@pytest.mark.fact
def test_pretrainedmodels_does_not_declare_six_which_it_imports():
    """pretrainedmodels 0.7.4 imports six but does not declare it: without six, import fails.

    Beyond the note: its pretrainedmodels section is only a link to the library; this checks
    the library.

    Its metadata requires torch, torchvision, munch, tqdm — not six. Python 3 no longer
    brings six along, so ``pip install pretrainedmodels`` alone gives an unusable package.
    The import is retried with ``six`` made unimportable (``sys.modules['six'] = None``),
    and every module it loaded is removed again afterwards.
    """
    pytest.importorskip("pretrainedmodels")
    from importlib.metadata import requires

    from packaging.requirements import Requirement

    assert "six" not in {Requirement(r).name for r in requires("pretrainedmodels") or []}
    saved = dict(sys.modules)
    try:
        for name in [
            m for m in sys.modules if m == "pretrainedmodels" or m.startswith("pretrainedmodels.")
        ]:
            del sys.modules[name]
        for name in [m for m in sys.modules if m == "six" or m.startswith("six.")] + ["six"]:
            sys.modules[name] = None  # "six.moves" and friends too: six aliases them there
        with pytest.raises(ModuleNotFoundError, match="six"):
            import pretrainedmodels  # noqa: F401
    finally:
        for name in set(sys.modules) - set(saved):
            del sys.modules[name]
        sys.modules.update(saved)


@pytest.fixture(scope="module")
def pretrainedmodels():
    module = pytest.importorskip("pretrainedmodels")
    return module


@pytest.mark.fact
@pytest.mark.parametrize("name", ["resnet18", "densenet121"])
def test_pretrainedmodels_api_with_weights_from_a_file_url(
    pretrainedmodels, name, tmp_path, monkeypatch
):
    """A pretrainedmodels model loaded with weights has input_size, mean, std, input_range, features, logits, last_linear.

    Beyond the note: its pretrainedmodels section is only a link to the library; this checks
    the library.

    The settings' URL is pointed at a local file:// copy of torchvision weights, so
    the package's own ``load_pretrained`` runs for real.
    """
    source = getattr(models, name)(weights=None)
    url = publish_state_dict(source.state_dict(), tmp_path / "server", name)
    settings = pretrainedmodels.pretrained_settings[name]["imagenet"]
    monkeypatch.setitem(settings, "url", url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its torchvision pretrained=False calls
        model = pretrainedmodels.__dict__[name](num_classes=1000, pretrained="imagenet").eval()
    assert model.input_size == [3, 224, 224]
    assert model.input_space == "RGB"
    assert model.input_range == [0, 1]
    assert model.mean == list(IMAGENET_MEAN)
    assert model.std == list(IMAGENET_STD)
    assert isinstance(model.last_linear, nn.Linear)
    assert model.last_linear.out_features == 1000
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(
            model.logits(model.features(x)), source.eval()(x), rtol=1e-5, atol=1e-5
        )


@pytest.mark.fact
@pytest.mark.slow
def test_pretrainedmodels_vgg16_features_are_fc7_before_relu_not_conv_maps(
    pretrainedmodels, vgg16, images_224
):
    """pretrainedmodels' vgg16.features(x) is 4096-d (fc7 before its ReLU); torchvision's is (512, 7, 7).

    Note: "利用预训练好的VGG16网络提取图片特征"

    (The note links a post titled "extract image features with a pretrained VGG16".)

    Same weights copied across; its ``features`` runs the conv stack, skips
    torchvision's adaptive average pool, then fc6, ReLU, Dropout, fc7. So it also
    only accepts 224x224 inputs, where torchvision's VGG takes any size.

    The model is built on the meta device (shapes, no storage: 0.03 s instead of ~2 s
    of drawing 138M random weights that the copy overwrites) and
    ``load_state_dict(..., assign=True)`` puts the copied tensors in.
    """
    # before load_state_dict(assign=) arrived: build on the CPU and copy
    meta = GATES["load_state_dict(assign=)"].met()
    with warnings.catch_warnings(), torch.device("meta" if meta else "cpu"):
        warnings.simplefilter("ignore", UserWarning)
        model = pretrainedmodels.vgg16(num_classes=1000, pretrained=None).eval()
    assign = {"assign": True} if meta else {}
    model._features.load_state_dict(vgg16.features.state_dict(), **assign)
    model.linear0.load_state_dict(vgg16.classifier[0].state_dict(), **assign)
    model.linear1.load_state_dict(vgg16.classifier[3].state_dict(), **assign)
    model.last_linear.load_state_dict(vgg16.classifier[6].state_dict(), **assign)
    assert not any(t.is_meta for t in [*model.parameters(), *model.buffers()])
    with torch.no_grad():
        ours = model.features(images_224)
        x = torch.flatten(vgg16.features(images_224), 1)
        expected = vgg16.classifier[3](torch.relu(vgg16.classifier[0](x)))
        assert ours.shape == (1, 4096)
        torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-6)
        assert bool((ours < 0).any())  # before ReLU
        assert vgg16(torch.randn(1, 3, 160, 160)).shape == (1, 1000)
        with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
            model(torch.randn(1, 3, 160, 160))


# ----------------------------------------------------------------------------- the reference's own (not asked of your code)
@pytest.mark.extra
@pytest.mark.parametrize("name", ["vgg16", "resnet18"])
def test_the_builders_hand_their_weights_to_torchvision(name, monkeypatch):
    """vgg16(weights) and resnet18(weights) build torchvision's model with the weights given.

    Beyond the note: its torchvision.models section is only links; ``pretrained=True`` of
    that time is ``weights=...`` since torchvision 0.13.

    The real weights need the internet, so torchvision's builder is replaced by one that
    records what it was asked for: the weights given, passed on unchanged. (How the
    reference calls torchvision: an extra, another implementation may call it otherwise.)
    """
    asked = []
    monkeypatch.setattr(models, name, lambda **kwargs: asked.append(kwargs) or "built")
    weights = getattr(models, "VGG16_Weights" if name == "vgg16" else "ResNet18_Weights").DEFAULT
    assert getattr(pm, name)(weights) == "built"
    assert getattr(pm, name)() == "built"
    assert asked == [{"weights": weights}, {"weights": None}]


@pytest.mark.extra
def test_replace_head_refuses_a_model_it_does_not_know():
    """replace_head names what it takes when given something else.

    Beyond the note: the reference's own check.
    """
    with pytest.raises(TypeError, match=r"^replace_head expects a torchvision ResNet or VGG, got "
                       r"<class 'torch\.nn\.modules\.linear\.Linear'>$"):  # fmt: skip
        pm.replace_head(nn.Linear(2, 2))
