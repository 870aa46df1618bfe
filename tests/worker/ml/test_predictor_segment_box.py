"""Predictor.segment_box: the user's box as the ROI heads' only proposal, on a tiny model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from radlabel.rle import decode_mask
from worker.ml.checkpoint import save_weights_atomic
from worker.ml.model import build_model, model_config
from worker.ml.predictor import Predictor

BOX = [10.0, 20.0, 34.0, 40.0]  # x1, y1, x2, y2 on a 64² image


@pytest.fixture
def predictor(tmp_path):
    """A random tiny model whose heads are set to answer class 2: its box score near 1 and its
    mask logits high everywhere, so the pasted mask is the box itself. It works at 128 px, so
    the 64² image is resized on the way in and the box with it."""
    config = model_config(num_classes=3, min_size=128, max_size=128)
    model = build_model(**config)
    with torch.no_grad():
        heads = model.roi_heads
        heads.box_predictor.cls_score.weight.zero_()
        heads.box_predictor.cls_score.bias.copy_(torch.tensor([0.0, -10.0, 10.0]))
        heads.mask_predictor.mask_fcn_logits.weight.zero_()
        heads.mask_predictor.mask_fcn_logits.bias.copy_(torch.tensor([0.0, -10.0, 10.0]))
    state = {"model": model.state_dict(), "config": config, "class_names": ["a", "b"]}
    path = tmp_path / "m.pt"
    return Predictor(path, expected_sha256=save_weights_atomic(state, path))


def _box_mask() -> np.ndarray:
    mask = np.zeros((64, 64), bool)
    mask[20:40, 10:34] = True
    return mask


def test_the_chosen_class_on_exactly_the_box_is_pasted_back_into_the_image(predictor):
    image = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    found = predictor.segment_box(image, BOX, 2)
    assert found.score > 0.99
    mask = decode_mask(found.mask_rle).astype(bool)
    assert found.mask_rle["size"] == [64, 64]
    expected = _box_mask()
    iou = (mask & expected).sum() / (mask | expected).sum()
    assert iou > 0.9, iou
    assert not mask[:, :8].any() and not mask[:, 36:].any(), "nothing far outside the box"


def test_another_class_gets_its_own_mask_and_score(predictor):
    image = np.zeros((64, 64), np.float32)
    found = predictor.segment_box(image, BOX, 1)
    assert found.score < 0.01
    assert not decode_mask(found.mask_rle).any()
