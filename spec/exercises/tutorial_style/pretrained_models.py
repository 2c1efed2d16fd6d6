"""Pretrained models, the way the note's two linked articles use torchvision.models."""

import torch
import torch.nn as nn
import torchvision
from torchvision import models, transforms


def vgg16(weights=None):
    return models.vgg16(weights=weights)


def resnet18(weights=None):
    return models.resnet18(weights=weights)


def vgg16_conv_features(model, images):
    model.eval()
    with torch.no_grad():
        features = model.features(images)
    return features


def vgg16_fc7(model):
    # keep everything up to fc7 and its ReLU: drop the classifier's Dropout and fc8
    model.classifier = nn.Sequential(*list(model.classifier.children())[:-2])
    return model.eval()


def replace_head(model, num_classes=10):
    if hasattr(model, "fc"):
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    else:
        model.classifier[6] = nn.Linear(4096, num_classes)
    return model


def freeze_backbone(model):
    for param in model.parameters():
        param.requires_grad = False
    head = model.fc if hasattr(model, "fc") else model.classifier[6]
    for param in head.parameters():
        param.requires_grad = True
    return list(head.parameters())


def load_weights_from_url(url, model_dir):
    return torch.hub.load_state_dict_from_url(
        url, model_dir=model_dir, check_hash=True, weights_only=True
    )


def note_val_transform():
    return torchvision.transforms.Compose(
        [
            transforms.Resize(256),
            transforms.CenterCrop(224),
            transforms.ToTensor(),
            transforms.Normalize(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)),
        ]
    )
