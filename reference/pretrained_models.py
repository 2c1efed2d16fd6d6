"""Pretained models — torchvision.models, VGG16 feature extraction, and pretrainedmodels.

Real ImageNet weights need the internet. Everything here works with ``weights=None``
(random initialisation) or with a state dict served from a ``file://`` URL, through the
same ``torch.hub`` loading path the real weights take.
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torchvision.transforms as transforms
from torchvision import models

from reference import checkpoint

#: The note's val_transform (常用训练和验证数据预处理), which is ImageNet evaluation.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg16(weights=None) -> models.VGG:
    """torchvision's VGG16; ``weights=None`` builds it with random weights, downloading nothing.

    Beyond the note: its torchvision.models section is only links; ``pretrained=True`` of
    that time is ``weights=models.VGG16_Weights.IMAGENET1K_V1`` since torchvision 0.13.
    """
    return models.vgg16(weights=weights)


def resnet18(weights=None) -> models.ResNet:
    """torchvision's ResNet-18 (``weights=None``: random weights, nothing downloaded).

    Beyond the note: its torchvision.models section is only links.
    """
    return models.resnet18(weights=weights)


def vgg16_conv_features(model: models.VGG, images: torch.Tensor) -> torch.Tensor:
    """The article's first extractor: ``model.features`` -> (N, 512, 7, 7) at 224x224,
    with the model switched to ``eval()`` and without building a graph (no_grad).

    Note: "[Pytorch：利用预训练好的VGG16网络提取图片特征]"
    """
    model.eval()
    with torch.no_grad():
        return model.features(images)


def vgg16_fc7(model: models.VGG) -> nn.Sequential:
    """The article's second extractor: the network up to fc7 (after its ReLU), 4096-d,
    as a module in ``eval()`` mode.

    Note: "[Pytorch：利用预训练好的VGG16网络提取图片特征]"

    ``classifier`` is [fc6, ReLU, Dropout, fc7, ReLU, Dropout, fc8]; dropping the last
    two leaves fc7's activations.
    """
    return nn.Sequential(
        model.features, model.avgpool, nn.Flatten(1), *list(model.classifier.children())[:-2]
    ).eval()


def replace_head(model: nn.Module, num_classes: int = 10) -> nn.Module:
    """The model with a new, trainable last layer for ``num_classes`` (``fc`` for a ResNet,
    ``classifier[6]`` for a VGG); everything before it unchanged.

    Note: "[pytorch中的pre-train函数模型引用及修改]"

    Reference only: anything but a torchvision ResNet or VGG is refused with ``TypeError``.
    """
    if isinstance(model, models.ResNet):
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    elif isinstance(model, models.VGG):
        model.classifier[6] = nn.Linear(model.classifier[6].in_features, num_classes)
    else:
        raise TypeError(f"replace_head expects a torchvision ResNet or VGG, got {type(model)}")
    return model


def freeze_backbone(model: nn.Module) -> list[nn.Parameter]:
    """``requires_grad = False`` for everything but the head; returns the head's parameters
    (the ones to give the optimizer).

    Note: "[pytorch中的pre-train函数模型引用及修改]"
    """
    head = model.fc if isinstance(model, models.ResNet) else model.classifier[6]
    head_ids = {id(p) for p in head.parameters()}
    for p in model.parameters():
        p.requires_grad = id(p) in head_ids
    return [p for p in model.parameters() if p.requires_grad]


def load_weights_from_url(url: str, model_dir: str | os.PathLike) -> dict:
    """The state dict at ``url``, through torch.hub's download, cache and hash check.

    Beyond the note: ``torch.hub.load_state_dict_from_url`` with the hash check on, and
    tensors only (``reference.checkpoint``: torch.hub itself defaults to
    ``weights_only=False``). ``model_dir`` is the cache.
    """
    return checkpoint.load_state_dict_from_url(url, model_dir=model_dir, check_hash=True)


def note_val_transform() -> transforms.Compose:
    """The note's val_transform, which is ImageNet evaluation: what VGG16's weights expect.

    Note: "torchvision.transforms.Resize(256), torchvision.transforms.CenterCrop(224),"
    """
    return transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(mean=IMAGENET_MEAN, std=IMAGENET_STD),
        ]
    )
