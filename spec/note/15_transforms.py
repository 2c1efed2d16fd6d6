"""常用训练和验证数据预处理 — the note's train_transform and val_transform, and their v2 equivalents."""

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import ToTensor

from spec.helpers import note, releases, teach
from spec.helpers.implementation import impl
from spec.helpers.teach import say

t = impl.transforms

#: transforms.v2.ToImage arrived in torchvision 0.16: the v2 pipelines exist from then on.
needs_v2 = releases.needs("transforms v2")

#: The note's Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)).
MEAN = torch.tensor((0.485, 0.456, 0.406)).view(3, 1, 1)
STD = torch.tensor((0.229, 0.224, 0.225)).view(3, 1, 1)


def transform(name: str):
    """The implementation's ``train_transform`` or ``val_transform``, by name."""
    return t.train_transform if name == "train_transform" else t.val_transform


def the_notes(name: str):
    """The note's own ``train_transform`` or ``val_transform``, from its block (line 538)."""
    return note.note_object(538, name, "import torchvision\n")


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (300, 400, 3), dtype=np.uint8))


@pytest.mark.fact
def test_to_tensor_maps_hwc_uint8_0_255_to_chw_float_0_1():
    """ToTensor turns an HxWxC uint8 array in [0, 255] into a CxHxW float tensor in [0.0, 1.0].

    Note: "其中ToTensor操作会将PIL.Image或形状为H×W×D，数值范围为[0, 255]的np.ndarray转换为形状为D×H×W，数值范围为[0.0, 1.0]的torch.Tensor。"

    Expected from the formula v / 255 in float64, with the axes moved by NumPy.
    """
    array = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    x = ToTensor()(array)
    assert x.shape == (3, 5, 7)
    assert x.dtype == torch.float32
    expected = torch.from_numpy(array.transpose(2, 0, 1) / 255.0)
    torch.testing.assert_close(x.double(), expected, rtol=0, atol=6e-8)  # float32 of v/255
    assert ToTensor()(np.array([[[0, 255, 128]]], dtype=np.uint8)).flatten().tolist() == [
        0.0,
        1.0,
        pytest.approx(128 / 255),
    ]


@pytest.mark.fact
@pytest.mark.parametrize("name", ["train_transform", "val_transform"])
def test_the_notes_pipelines_take_pil_images_not_the_ndarrays_its_to_tensor_line_mentions(name):
    """The note's train_transform and val_transform start with a resize: an HxWxC ndarray is refused.

    Note: "其中ToTensor操作会将PIL.Image或形状为H×W×D，数值范围为[0, 255]的np.ndarray转换为形状为D×H×W"

    Erratum (by omission): ToTensor takes ndarrays, but it is the third step; the
    first step, a v1 resize, takes only PIL images or tensors. torchvision says
    "Unexpected type <class 'numpy.ndarray'>". Run on the note's own pipelines.
    """
    array = np.zeros((300, 400, 3), dtype=np.uint8)
    with pytest.raises(TypeError, match=r"Unexpected type <class 'numpy\.ndarray'>"):
        the_notes(name)(array)
    assert the_notes(name)(Image.fromarray(array)).shape == (3, 224, 224)


@pytest.mark.fact
def test_to_tensor_does_not_scale_non_uint8_arrays():
    """ToTensor scales only uint8 (and PIL) input: a float array keeps its values.

    Note: "数值范围为[0, 255]的np.ndarray转换为形状为D×H×W，数值范围为[0.0, 1.0]的torch.Tensor"

    The note's rule holds for uint8 arrays; a float64 array of 0..255 stays 0..255
    (and float64), which then breaks Normalize's assumptions silently.
    """
    x = ToTensor()(np.full((2, 2, 3), 255.0))
    assert x.dtype == torch.float64
    assert x.max().item() == 255.0


@pytest.mark.parametrize("name", ["train_transform", "val_transform"])
def test_both_transforms_give_3x224x224_float32_normalized(name, image):
    """train_transform and val_transform give (3, 224, 224) float32 within the normalized range.

    Note: "torchvision.transforms.Normalize(mean=(0.485, 0.456, 0.406),"

    Values lie in [(0 - mean) / std, (1 - mean) / std] per channel.
    """
    x = transform(name)(image)
    assert x.shape == (3, 224, 224), say(f"{name}(image)", "(3, 224, 224)", tuple(x.shape))
    assert x.dtype == torch.float32, say(f"{name}(image)", "float32 (ToTensor)", x.dtype)
    low, high = (0 - MEAN) / STD, (1 - MEAN) / STD
    assert bool((x >= low - 1e-6).all()), say(
        f"{name}(image)", "ImageNet-normalized values", x.min()
    )
    assert bool((x <= high + 1e-6).all()), say(
        f"{name}(image)", "ImageNet-normalized values", x.max()
    )


def test_val_transform_is_deterministic_and_is_resize_crop_normalize(image):
    """val_transform gives the same tensor every time: resize the short side to 256, take the centre 224.

    Note: "torchvision.transforms.CenterCrop(224),"

    Independent path: PIL resizes 400x300 to 341x256 (short side 256, aspect kept,
    int(256 * 400 / 300) = 341), crop box from (58, 16), then (v/255 - mean) / std.
    """
    a, b = t.val_transform(image), t.val_transform(image)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    resized = image.resize((341, 256), Image.BILINEAR)
    left, top = round((341 - 224) / 2), round((256 - 224) / 2)
    crop = np.asarray(resized.crop((left, top, left + 224, top + 224)), dtype=np.float64) / 255
    expected = (torch.from_numpy(crop.transpose(2, 0, 1)) - MEAN.double()) / STD.double()
    teach.close(
        a.double(), expected, call="val_transform(image)",
        expects="Resize(256), CenterCrop(224), ToTensor(), Normalize(mean=(0.485, 0.456, 0.406), "
        "std=(0.229, 0.224, 0.225))", rtol=0, atol=1e-5,
    )  # fmt: skip


@pytest.mark.parametrize("name", ["train_transform", "val_transform"])
def test_each_transform_is_the_notes_pipeline(name, image):
    """train_transform and val_transform give what the note's own pipelines give, under one seed.

    Note: "train_transform = torchvision.transforms.Compose(["

    The note's block (line 538, its indentation erratum fixed) is run here; both draw
    the same random crop and flip from the same seed. torchvision's ``transforms.v2``
    (``ToImage`` + ``ToDtype(scale=True)`` for ``ToTensor``) computes the same pipeline
    in another order of float32 operations: a few units in the last place (2.4e-7 each for
    values in [2, 4); they reach 2.64), so the results agree to 1e-6, not bit for bit.
    """
    for seed in (1, 2, 3):
        torch.manual_seed(seed)
        expected = the_notes(name)(image)
        torch.manual_seed(seed)
        try:
            got = transform(name)(image)
        except TypeError as error:  # a step that cannot take what the one before gives
            hint = teach.NORMALIZE_BEFORE_TO_TENSOR if "ormalize" in str(error) else None
            raise AssertionError(say(f"{name}(image)", "a tensor from a PIL image",
                                     f"TypeError: {error}", hint)) from None  # fmt: skip
        teach.close(
            got, expected, call=f"{name}(image), seed {seed}",
            expects="the note's Compose: the same steps, parameters and order", rtol=0, atol=1e-6,
        )  # fmt: skip


def test_train_transform_is_reproducible_under_a_seed_and_varies_without(image):
    """train_transform is random: the same seed repeats it, different draws differ.

    Note: "torchvision.transforms.RandomResizedCrop(size=224,"
    """
    torch.manual_seed(5)
    a = t.train_transform(image)
    torch.manual_seed(5)
    b = t.train_transform(image)
    c = t.train_transform(image)  # the RNG has moved on
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c), say(
        "train_transform(image), twice",
        "a new random crop or flip on the second call",
        "the same tensor",
    )


@pytest.mark.fact
def test_random_horizontal_flip_happens_about_half_the_time():
    """RandomHorizontalFlip() flips with probability 0.5.

    Note: "torchvision.transforms.RandomHorizontalFlip(),"

    400 draws: the count of flips is Binomial(400, 0.5), within 5 standard deviations
    (10 each) of 200.
    """
    from torchvision.transforms import RandomHorizontalFlip

    x = torch.arange(4.0).view(1, 1, 4)
    flips = sum(bool(RandomHorizontalFlip()(x)[0, 0, 0] == 3) for _ in range(400))
    assert abs(flips - 200) < 50


# ----------------------------------------------------------------------------- the reference's own (not asked of your code)
@pytest.mark.extra
def test_the_input_check_hands_an_image_to_its_pipeline(image):
    """The reference's input check passes a PIL image or a tensor on to the pipeline it wraps, unchanged.

    Beyond the note: the note's pipelines take the image directly.
    """
    seen = []
    checked = t.InputChecked(lambda x: seen.append(x) or "out")
    assert checked(image) == "out"
    tensor = torch.zeros(3, 8, 8)
    assert checked(tensor) == "out"
    assert seen == [image, tensor]
    assert repr(checked) == repr(checked.pipeline)


@pytest.mark.extra
def test_the_reference_names_the_fix_for_an_ndarray():
    """The reference's pipelines refuse an ndarray saying how to make it a PIL image.

    Beyond the note: torchvision's own words are "Unexpected type <class 'numpy.ndarray'>".
    """
    array = np.zeros((300, 400, 3), dtype=np.uint8)
    with pytest.raises(
        TypeError,
        match=r"^expected a PIL image or a \(C, H, W\) tensor, got a numpy array: convert with "
        r"PIL\.Image\.fromarray\(array\) first$",
    ):
        t.val_transform(array)
    assert t.val_transform(Image.fromarray(array)).shape == (3, 224, 224)


@pytest.mark.extra
@needs_v2
def test_transforms_v2_give_the_same_results_on_pil_images(image):
    """The transforms.v2 pipelines equal the note's on PIL input: val always, train under one seed.

    Note: "train_transform = torchvision.transforms.Compose(["

    v2 draws its random crop and flip with the same calls as v1, so one seed gives one
    crop. Normalization order differs by float rounding only.
    """
    torch.testing.assert_close(t.val_transform_v2(image), t.val_transform(image), rtol=0, atol=1e-6)
    torch.manual_seed(11)
    v1 = t.train_transform(image)
    torch.manual_seed(11)
    v2 = t.train_transform_v2(image)
    torch.testing.assert_close(v2, v1, rtol=0, atol=1e-6)


@pytest.mark.extra
@needs_v2
def test_tensor_input_is_resized_differently_from_pil_input(image):
    """On a uint8 tensor, v2's resize (torch's antialiased bilinear) is close to PIL's, not equal.

    Note: "其中ToTensor操作会将PIL.Image或形状为H×W×D"

    Measured here: at most about 0.02 after normalization (a few grey levels of 255);
    the tolerance 0.05 leaves room across releases, far below a real difference.
    """
    tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1)
    from_tensor = t.val_transform_v2(tensor)
    from_pil = t.val_transform_v2(image)
    assert from_tensor.shape == from_pil.shape == (3, 224, 224)
    assert not torch.equal(from_tensor, from_pil)
    torch.testing.assert_close(from_tensor, from_pil, rtol=0, atol=0.05)
