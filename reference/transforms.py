"""常用训练和验证数据预处理 — the note's training and validation transforms.

ToTensor turns a PIL.Image, or an H x W x C ``np.ndarray`` with values in [0, 255],
into a C x H x W ``torch.Tensor`` with values in [0.0, 1.0].
"""

from __future__ import annotations

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision.transforms import v2


class InputChecked:
    """Beyond the note: a transform pipeline that first checks it was given an image it can take.

    The note's pipelines start with Resize / RandomResizedCrop, which take a PIL image
    or a C x H x W tensor — not the H x W x C ndarray the note's ToTensor line mentions.
    torchvision's own message for anything else is "Unexpected type <class ...>"; this
    says what was expected.
    """

    def __init__(self, pipeline):
        self.pipeline = pipeline

    def __call__(self, image):
        if isinstance(image, np.ndarray):
            raise TypeError(
                "expected a PIL image or a (C, H, W) tensor, got a numpy array: "
                "convert with PIL.Image.fromarray(array) first"
            )
        if not isinstance(image, (Image.Image, torch.Tensor)):
            raise TypeError(
                f"expected a PIL image or a (C, H, W) tensor, got {type(image).__name__}"
            )
        return self.pipeline(image)

    def __repr__(self) -> str:
        return repr(self.pipeline)


MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

#: The note's training pipeline: RandomResizedCrop(size=224, scale=(0.08, 1.0)),
#: RandomHorizontalFlip(), ToTensor(), Normalize(mean=MEAN, std=STD) — a callable from a
#: PIL image to a normalized (3, 224, 224) tensor.
train_transform = InputChecked(
    torchvision.transforms.Compose(
        [
            torchvision.transforms.RandomResizedCrop(size=224, scale=(0.08, 1.0)),
            torchvision.transforms.RandomHorizontalFlip(),
            torchvision.transforms.ToTensor(),
            torchvision.transforms.Normalize(mean=MEAN, std=STD),
        ]
    )
)
#: The note's validation pipeline: Resize(256), CenterCrop(224), ToTensor(),
#: Normalize(mean=MEAN, std=STD); deterministic.
val_transform = InputChecked(
    torchvision.transforms.Compose(
        [
            torchvision.transforms.Resize(256),
            torchvision.transforms.CenterCrop(224),
            torchvision.transforms.ToTensor(),
            torchvision.transforms.Normalize(mean=MEAN, std=STD),
        ]
    )
)

# The same pipelines in transforms.v2 (ToTensor is deprecated there: ToImage + ToDtype).
# v2's ToImage arrived in torchvision 0.16 (0.15's beta v2 had ToImageTensor): before
# it, these two are None.
HAS_V2 = hasattr(v2, "ToImage")
train_transform_v2 = (
    None
    if not HAS_V2
    else InputChecked(
        v2.Compose(
            [
                v2.RandomResizedCrop(size=224, scale=(0.08, 1.0), antialias=True),
                v2.RandomHorizontalFlip(),
                v2.ToImage(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(mean=MEAN, std=STD),
            ]
        )
    )
)
val_transform_v2 = (
    None
    if not HAS_V2
    else InputChecked(
        v2.Compose(
            [
                v2.Resize(256, antialias=True),
                v2.CenterCrop(224),
                v2.ToImage(),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(mean=MEAN, std=STD),
            ]
        )
    )
)
